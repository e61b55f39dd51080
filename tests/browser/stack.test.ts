import type { Browser } from 'playwright-core';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack, type StackNode } from '../../infra/stack/stack.js';
import {
  createRoom,
  enterAdmittedAutomatically,
  enterAsFacilitator,
  eventually,
  icePaths,
  inboundByPeer,
  launchChromium,
  newMember,
  peerNames,
  setAutoAdmit,
  tileConnection,
  type Member,
} from '../support/browser.js';
import { expectFlowing, expectSilent, queueNames, seatMemberId } from '../support/room-checks.js';
import { REDIS_URL } from '../support/signal-client.js';

/*
 * The deployment, run for real on this machine (#10 item 5): Caddy terminating TLS in front of
 * two signalling nodes on one Redis, coturn as the relay. A facilitator and two members meet
 * over HTTPS through the proxy, one member relay-only through coturn; the facilitator's mute
 * holds for everyone. Then the room's home node is killed with SIGKILL: the room carries on on
 * the other node with the same people, seats and holds, and media flows again for everyone.
 */

const FLOW = { sampleMs: 1500, timeoutMs: 60_000 };
const SILENCE = { sampleMs: 2000, timeoutMs: 20_000 };
const NAMES = ['Ada', 'Bea', 'Cyd'] as const;

interface StoredRoom {
  home?: { node: string; name: string } | null;
  members: Record<string, { node: string | null; connectionId: string | null }>;
  floor: { queue: string[] };
}

