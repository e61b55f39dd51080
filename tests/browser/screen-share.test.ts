import type { Browser as ChromiumBrowser, Page } from 'playwright-core';
import type { Browser as FirefoxBrowser, Page as FirefoxPage } from 'puppeteer-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSeriousViolations, expectNoSeriousViolationsInFirefox } from '../support/axe.js';
import { CHROMIUM, createRoom, enterAdmittedAutomatically, enterAsFacilitator, eventually, newMember, pause, recordReceivedFrames, setAutoAdmit, type Member } from '../support/browser.js';
import { FIREFOX, FirefoxMember, launchChromiumIn, launchFirefox } from '../support/firefox.js';
import { createNetNamespace, namespaceSupport, startServerInNamespace, type NetNamespace } from '../support/netns.js';
import { consumerOffers, rawRequest, recordPageSockets } from '../support/page-socket.js';
import type { RunningServer } from '../support/prod-server.js';
import { checkPacket, type TappedPacket } from '../support/rtp-envelope.js';

/*
 * Screen sharing through the production build, in one room: Ada facilitates in Chromium, Bea is
 * a member in Chromium, Cyd a member in Firefox ESR (so all of it runs in a network namespace of
 * the test's own, as tests/browser/firefox.test.ts explains; it needs root).
 *
 * The pickers: headless Chromium with --use-fake-ui-for-media-stream answers getDisplayMedia at
 * once; asked with monitorTypeSurfaces 'exclude' it shares a tab (displaySurface 'browser'),
 * without it the whole (fake) screen ('monitor'). Headless Firefox has no screen to capture at
 * all (NotFoundError, whatever the prefs), so Cyd's page stands in for the operating system's
 * picker with a canvas track (getDisplayMedia), and notes every request. Firefox does not report
 * displaySurface, so the product refuses its share (it could be a whole screen) until the
 * facilitator allows a whole screen; it never asks the legacy way (getUserMedia with mediaSource,
 * which newer Firefox may not honour). Everything after the picker (the producer, its encryption
 * in Firefox) is the product's.
 *
 * One room, one `it`, in steps that build on each other (each step says what it leaves behind).
 *
 * The media tap (tests only) records every packet the SFU got: every frame of every share must
 * be an SFrame envelope, as the cameras' are.
 */

const support = namespaceSupport([FIREFOX, CHROMIUM]);

/** Runs in Firefox before the page's scripts: the stand-in for the OS picker (see above). */
const fakePicker = () => {
  const w = window as unknown as { __askedFor?: string[] };
  w.__askedFor = [];
  const picture = () => {
    const canvas = document.createElement('canvas');
    canvas.width = 640;
    canvas.height = 360;
    const g = canvas.getContext('2d')!;
    let n = 0;
    // A "slide" that changes, so frames keep coming.
    setInterval(() => {
      g.fillStyle = `hsl(${(n * 37) % 360} 50% 40%)`;
      g.fillRect(0, 0, 640, 360);
      g.fillStyle = '#fff';
      g.font = '40px sans-serif';
      g.fillText(`Slide ${n++}`, 40, 180);
    }, 100);
    return canvas.captureStream(8);
  };
  const devices = navigator.mediaDevices;
  const getUserMedia = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async (constraints?: MediaStreamConstraints) => {
    const source = (constraints?.video as { mediaSource?: string } | undefined)?.mediaSource;
    if (!source) return getUserMedia(constraints);
    w.__askedFor!.push(source);
    return picture();
  };
  devices.getDisplayMedia = async () => {
    w.__askedFor!.push('any');
    return picture();
  };
};

interface ShareSample {
  peerName: string;
  trackId: string;
  bytes: number;
  frames: number;
  encryption: string;
}

