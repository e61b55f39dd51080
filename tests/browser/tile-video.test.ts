import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRoom,
  enterAdmittedAutomatically,
  enterAsFacilitator,
  eventually,
  inboundByPeer,
  launchChromium,
  newMember,
  outboundVideoLayers,
  pause,
  peerNames,
  setAutoAdmit,
  type Member,
} from '../support/browser.js';
import { mediasoupWorkerPids, startProductionServer, type RunningServer } from '../support/prod-server.js';
import { bytesFrom, expectFlowing, expectStopped, type Sampling } from '../support/room-checks.js';

/*
 * Video sized to its tile, in headless Chromium against the production build and a real
 * mediasoup worker: cameras are sent in simulcast layers, a receiver gets the layer its tile
 * needs (the speaker's large tile a sharper one than the small tiles), and a tile scrolled
 * out of view receives no video at all until it is back.
 */

const FLOW: Sampling = { sampleMs: 1500, timeoutMs: 30_000 };
const STOPPED: Sampling = { sampleMs: 2000, timeoutMs: 20_000 };

const tile = (page: Page, name: string) => page.locator(`[data-testid="peer-tile"][data-peer-name="${name}"]`);

/** The tile's height in device pixels, as the page reports it to the server. */
async function tileHeight(page: Page, name: string): Promise<number> {
  return tile(page, name).evaluate((el) => Math.round(el.getBoundingClientRect().height * window.devicePixelRatio));
}

/** The height of the frames `page` receives from `name` now (0 before any). */
async function receivedHeight(page: Page, name: string): Promise<number> {
  return (await inboundByPeer(page)).find((s) => s.peerName === name && s.kind === 'video')?.frameHeight ?? 0;
}

/** The id of the video track `page` shows in `name`'s tile (a new one each time media is made again). */
async function videoTrackId(page: Page, name: string): Promise<string | undefined> {
  return tile(page, name)
    .locator('video')
    .evaluate((video) => ((video as HTMLVideoElement).srcObject as MediaStream | null)?.getVideoTracks()[0]?.id);
}

/** The received frame height once it holds still (the same in two samples a second apart) and `accept` takes it. */
async function steadyHeight(page: Page, name: string, accept: (height: number) => boolean): Promise<number> {
  let last = -1;
  let steady = 0;
  await eventually(
    async () => {
      const height = await receivedHeight(page, name);
      const held = height === last;
      last = height;
      expect(held && height > 0 && accept(height), `frames from ${name} hold at an acceptable height (now ${height})`).toBe(true);
      steady = height;
    },
    40_000,
    1000,
  );
  return steady;
}

