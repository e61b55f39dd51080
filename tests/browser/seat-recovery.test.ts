import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRoom,
  enterAdmittedAutomatically,
  enterAsFacilitator,
  eventually,
  launchChromium,
  newMember,
  peerNames,
  resetStatusHistory,
  setAutoAdmit,
  statusHistory,
  watchStatusesFromStart,
  type Member,
} from '../support/browser.js';
import { mediasoupWorkerPids, startProductionServer, type RunningServer } from '../support/prod-server.js';
import { expectFlowing, expectSilent, pause, queueNames, seatMemberId, tileConnection, type Sampling } from '../support/room-checks.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { io } from 'socket.io-client';

/*
 * A seat outlives its connection, through the UI of the production build in headless
 * Chromium with a real mediasoup worker: Bea's signalling goes through a TCP proxy the test
 * can cut (her media goes straight to the worker, as it would); she reloads her tab; the
 * worker is killed. Each time she must come back as the same person, in the same place in
 * the queue, still muted by the facilitator, without the entry form, the agreement or the
 * waiting room, and media must flow again.
 */

/** Media checks: bytes read 1.2 s apart grow, within 40 s; muted audio stays put over 1.5 s, within 20 s. */
const FLOW: Sampling = { sampleMs: 1200, timeoutMs: 40_000 };
const SILENCE: Sampling = { sampleMs: 1500, timeoutMs: 20_000 };