/** Runs in either browser: each shared screen's tile, and what its track has received. */
const sharesInPage = async (): Promise<ShareSample[]> => {
  const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
  const reports = new Map<string, Record<string, unknown>>();
  for (const pc of pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((r: Record<string, unknown>) => {
      if (r['type'] === 'inbound-rtp' && typeof r['trackIdentifier'] === 'string') reports.set(r['trackIdentifier'], r);
    });
  }
  return [...document.querySelectorAll<HTMLElement>('[data-testid="share-tile"]')].map((tile) => {
    const stream = tile.querySelector('video')?.srcObject;
    const track = stream instanceof MediaStream ? stream.getVideoTracks()[0] : undefined;
    const report = track ? reports.get(track.id) : undefined;
    return {
      peerName: tile.dataset['peerName'] ?? '',
      trackId: track?.id ?? '',
      bytes: Number(report?.['bytesReceived'] ?? 0),
      frames: Number(report?.['framesDecoded'] ?? 0),
      encryption: tile.dataset['encryption'] ?? '',
    };
  });
};

/** Runs in either browser: bytes received so far on a track that may no longer be shown (0 when its report is gone). */
const bytesOfTrack = async (trackId: string): Promise<number> => {
  const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
  let bytes = 0;
  for (const pc of pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((r: Record<string, unknown>) => {
      if (r['type'] === 'inbound-rtp' && r['trackIdentifier'] === trackId) bytes = Number(r['bytesReceived'] ?? 0);
    });
  }
  return bytes;
};

/** Runs in either browser: packets received so far on every stream but the track `trackId`. */
const otherPacketsInPage = async (trackId: string): Promise<number> => {
  const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
  let packets = 0;
  for (const pc of pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((r: Record<string, unknown>) => {
      if (r['type'] === 'inbound-rtp' && r['trackIdentifier'] !== trackId) packets += Number(r['packetsReceived'] ?? 0);
    });
  }
  return packets;
};

/**
 * About a second of the room's other media at a receiver (every member's microphone sends 50
 * packets a second, cameras more); a share sends a frame every 125 to 200 ms.
 */
const OTHER_PACKETS_LATER = 250;

type AnyPage = Page | FirefoxPage;
const shares = (page: AnyPage): Promise<ShareSample[]> => (page as Page).evaluate(sharesInPage);
const trackBytes = (page: AnyPage, trackId: string): Promise<number> => (page as Page).evaluate(bytesOfTrack, trackId);
const text = (page: AnyPage): Promise<string> => (page as Page).evaluate(() => document.querySelector('main')?.innerText ?? '');
const otherPackets = (page: AnyPage, trackId: string): Promise<number> => (page as Page).evaluate(otherPacketsInPage, trackId);
const askedFor = (page: FirefoxPage): Promise<string[]> => page.evaluate(() => (window as unknown as { __askedFor: string[] }).__askedFor);

