import { randomBytes, randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRoom,
  enterAdmittedAutomatically,
  enterAsFacilitator,
  eventually,
  launchChromium,
  newMember,
  peerNames,
  setAutoAdmit,
  type Member,
} from '../support/browser.js';
import { freePort, startProductionServer, type RunningServer } from '../support/prod-server.js';
import { expectFlowing, queueNames, storedSeatMemberId, tileConnection, type Sampling } from '../support/room-checks.js';

/*
 * The signalling server is killed (kill -9) or stopped (SIGTERM) during a session and
 * started again on the same address, as a supervisor would. With Redis, everyone resumes
 * their seat by themselves: same person, same place, same holds, media rebuilt on the new
 * process; a seat whose person never comes back is freed after the grace period, although
 * the node that held it is dead. Without Redis (the embedded default) the room is gone and
 * the page says so plainly.
 */

const REDIS_URL = 'redis://127.0.0.1:6379';
const GRACE_SECONDS = 12;
/** Media flows: bytes read 1.2 s apart grow, within 60 s (a whole new process to rebuild on). */
const FLOW: Sampling = { sampleMs: 1200, timeoutMs: 60_000 };
describe('the server restarts during a session, with Redis', () => {
  const prefix = `group-room-test:${process.pid}:${randomUUID()}:`;
  const env = {
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    TOKEN_SECRET: randomBytes(32).toString('hex'),
    SEAT_GRACE_SECONDS: String(GRACE_SECONDS),
    PORT: '',
  };
  let server: RunningServer;
  let browser: Browser;
  let ada: Member;
  let bea: Member;
  let cyd: Member;
  const ids = new Map<Member, string | null>();

  async function expectBack(what: string): Promise<void> {
    for (const person of [ada, bea]) {
      await person.page.locator('main[data-status="joined"][data-connection="online"]').waitFor({ timeout: 60_000 });
      expect(await storedSeatMemberId(person.page), `${what}: the same member id`).toBe(ids.get(person));
    }
    await eventually(async () => expect(await queueNames(ada.page), `${what}: Bea's hand`).toEqual(['Bea']), 30_000);
    await eventually(async () => expect(await bea.page.locator('main').innerText(), `${what}: Bea still muted`).toContain('Muted by the facilitator'));
    await expectFlowing(ada.page, 'Bea', 'video', `${what}: Ada sees Bea`, FLOW);
    await expectFlowing(bea.page, 'Ada', 'video', `${what}: Bea sees Ada`, FLOW);
    await expectFlowing(bea.page, 'Ada', 'audio', `${what}: Bea hears Ada`, FLOW);
  }

  beforeAll(async () => {
    env.PORT = String(await freePort());
    server = await startProductionServer(env);
    browser = await launchChromium();
    [ada, bea, cyd] = [await newMember(browser, server.url), await newMember(browser, server.url), await newMember(browser, server.url)];
    const { facilitatorUrl, inviteUrl } = await createRoom(ada, 'Restart group');
    await enterAsFacilitator(ada, facilitatorUrl, 'Ada');
    await setAutoAdmit(ada.page, true);
    await enterAdmittedAutomatically(bea, inviteUrl, 'Bea');
    await enterAdmittedAutomatically(cyd, inviteUrl, 'Cyd');
    await eventually(async () => expect((await peerNames(ada.page)).sort()).toEqual(['Bea', 'Cyd']));
    for (const person of [ada, bea, cyd]) ids.set(person, await storedSeatMemberId(person.page));
    await ada.page.getByRole('button', { name: 'Raised hands', exact: true }).click();
    await bea.page.getByRole('button', { name: 'Raise hand', exact: true }).click();
    await eventually(async () => expect(await queueNames(ada.page)).toEqual(['Bea']));
    await ada.page.getByRole('button', { name: 'Mute Bea', exact: true }).click();
    await eventually(async () => expect(await bea.page.locator('main').innerText()).toContain('Muted by the facilitator'));
    await expectFlowing(ada.page, 'Bea', 'video', 'before the restart', FLOW);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    const redis = createClient({ url: REDIS_URL });
    await redis.connect();
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) if (keys.length) await redis.del(keys);
    await redis.close();
  });

  it('kill -9 and start again: everyone resumes by themselves; a seat whose person never returns is freed after the grace period', async () => {
    await server.kill();
    for (const person of [ada, bea]) await person.page.locator('main[data-connection="reconnecting"]').waitFor();
    // Cyd's laptop closes while the server is down: she never comes back.
    await cyd.context.close();
    server = await startProductionServer(env);
    await expectBack('after kill -9');

    // Cyd's seat: away on the restarted node's first sweep (it took its predecessor's rooms at once, by name), then freed after the grace period.
    await eventually(async () => expect(await tileConnection(ada.page, 'Cyd')).toBe('reconnecting'), 30_000);
    await eventually(async () => expect(await peerNames(ada.page)).toEqual(['Bea']), (GRACE_SECONDS + 20) * 1000, 500);
    await eventually(async () => expect(await ada.page.getByTestId('member-list').innerText()).not.toContain('Cyd'));
  });

  it('SIGTERM: clients are told the server is going away (not that the session ended) and resume on the next process', async () => {
    const stopping = server.stop();
    await eventually(async () => expect(await bea.page.getByTestId('reconnecting').innerText()).toMatch(/server is restarting/i), 10_000, 50);
    await stopping;
    for (const person of [ada, bea]) expect(await person.page.locator('main').getAttribute('data-status')).toBe('joined');
    server = await startProductionServer(env);
    await expectBack('after SIGTERM');
    expect(server.output()).not.toMatch(/session ended/);
  });
});

describe('the server restarts during a session, without Redis (the embedded default)', () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startProductionServer({ PORT: String(await freePort()) });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('the room is gone with the process: the page says so instead of retrying for ever', async () => {
    const ada = await newMember(browser, server.url);
    const { facilitatorUrl } = await createRoom(ada, 'Memory group');
    await enterAsFacilitator(ada, facilitatorUrl, 'Ada');
    const port = new URL(server.url).port;
    await server.kill();
    await ada.page.locator('main[data-connection="reconnecting"]').waitFor();
    server = await startProductionServer({ PORT: port });
    await eventually(async () => expect(await ada.page.locator('main').innerText()).toContain('This session is no longer available'), 30_000);
    expect(await ada.page.locator('main').getAttribute('data-status')).not.toBe('joined');
  });
});