describe('the stack: HTTPS proxy, two signalling nodes, coturn', () => {
  let stack: Stack;
  let browser: Browser;
  let redis: RedisClientType;
  const people: Record<(typeof NAMES)[number], Member> = {} as never;
  let roomId: string;

  /** The room as Redis holds it: its document, and its home in fields of its own (which only claims write). */
  const stored = async (): Promise<StoredRoom> => {
    const [doc, node, name] = await redis.hmGet(`${stack.prefix}room:${roomId}`, ['doc', 'home', 'homeName']);
    const state = JSON.parse(doc!) as StoredRoom;
    return { ...state, home: node ? { node, name: name ?? '' } : null };
  };
  const homeNode = async (): Promise<StackNode> => {
    const home = (await stored()).home;
    const node = stack.nodes.find((n) => n.name === home?.name);
    if (!node) throw new Error(`no home node for the room (${JSON.stringify(home)})`);
    return node;
  };

  beforeAll(async () => {
    redis = createClient({ url: REDIS_URL });
    redis.on('error', () => undefined);
    await redis.connect();
    stack = await startStack({ env: { SEAT_GRACE_SECONDS: '120' } });
    // Only the test trusts the stack's local CA blindly; the product sets no such thing.
    browser = await launchChromium(['--ignore-certificate-errors']);
    for (const name of NAMES) people[name] = await newMember(browser, stack.url);
    // Cyd's network lets only the relay through.
    await people.Cyd.context.addInitScript(() => window.localStorage.setItem('group-room:relay-only', '1'));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (redis?.isOpen) {
      for await (const keys of redis.scanIterator({ MATCH: `${stack?.prefix ?? 'none:'}*`, COUNT: 100 })) if (keys.length) await redis.del(keys);
      await redis.close();
    }
  });

  it('serves a session over HTTPS through the proxy, with a relay-only member and a mute that holds', async () => {
    const { Ada: ada, Bea: bea, Cyd: cyd } = people;
    const { facilitatorUrl, inviteUrl } = await createRoom(ada, 'Stack group');
    expect(facilitatorUrl.startsWith(stack.url)).toBe(true);
    roomId = new URL(facilitatorUrl).pathname.split('/').pop()!;
    await enterAsFacilitator(ada, facilitatorUrl, 'Ada');
    await setAutoAdmit(ada.page, true);
    await enterAdmittedAutomatically(bea, inviteUrl, 'Bea');
    const cydStarted = performance.now();
    await enterAdmittedAutomatically(cyd, inviteUrl, 'Cyd');
    // Join → first frame decoded from someone, for the member whose media goes through coturn.
    await eventually(async () => expect((await inboundByPeer(cyd.page)).some((s) => s.kind === 'video' && s.framesDecoded > 0)).toBe(true), 60_000, 50);
    console.warn(`stack: relay-only member join → first remote video frame ${Math.round(performance.now() - cydStarted)} ms (from pressing Continue on the entry form)`);

    for (const name of NAMES) {
      const others = NAMES.filter((n) => n !== name);
      await eventually(async () => expect((await peerNames(people[name].page)).sort()).toEqual([...others]));
      for (const other of others) await expectFlowing(people[name].page, other, 'video', `${name} sees ${other}`, FLOW);
    }
    await eventually(async () => {
      const paths = await icePaths(cyd.page);
      expect(paths.length).toBe(2);
      for (const p of paths) expect(p.candidateType).toBe('relay');
    });

    // Every socket of the room is served by its home node, through the proxy.
    const state = await stored();
    const home = await homeNode();
    const homeId = state.home!.node;
    expect(Object.values(state.members).map((m) => m.node)).toEqual([homeId, homeId, homeId]);

    // Raised hands (Bea) and the facilitator's mute of Bea.
    await ada.page.getByRole('button', { name: 'Raised hands', exact: true }).click();
    await bea.page.getByRole('button', { name: 'Raise hand', exact: true }).click();
    await eventually(async () => expect(await queueNames(ada.page)).toEqual(['Bea']));
    await ada.page.getByRole('button', { name: 'Mute Bea', exact: true }).click();
    await eventually(async () => expect(await bea.page.locator('main').innerText()).toContain('Muted by the facilitator'));
    await expectSilent(cyd.page, 'Bea', 'Cyd does not hear muted Bea', SILENCE);
    await expectSilent(ada.page, 'Bea', 'Ada does not hear muted Bea', SILENCE);
    expect(home.name).toMatch(/^[ab]$/);
  });

  it('carries on on the other node when the home node is killed: same seats and holds, media again for everyone', async () => {
    const { Ada: ada, Bea: bea, Cyd: cyd } = people;
    const ids = { Ada: await seatMemberId(ada.page), Bea: await seatMemberId(bea.page), Cyd: await seatMemberId(cyd.page) };
    const home = await homeNode();
    const other = stack.nodes.find((n) => n !== home)!;
    const baseline = new Map<string, number>();
    for (const name of NAMES) for (const s of await inboundByPeer(people[name].page)) if (s.kind === 'video') baseline.set(`${name}<${s.peerName}`, s.framesDecoded);

    const killedAt = performance.now();
    await home.kill();

    // Media again for every member from every other: a frame decoded on a stream that was not there before the kill.
    const flowingAgain = new Map<string, number>();
    await eventually(
      async () => {
        for (const name of NAMES) {
          for (const s of await inboundByPeer(people[name].page)) {
            const key = `${name}<${s.peerName}`;
            if (s.kind !== 'video' || flowingAgain.has(key)) continue;
            // New consumers start their counts from zero: a fresh stream with frames decoded.
            if (s.framesDecoded > 0 && s.framesDecoded < (baseline.get(key) ?? 0)) flowingAgain.set(key, Math.round(performance.now() - killedAt));
          }
        }
        expect(flowingAgain.size, JSON.stringify([...flowingAgain])).toBe(6);
      },
      90_000,
      100,
    );
    console.warn(`stack: home node killed (SIGKILL) → video decoded again at ${[...flowingAgain].map(([k, ms]) => `${k} ${ms} ms`).join(', ')}`);

    // The room lives on the other node now, with the same people in the same seats.
    const state = await stored();
    expect(state.home?.name).toBe(other.name);
    for (const name of NAMES) {
      expect(await seatMemberId(people[name].page), `${name}: the same seat`).toBe(ids[name]);
      await people[name].page.locator('main[data-status="joined"][data-connection="online"]').waitFor({ timeout: 30_000 });
      expect(state.members[ids[name]]?.node ?? null).toBe(state.home!.node);
    }
    // Holds kept: Bea's raised hand and her mute.
    await eventually(async () => expect(await queueNames(ada.page)).toEqual(['Bea']));
    await eventually(async () => expect(await bea.page.locator('main').innerText()).toContain('Muted by the facilitator'));
    await expectSilent(cyd.page, 'Bea', 'Cyd still does not hear muted Bea', SILENCE);
    for (const name of NAMES) {
      for (const peer of NAMES.filter((n) => n !== name)) {
        await eventually(async () => expect(await tileConnection(people[name].page, peer)).toBe('online'));
        await expectFlowing(people[name].page, peer, 'video', `${name} sees ${peer} after the failover`, FLOW);
      }
    }
    // (Raised hands: only the facilitator speaks; Cyd hears her through the relay.)
    await expectFlowing(cyd.page, 'Ada', 'audio', 'Cyd hears Ada (relayed) after the failover', FLOW);
    for (const p of await icePaths(cyd.page)) expect(p.candidateType).toBe('relay');
  });
});