describe('screen sharing, granted by a facilitator (Chromium and Firefox)', () => {
  let ns: NetNamespace;
  let server: RunningServer;
  let chromium: ChromiumBrowser;
  let firefox: FirefoxBrowser;
  let ada: Member;
  let bea: Member;
  let cyd: FirefoxMember;
  let adaFrames: string[];
  const scratch = mkdtempSync(path.join(tmpdir(), 'share-tap-'));
  const tapFile = path.join(scratch, 'tap.jsonl');
  /** Key generations the room used (from Ada's page, the key leader), for the tap's check. */
  const gens = new Set<number>();
  let watching = true;
  const notes: string[] = [];

  /** `viewer` receives, decodes and decrypts `sharer`'s screen. */
  const seesShare = async (viewer: AnyPage, who: string, sharer: string): Promise<ShareSample> => {
    let first: ShareSample | undefined;
    await eventually(async () => {
      const now = (await shares(viewer)).find((s) => s.peerName === sharer);
      expect(now, `${who} has a tile for ${sharer}'s screen`).toBeDefined();
      expect(now!.frames, `${who} decodes ${sharer}'s screen`).toBeGreaterThan(first?.frames ?? 0);
      expect(now!.bytes, `${who}: bytes of ${sharer}'s screen grow`).toBeGreaterThan(first?.bytes ?? 0);
      expect(now!.encryption, `${who} decrypts ${sharer}'s screen`).toBe('decrypted');
      if (!first) {
        first = now;
        throw new Error('sampled once; sampling again');
      }
    }, 30_000, 500);
    return first!;
  };

  /**
   * `viewer` no longer shows `sharer`'s screen, and nothing more arrives on the track it had:
   * checked once `viewer` has received about a second more of the room's other media, so a
   * share still flowing would have grown meanwhile.
   */
  const shareGone = async (viewer: AnyPage, who: string, sharer: string, trackId: string): Promise<void> => {
    await eventually(async () => expect((await shares(viewer)).map((s) => s.peerName), `${who} no longer shows ${sharer}'s screen`).not.toContain(sharer), 10_000, 100);
    const before = await trackBytes(viewer, trackId);
    const others = await otherPackets(viewer, trackId);
    await eventually(async () => expect(await otherPackets(viewer, trackId), `${who} keeps receiving the room's other media`).toBeGreaterThanOrEqual(others + OTHER_PACKETS_LATER), 30_000, 100);
    expect(await trackBytes(viewer, trackId), `${who}: nothing more of ${sharer}'s screen arrives`).toBe(before);
  };

  beforeAll(async () => {
    if (!support.ok) throw new Error(`this test ${support.reason}`);
    ns = await createNetNamespace();
    server = await startServerInNamespace(ns, { MEDIA_TAP_FILE: tapFile });
    chromium = await launchChromiumIn(ns);
    firefox = await launchFirefox(ns);

    ada = await newMember(chromium, server.url);
    adaFrames = recordReceivedFrames(ada.page);
    const { facilitatorUrl, inviteUrl } = await createRoom(ada, 'Share group');
    await enterAsFacilitator(ada, facilitatorUrl, 'Ada');
    await setAutoAdmit(ada.page, true);
    void (async () => {
      while (watching) {
        const key = await ada.page.getByTestId('encryption-ready').getAttribute('data-key', { timeout: 1000 }).catch(() => null);
        if (key) gens.add(Number(key.split('.')[0]));
        await pause(200);
      }
    })();

    bea = await newMember(chromium, server.url);
    await recordPageSockets(bea.context);
    await enterAdmittedAutomatically(bea, inviteUrl, 'Bea');

    cyd = await FirefoxMember.open(firefox, server.url);
    await cyd.page.evaluateOnNewDocument(fakePicker);
    await cyd.enterAdmittedAutomatically(inviteUrl, 'Cyd');
    await eventually(async () => expect(await ada.page.locator('[data-testid="peer-tile"]').count()).toBe(2), 30_000);
  });

  afterAll(async () => {
    watching = false;
    await firefox?.close().catch(() => undefined);
    await chromium?.close().catch(() => undefined);
    await server?.stop();
    await ns?.destroy();
    rmSync(scratch, { recursive: true, force: true });
    if (notes.length) console.warn(`[screen-share.test] ${notes.join('; ')}`);
  });

  it('a share needs a grant, is seen by all and ends everywhere when withdrawn, replaced or reloaded; Firefox shares only with a whole screen allowed; every frame encrypted', async () => {
    // Step 1. Without a grant: no share control, and the server refuses a forced screen.
    await bea.page.getByRole('button', { name: 'Ask to share screen', exact: true }).waitFor();
    expect(await bea.page.getByRole('button', { name: 'Share screen', exact: true }).count(), 'no share button without a grant').toBe(0);

    // A tampered page: a raw media:produce of a screen on its own send transport (the last one
    // the server made for it: the client makes the receive transport first).
    const transportId = await bea.page.evaluate(() => {
      const frames = (window as unknown as { __framesIn: string[] }).__framesIn;
      const made = frames
        .filter((f) => f.startsWith('43') && f.includes('"dtlsParameters"') && f.includes('"iceCandidates"'))
        .map((f) => (JSON.parse(f.slice(f.indexOf('['))) as [{ data?: { id?: string } }])[0].data?.id);
      return made.at(-1);
    });
    expect(transportId, "Bea's send transport").toBeTruthy();
    const answer = (await rawRequest(bea.page, 'media:produce', {
      transportId,
      kind: 'video',
      source: 'screen',
      rtpParameters: {
        codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, parameters: {}, rtcpFeedback: [] }],
        encodings: [{ ssrc: 22222222 }],
        headerExtensions: [],
        rtcp: { cname: 'tampered', reducedSize: true },
      },
      paused: false,
    })) as { ok: boolean; error?: { code: string } };
    expect(answer.ok, 'the server refuses the screen').toBe(false);
    expect(answer.error?.code).toBe('FORBIDDEN');
    // Something later reaches Ada (Cyd's ask): anything the forced screen caused came before it.
    await cyd.button('Ask to share screen');
    await cyd.click('Ask to share screen');
    const cydRow = ada.page.getByTestId('member-list').locator('li[data-member-name="Cyd"]');
    await eventually(async () => expect(await cydRow.innerText()).toContain('asks to share their screen'));
    // Offers come announced (consumer:new) or listed in media:ready's answer: both are looked at.
    const beaFrames = await bea.page.evaluate(() => (window as unknown as { __framesIn: string[] }).__framesIn);
    const screens = consumerOffers([...adaFrames, ...beaFrames]).filter((o) => o.source === 'screen');
    expect(consumerOffers(adaFrames).length, "the recording holds Ada's offers").toBeGreaterThan(0);
    expect(screens, 'nothing of a screen is offered to anyone').toEqual([]);
    expect(await shares(ada.page)).toEqual([]);

    // Step 2. Granted, Bea's share is seen by every member; withdrawn, it stops at every receiver
    // and on the sharer. Leaves: no share; Cyd asking.
    await bea.page.getByRole('button', { name: 'Ask to share screen', exact: true }).click();
    await bea.page.getByText('Waiting for a facilitator to let you share…').waitFor();
    const beaRow = ada.page.getByTestId('member-list').locator('li[data-member-name="Bea"]');
    await eventually(async () => expect(await beaRow.innerText()).toContain('asks to share their screen'));
    await beaRow.getByRole('button', { name: 'Allow sharing for Bea', exact: true }).click();

    await bea.page.getByRole('button', { name: 'Share screen', exact: true }).click();
    // Chromium's picker was told to leave whole screens out: it shares a tab.
    await eventually(async () => expect(await bea.page.getByTestId('sharing-notice').innerText()).toContain('You are sharing a browser tab'));

    const beaAtAda = await seesShare(ada.page, 'Ada', 'Bea');
    const beaAtCyd = await seesShare(cyd.page, 'Cyd (Firefox)', 'Bea');
    await eventually(async () => expect(await beaRow.innerText()).toContain('sharing their screen'));
    // Accessibility with a share on: the facilitator's room, the sharer's, and a viewer's in Firefox.
    await expectNoSeriousViolations(ada.page, 'in the room as facilitator, with a share');
    await expectNoSeriousViolations(bea.page, 'in the room as member, sharing');
    await expectNoSeriousViolationsInFirefox(cyd.page, 'in the room as member, with a share');

    // Withdrawn: closed on the server at once; gone at every receiver; the sharer's capture ends.
    await beaRow.getByRole('button', { name: 'Withdraw sharing from Bea', exact: true }).click();
    const withdrawn = performance.now();
    await Promise.all([shareGone(ada.page, 'Ada', 'Bea', beaAtAda.trackId), shareGone(cyd.page, 'Cyd (Firefox)', 'Bea', beaAtCyd.trackId)]);
    notes.push(`withdraw → share gone at both receivers (checked) ${(performance.now() - withdrawn).toFixed(0)} ms`);
    await bea.page.getByRole('button', { name: 'Ask to share screen', exact: true }).waitFor();
    expect(await bea.page.getByTestId('own-share-tile').count(), "Bea's page no longer captures").toBe(0);
    expect(await text(bea.page)).toContain('A facilitator withdrew your permission to share');

    // Step 3. Firefox does not say what it shares: refused until a whole screen is allowed, then
    // shared; a facilitator's share replaces it. Leaves: whole screens allowed, no share.
    await cydRow.getByRole('button', { name: 'Allow sharing for Cyd', exact: true }).click();
    await cyd.click('Share screen');
    await eventually(async () => expect(await text(cyd.page)).toContain('This browser does not say what it is sharing'));
    expect(await askedFor(cyd.page), 'asked with the standard picker, never the legacy window-only way').toEqual(['any']);
    expect(await shares(bea.page), 'nothing of the refused pick went out').toEqual([]);

    // The box shows the room's rule (checked once the server's view says so), not the click:
    // Playwright's check() reads it right after the click and may beat the view.
    const wholeScreen = ada.page.getByRole('checkbox', { name: 'Allow sharing a whole screen (not only a window or a tab)' });
    await wholeScreen.click();
    await eventually(async () => expect(await wholeScreen.isChecked(), 'the room allows a whole screen').toBe(true));
    await cyd.click('Share screen');
    await seesShare(bea.page, 'Bea', 'Cyd');
    expect(await askedFor(cyd.page)).toEqual(['any', 'any']);
    expect(await text(cyd.page)).toContain('You are sharing your screen');
    const cydAtAda = await seesShare(ada.page, 'Ada', 'Cyd');

    // One share at a time: Ada's replaces Cyd's.
    await ada.page.getByRole('button', { name: 'Share screen', exact: true }).click();
    await shareGone(ada.page, 'Ada', 'Cyd', cydAtAda.trackId);
    await seesShare(bea.page, 'Bea', 'Ada');
    await seesShare(cyd.page, 'Cyd (Firefox)', 'Ada');
    await eventually(async () => expect(await text(cyd.page)).toContain('Your screen is no longer shared'));
    expect((await shares(bea.page)).map((s) => s.peerName)).toEqual(['Ada']);
    await ada.page.getByRole('button', { name: 'Stop sharing', exact: true }).click();
    await eventually(async () => expect(await shares(bea.page)).toEqual([]));

    // Step 4. A reload during a share ends the share and keeps the grant.
    await beaRow.getByRole('button', { name: 'Allow sharing for Bea', exact: true }).click();
    await bea.page.getByRole('button', { name: 'Share screen', exact: true }).click();
    const againAtAda = await seesShare(ada.page, 'Ada', 'Bea');
    await bea.page.reload();
    await bea.page.locator('main[data-status="joined"]').waitFor({ timeout: 60_000 });
    await shareGone(ada.page, 'Ada', 'Bea', againAtAda.trackId);
    // Still granted: the button is there, no new ask needed.
    await bea.page.getByRole('button', { name: 'Share screen', exact: true }).waitFor();
    await eventually(async () => expect(await beaRow.innerText()).toContain('may share their screen'));

    // Step 5. Every shared frame the SFU got was encrypted.
    watching = false;
    await cyd.close();
    await bea.context.close();
    await ada.context.close();
    await server.stop();
    const packets = readFileSync(tapFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as TappedPacket)
      .filter((p) => p.source === 'screen');
    const count = { envelope: 0, not: 0, sharers: new Set<string>() };
    for (const packet of packets) {
      const check = checkPacket(packet, gens);
      if (check.kind === 'skip') continue;
      count.sharers.add(packet.peerId);
      if (check.kind === 'envelope') count.envelope++;
      else count.not++;
    }
    notes.push(`tap: ${count.envelope} screen envelopes from ${count.sharers.size} sharers, ${count.not} not`);
    expect(count.sharers.size, 'Bea, Cyd and Ada shared').toBe(3);
    expect(count.envelope).toBeGreaterThan(10);
    expect(count.not, 'screen frames the SFU could read').toBe(0);
  }, 360_000);
});