describe('a seat outlives its connection (browser)', () => {
  let server: RunningServer;
  let proxy: TcpProxy;
  let browser: Browser;
  let ada: Member;
  let bea: Member;
  let cyd: Member;
  let beaId: string;

  /** Where Bea is now, as everyone should still see it. */
  async function expectBeaInPlace(what: string): Promise<void> {
    expect(await seatMemberId(bea.page), `${what}: the same member id`).toBe(beaId);
    await bea.page.locator('main[data-status="joined"][data-connection="online"]').waitFor({ timeout: 60_000 });
    await eventually(async () => expect(await queueNames(ada.page), `${what}: the queue`).toEqual(['Cyd', 'Bea']));
    await eventually(async () => expect(await bea.page.getByTestId('floor-status').innerText(), `${what}: Bea's place`).toMatch(/2nd in queue/));
    await eventually(async () => expect(await bea.page.locator('main').innerText(), `${what}: still muted`).toContain('Muted by the facilitator'));
    await eventually(async () => expect(await tileConnection(ada.page, 'Bea'), `${what}: Ada sees Bea online`).toBe('online'));
    const statuses = await statusHistory(bea.page);
    for (const screen of ['idle', 'agreement', 'waiting', 'error', 'ended']) expect(statuses, `${what}: Bea never saw "${screen}"`).not.toContain(screen);
    // Media again, both ways; her muted microphone still reaches nobody.
    await expectFlowing(ada.page, 'Bea', 'video', `${what}: Ada sees Bea`, FLOW);
    await expectFlowing(bea.page, 'Ada', 'video', `${what}: Bea sees Ada`, FLOW);
    await expectFlowing(bea.page, 'Ada', 'audio', `${what}: Bea hears Ada`, FLOW);
    await expectSilent(cyd.page, 'Bea', `${what}: Cyd does not hear muted Bea`, SILENCE);
  }

  beforeAll(async () => {
    server = await startProductionServer({ SEAT_GRACE_SECONDS: '120' });
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
    browser = await launchChromium();
    ada = await newMember(browser, server.url);
    cyd = await newMember(browser, server.url);
    // Bea reaches the server only through the proxy (same server, another origin).
    bea = await newMember(browser, proxy.url);
    await watchStatusesFromStart(bea.context);

    const { facilitatorUrl, inviteUrl } = await createRoom(ada, 'Seat group');
    await enterAsFacilitator(ada, facilitatorUrl, 'Ada');
    await setAutoAdmit(ada.page, true);
    await enterAdmittedAutomatically(cyd, inviteUrl, 'Cyd');
    await enterAdmittedAutomatically(bea, inviteUrl.replace(server.url, proxy.url), 'Bea');
    await eventually(async () => expect((await peerNames(ada.page)).sort()).toEqual(['Bea', 'Cyd']));
    beaId = await seatMemberId(bea.page);

    // Raised hands, Cyd first then Bea; the facilitator mutes Bea.
    await ada.page.getByRole('button', { name: 'Raised hands', exact: true }).click();
    await cyd.page.getByRole('button', { name: 'Raise hand', exact: true }).click();
    await eventually(async () => expect(await queueNames(ada.page)).toEqual(['Cyd']));
    await bea.page.getByRole('button', { name: 'Raise hand', exact: true }).click();
    await eventually(async () => expect(await queueNames(ada.page)).toEqual(['Cyd', 'Bea']));
    await ada.page.getByRole('button', { name: 'Mute Bea', exact: true }).click();
    await eventually(async () => expect(await bea.page.locator('main').innerText()).toContain('Muted by the facilitator'));
    await expectFlowing(ada.page, 'Bea', 'video', 'before anything breaks', FLOW);
  });

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await server?.stop();
  });

  it('a dropped connection: "reconnecting" for everyone, then back in the same seat by itself', async () => {
    await resetStatusHistory(bea.page);
    proxy.hold();
    expect(proxy.cut(), 'Bea had a connection through the proxy').toBeGreaterThan(0);
    await bea.page.locator('main[data-connection="reconnecting"]').waitFor();
    await expect(bea.page.getByTestId('reconnecting').innerText()).resolves.toMatch(/Reconnecting/);
    await eventually(async () => expect(await tileConnection(ada.page, 'Bea')).toBe('reconnecting'));
    // Still in the queue while away.
    expect(await queueNames(ada.page)).toEqual(['Cyd', 'Bea']);
    await pause(2000);
    proxy.resume();
    await expectBeaInPlace('after a drop');
  });

  it('a reload of the tab lands straight back in the room', async () => {
    // The link's token was dropped from the address bar and history once read: the reload is
    // of the bare path, and the tab's kept seat takes her back.
    expect(bea.page.url(), 'no token in the address bar').not.toContain('#k=');
    expect(ada.page.url(), 'no token in the facilitator\'s address bar').not.toContain('#k=');
    // The facilitator's links panel still offers her link (kept in memory), and replacing it shows a new one.
    const facilitatorLink = ada.page.getByTestId('room-facilitator-link');
    const before = await facilitatorLink.inputValue();
    expect(before).toContain('#k=');
    await ada.page.getByRole('button', { name: 'Replace the facilitator link', exact: true }).click();
    await eventually(async () => expect(await facilitatorLink.inputValue()).not.toBe(before));
    expect(await facilitatorLink.inputValue()).toContain('#k=');
    await bea.page.reload();
    await expectBeaInPlace('after a reload');
    expect(await statusHistory(bea.page)).not.toContain('idle');
  });

  it('a duplicated tab is told the session is open in another tab, and the original keeps the seat', async () => {
    await resetStatusHistory(bea.page);
    // What a browser's "Duplicate tab" amounts to: a new tab of the same browser with a copy of
    // this tab's sessionStorage (the seat's credential and the tab's id with it), opening its address.
    const copied = await bea.page.evaluate(() => Object.entries(sessionStorage));
    expect(copied.map(([key]) => key)).toContainEqual(expect.stringMatching(/^group-room:seat:/));
    const copy = await bea.context.newPage();
    await copy.goto(new URL('/', bea.page.url()).href);
    await copy.evaluate((entries) => {
      for (const [key, value] of entries) sessionStorage.setItem(key, value);
    }, copied);
    await copy.goto(bea.page.url());

    await copy.locator('main[data-status="elsewhere"]').waitFor({ timeout: 30_000 });
    await expect(copy.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('This session is open in another tab');
    // The copy dropped the copied credential: a reload of it would take nothing.
    expect(await copy.evaluate(() => Object.keys(sessionStorage).filter((key) => key.startsWith('group-room:seat:')))).toEqual([]);
    // Asking to carry on there while the original is still open changes nothing.
    await copy.getByRole('button', { name: 'Continue here', exact: true }).click();
    await eventually(async () => expect(await copy.locator('main').innerText()).toContain('still open in another tab'));
    await copy.locator('main[data-status="elsewhere"]').waitFor();

    // The original never left its seat: connected, in place, media both ways; one Bea for the facilitator.
    await expectBeaInPlace('with a copy of her tab open');
    expect(await statusHistory(bea.page), 'the original was never replaced').not.toContain('ended');
    expect(await bea.page.locator('main').getAttribute('data-connection')).toBe('online');
    expect((await peerNames(ada.page)).sort()).toEqual(['Bea', 'Cyd']);
    await copy.close();
  });

  it('once her page has stored its new credential, the one before no longer takes the seat, even while she is away', async () => {
    const credential = () =>
      bea.page.evaluate(() => {
        const key = Object.keys(sessionStorage).find((k) => k.startsWith('group-room:seat:'));
        return key ? (JSON.parse(sessionStorage.getItem(key) ?? '{}') as { credential?: string }).credential : undefined;
      });
    const before = await credential();
    expect(before).toBeDefined();
    const cutBea = async () => {
      proxy.hold();
      expect(proxy.cut(), 'Bea had a connection through the proxy').toBeGreaterThan(0);
      await eventually(async () => expect(await tileConnection(ada.page, 'Bea')).toBe('reconnecting'));
    };
    // A drop: her page resumes with `before`, keeps the new credential and confirms it.
    await cutBea();
    proxy.resume();
    await bea.page.locator('main[data-connection="online"]').waitFor({ timeout: 60_000 });
    await eventually(async () => expect(await credential()).not.toBe(before));
    await pause(1000); // the confirmation follows the answer at once
    // Away again: `before`, as a copy taken earlier would hold it, is refused; hers still works.
    await cutBea();
    const roomId = new URL(bea.page.url()).pathname.split('/').pop()!;
    const replay = io(server.url, { transports: ['websocket'], query: { room: roomId }, reconnection: false });
    try {
      const answer: unknown = await replay.timeout(10_000).emitWithAck('room:resume', { roomId, credential: before });
      expect(answer).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    } finally {
      replay.close();
    }
    proxy.resume();
    await expectBeaInPlace('after a refused replay of her older credential');
  });

  it('a killed media worker: the process goes on, everyone rebuilds their media by themselves', async () => {
    const workers = mediasoupWorkerPids(server.child.pid!);
    expect(workers, 'one mediasoup worker').toHaveLength(1);
    await resetStatusHistory(bea.page);
    process.kill(workers[0]!, 'SIGKILL');
    await eventually(async () => {
      const now = mediasoupWorkerPids(server.child.pid!);
      expect(now).toHaveLength(1);
      expect(now[0]).not.toBe(workers[0]);
    });
    expect(server.child.exitCode, 'the server process is still running').toBeNull();
    await expectBeaInPlace('after the worker was killed');
    await expectFlowing(bea.page, 'Cyd', 'video', 'Bea sees Cyd again', FLOW);
    await expectFlowing(cyd.page, 'Ada', 'audio', 'Cyd hears Ada again', FLOW);
    expect(server.output()).toContain('mediasoup worker replaced');
  });
});