describe('video sized to its tile', () => {
  let server: RunningServer;
  let browser: Browser;
  let ada: Member;
  let bea: Member;
  let cyd: Member;

  beforeAll(async () => {
    server = await startProductionServer();
    browser = await launchChromium();
    [ada, bea, cyd] = [await newMember(browser, server.url), await newMember(browser, server.url), await newMember(browser, server.url)];
    const { facilitatorUrl, inviteUrl } = await createRoom(ada, 'Friday group');
    await enterAsFacilitator(ada, facilitatorUrl, 'Ada');
    await setAutoAdmit(ada.page, true);
    await enterAdmittedAutomatically(bea, inviteUrl, 'Bea');
    await enterAdmittedAutomatically(cyd, inviteUrl, 'Cyd');
    await eventually(async () => expect((await peerNames(cyd.page)).sort()).toEqual(['Ada', 'Bea']));
    await expectFlowing(cyd.page, 'Bea', 'video', 'Cyd sees Bea', FLOW);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('a camera is sent as simulcast layers of different sizes', async () => {
    let layers = await outboundVideoLayers(bea.page);
    await eventually(async () => {
      const before = new Map(layers.map((l) => [l.rid, l.bytesSent]));
      await pause(1000);
      layers = await outboundVideoLayers(bea.page);
      const sending = layers.filter((l) => l.frameHeight > 0 && l.bytesSent > (before.get(l.rid) ?? 0));
      expect(new Set(sending.map((l) => l.frameHeight)).size, 'layers of at least two sizes are sent').toBeGreaterThanOrEqual(2);
    }, 30_000);
    console.warn(`Bea's camera layers as Chromium sends them: ${layers.map((l) => `${l.rid || '-'} ${l.frameHeight}p`).join(', ')}`);
    expect(layers.every((l) => l.rid !== ''), 'every video stream is a simulcast layer').toBe(true);
  });

  it("the speaker's large tile receives a sharper layer than the same receiver's small tiles", async () => {
    // Open floor: three equal tiles, three to a row.
    await cyd.page.setViewportSize({ width: 900, height: 700 });
    await eventually(async () => expect(await tileHeight(cyd.page, 'Bea')).toBeLessThan(170));
    const smallTile = await tileHeight(cyd.page, 'Bea');
    const small = await steadyHeight(cyd.page, 'Bea', () => true);

    // Bea is given the floor: on Cyd's page her tile spans two columns and two rows.
    await ada.page.getByRole('button', { name: 'Raised hands', exact: true }).click();
    await ada.page.getByLabel('Give the floor to someone without a raised hand').selectOption({ label: 'Bea' });
    await ada.page.getByRole('button', { name: 'Give them the floor', exact: true }).click();
    await eventually(async () => expect(await tileHeight(cyd.page, 'Bea')).toBeGreaterThan(smallTile * 1.5));
    const largeTile = await tileHeight(cyd.page, 'Bea');
    const large = await steadyHeight(cyd.page, 'Bea', (height) => height > small);

    console.warn(`Cyd receives Bea at ${small}p in a ${smallTile} px tile, at ${large}p in her ${largeTile} px speaker tile`);
    expect(large).toBeGreaterThan(small);
    // Ada's tile stayed small: she is still sent a small layer.
    expect(await tileHeight(cyd.page, 'Ada')).toBeLessThan(largeTile);
  });

  it('a tile scrolled out of view receives no video (also once its media is made again) until it is back; its sound goes on', async () => {
    // Something tall under the room, so the tiles can be scrolled away.
    await cyd.page.evaluate(() => {
      const spacer = document.createElement('div');
      spacer.id = 'test-spacer';
      spacer.style.height = '3000px';
      document.body.append(spacer);
      window.scrollTo(0, document.documentElement.scrollHeight);
    });
    await eventually(async () => expect(await tile(cyd.page, 'Bea').evaluate((el) => el.getBoundingClientRect().bottom < 0)).toBe(true));

    await expectStopped(cyd.page, 'Bea', 'video', "Bea's tile out of view", STOPPED);
    await expectStopped(cyd.page, 'Ada', 'video', "Ada's tile out of view", STOPPED);
    // Bea holds the floor: her voice still reaches Cyd.
    await expectFlowing(cyd.page, 'Bea', 'audio', 'Cyd hears Bea with her tile out of view', FLOW);
    // Others whose tiles are on screen still receive her video.
    await expectFlowing(ada.page, 'Bea', 'video', "Ada's tile of Bea is on screen", FLOW);

    // The media worker dies and every page makes its media again: Cyd's new consumer of Bea's
    // video is told before it starts that her tile is out of view.
    const lostTrack = await videoTrackId(cyd.page, 'Bea');
    const [worker] = mediasoupWorkerPids(server.child.pid!);
    process.kill(worker!, 'SIGKILL');
    await eventually(async () => {
      const track = await videoTrackId(cyd.page, 'Bea');
      expect(track !== undefined && track !== lostTrack, 'a new video track from Bea').toBe(true);
    }, 60_000);
    await expectFlowing(cyd.page, 'Bea', 'audio', 'Cyd hears Bea again after the worker was replaced', FLOW);
    await expectFlowing(ada.page, 'Bea', 'video', 'Ada sees Bea again after the worker was replaced', FLOW);
    const before = (await bytesFrom(cyd.page, 'Bea', 'video')) ?? 0;
    await pause(STOPPED.sampleMs);
    expect((await bytesFrom(cyd.page, 'Bea', 'video')) ?? 0, "no video for Bea's tile, still out of view").toBe(before);
    expect(before, 'none at all since it was made again').toBe(0);

    await cyd.page.evaluate(() => window.scrollTo(0, 0));
    await expectFlowing(cyd.page, 'Bea', 'video', "Bea's tile back in view", FLOW);
    await expectFlowing(cyd.page, 'Ada', 'video', "Ada's tile back in view", FLOW);
    await cyd.page.evaluate(() => document.getElementById('test-spacer')?.remove());
  });

  it('at 375 px wide the speaker tile fills the width and nothing overflows', async () => {
    await cyd.page.setViewportSize({ width: 375, height: 700 });
    await eventually(async () => {
      const { page, grid, speaker } = await cyd.page.evaluate(() => {
        const bea = document.querySelector('[data-testid="peer-tile"][data-peer-name="Bea"]')?.getBoundingClientRect();
        const section = document.querySelector('section.grid')?.getBoundingClientRect();
        return { page: document.documentElement.scrollWidth, grid: section?.width ?? 0, speaker: bea?.width ?? 0 };
      });
      expect(page).toBeLessThanOrEqual(375);
      expect(speaker).toBeCloseTo(grid, 0);
    });
    await expectFlowing(cyd.page, 'Bea', 'video', 'Cyd sees Bea at 375 px', FLOW);
  });
});
