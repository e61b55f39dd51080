import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoom, enterAdmittedAutomatically, enterAsFacilitator, eventually, inboundByPeer, launchChromium, newMember, setAutoAdmit, type Member } from '../support/browser.js';
import { startProductionServer, type RunningServer } from '../support/prod-server.js';

/*
 * A newcomer joining two people already in the room, in headless Chromium against the
 * production build: the page marks each step of its join on its performance timeline
 * (join-timeline.ts; the bench reads them), and it sets up everything the others send in one
 * exchange: the consumers `media:ready` lists, resumed with one `consumers:resume` that carries
 * each video's tile size, and no `consumer:resume` one at a time.
 */

/** Keep every text frame the page sends on its WebSockets (in `window.__framesOut`). */
const recordSentFrames = () => {
  const w = window as unknown as { __framesOut: string[] };
  w.__framesOut = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (this: WebSocket, data: string | ArrayBufferLike | Blob | ArrayBufferView) {
    if (typeof data === 'string') w.__framesOut.push(data);
    return send.call(this, data);
  };
};

/** The Socket.IO requests a page sent, decoded: `42<ack id>[name, payload]`. */
async function sentRequests(page: Page): Promise<[string, unknown][]> {
  const frames = await page.evaluate(() => (window as unknown as { __framesOut: string[] }).__framesOut);
  return frames.flatMap((frame) => {
    const match = /^42\d*(\[.*)$/s.exec(frame);
    return match?.[1] ? [JSON.parse(match[1]) as [string, unknown]] : [];
  });
}

/** The page's join marks in the order they were made: [step, ms since navigation start]. */
async function joinMarks(page: Page): Promise<[string, number][]> {
  return page.evaluate(() =>
    performance
      .getEntriesByType('mark')
      .filter((m) => m.name.startsWith('join:'))
      .map((m): [string, number] => [m.name.slice('join:'.length), m.startTime]),
  );
}

/** Whether `page` decodes video from each of `names`. */
async function decodesVideoFrom(page: Page, names: string[]): Promise<void> {
  const samples = await inboundByPeer(page);
  for (const name of names) {
    expect(samples.some((s) => s.peerName === name && s.kind === 'video' && s.framesDecoded > 0), `${name}'s video decoded`).toBe(true);
  }
}

/** The steps that follow one another on every join through the invite link, in this order. */
const IN_ORDER = ['script', 'socket', 'entered', 'agreed', 'admitted', 'media-join', 'recv-transport', 'consumers-listed', 'consumers-made', 'consumers-resumed'];

describe('a newcomer joining a room with others', () => {
  let server: RunningServer;
  let browser: Browser;
  let ada: Member;
  let bea: Member;
  let cyd: Member;

  beforeAll(async () => {
    server = await startProductionServer();
    browser = await launchChromium();
    [ada, bea, cyd] = [await newMember(browser, server.url), await newMember(browser, server.url), await newMember(browser, server.url)];
    const { facilitatorUrl, inviteUrl } = await createRoom(ada, 'Tuesday group');
    await enterAsFacilitator(ada, facilitatorUrl, 'Ada');
    await setAutoAdmit(ada.page, true);
    await enterAdmittedAutomatically(bea, inviteUrl, 'Bea');
    await eventually(() => decodesVideoFrom(bea.page, ['Ada']), 30_000);
    await eventually(() => decodesVideoFrom(ada.page, ['Bea']), 30_000);
    await cyd.context.addInitScript(recordSentFrames);
    await enterAdmittedAutomatically(cyd, inviteUrl, 'Cyd');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("sees the others' video, each tile's first frame marked", async () => {
    await eventually(() => decodesVideoFrom(cyd.page, ['Ada', 'Bea']), 30_000);
    await eventually(async () => expect((await joinMarks(cyd.page)).filter(([step]) => step.startsWith('frame:'))).toHaveLength(2), 30_000);
  });

  it('marks every step of its join, in order', async () => {
    const marks = await joinMarks(cyd.page);
    process.stdout.write(`join timeline (ms since navigation): ${marks.map(([step, at]) => `${step} ${at.toFixed(0)}`).join(', ')}\n`);
    const steps = marks.map(([step]) => step);
    // Each once (only a step's first time is marked).
    expect(new Set(steps).size).toBe(steps.length);
    const ordered = IN_ORDER.map((step) => steps.indexOf(step));
    expect(ordered, `steps in order (${steps.join(', ')})`).toEqual([...ordered].sort((a, b) => a - b));
    expect(ordered).not.toContain(-1);
    for (const step of ['camera', 'recv-connected', 'key', 'producers']) expect(steps, step).toContain(step);
    expect(steps.indexOf('producers')).toBeGreaterThan(steps.indexOf('media-join'));
    expect(steps.indexOf('recv-connected')).toBeGreaterThan(steps.indexOf('recv-transport'));
    for (const frame of steps.filter((s) => s.startsWith('frame:'))) expect(steps.indexOf(frame)).toBeGreaterThan(steps.indexOf('consumers-made'));
  });

  it("resumes the others' media in one request, each video with its tile's size", async () => {
    const requests = await sentRequests(cyd.page);
    const names = requests.map(([name]) => name);
    expect(names.filter((n) => n === 'consumer:resume')).toEqual([]);
    const batches = requests.filter(([name]) => name === 'consumers:resume').map(([, payload]) => payload as { consumers: { consumerId: string; preference?: { visible: boolean; height: number } }[] });
    expect(batches).toHaveLength(1);
    // Ada's and Bea's microphone and camera.
    const consumers = batches[0]!.consumers;
    expect(consumers).toHaveLength(4);
    const withSize = consumers.filter((c) => c.preference);
    expect(withSize).toHaveLength(2);
    for (const { preference } of withSize) expect(preference!.height).toBeGreaterThan(0);
    // media:ready told the server the tile size too.
    const ready = requests.find(([name]) => name === 'media:ready')?.[1] as { tileHeight?: number } | undefined;
    expect(ready?.tileHeight).toBeGreaterThan(0);
  });
});
