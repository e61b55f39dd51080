import type { Browser as ChromiumBrowser } from 'playwright-core';
import type { Browser as FirefoxBrowser } from 'puppeteer-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, createRoom, enterAsFacilitator, eventually, newMember, setAutoAdmit, type Member } from '../support/browser.js';
import { FIREFOX, FirefoxMember, launchChromiumIn, launchFirefox, receivedMedia, selectedPairs, type ReceivedMedia } from '../support/firefox.js';
import { createNetNamespace, namespaceSupport, startServerInNamespace, type NetNamespace } from '../support/netns.js';
import type { RunningServer } from '../support/prod-server.js';
import { checkPacket, type TappedPacket } from '../support/rtp-envelope.js';

/*
 * A facilitator in Chromium and a member in Firefox ESR meet through the production build and
 * decode each other's video and audio. Firefox gathers no ICE candidate on loopback, so the
 * server and both browsers run in a network namespace of the test's own (tests/support/netns.ts),
 * where the server announces the namespace's 198.18.x.1 and no packet can leave.
 *
 * It needs root (for the namespace), iproute2 and firefox-esr (`.ci/run` installs them); without
 * them it fails and says what is missing. FIREFOX_TEST_APP_ROOT runs another checkout's build (built there).
 */

const support = namespaceSupport([FIREFOX, CHROMIUM]);

describe('a Firefox member with a Chromium facilitator', () => {
  let ns: NetNamespace;
  let server: RunningServer;
  let chromium: ChromiumBrowser;
  let firefox: FirefoxBrowser;
  const timings: string[] = [];
  // The media tap (tests only): what the SFU could read of every producer, from its first packet.
  const scratch = mkdtempSync(path.join(tmpdir(), 'firefox-tap-'));
  const tapFile = path.join(scratch, 'tap.jsonl');
  const timed = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await step();
    timings.push(`${what} ${(performance.now() - started).toFixed(0)} ms`);
    return result;
  };

  beforeAll(async () => {
    // Never skipped: without root, iproute2 or the browsers it fails and says which is missing.
    if (!support.ok) throw new Error(`this test ${support.reason}`);
    ns = await timed('namespace', createNetNamespace);
    server = await timed('server', () => startServerInNamespace(ns, { MEDIA_TAP_FILE: tapFile }, process.env['FIREFOX_TEST_APP_ROOT'] || undefined));
    chromium = await timed('Chromium', () => launchChromiumIn(ns));
    firefox = await timed('Firefox', () => launchFirefox(ns));
  });

  afterAll(async () => {
    await firefox?.close().catch(() => undefined);
    await chromium?.close().catch(() => undefined);
    await server?.stop();
    await ns?.destroy();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('each decrypts and decodes the other\'s video and audio', async () => {
    const ada: Member = await newMember(chromium, server.url);
    const { facilitatorUrl, inviteUrl } = await createRoom(ada, 'Firefox group');
    await enterAsFacilitator(ada, facilitatorUrl, 'Ada');
    await setAutoAdmit(ada.page, true);

    const bea = await FirefoxMember.open(firefox, server.url);
    const joinStarted = performance.now();
    await bea.enterAdmittedAutomatically(inviteUrl, 'Bea');
    await eventually(async () => expect(await bea.peerNames()).toEqual(['Ada']));

    // The same measurement in both browsers: two samples apart, every stream from the other grows.
    const key = (samples: ReceivedMedia[]) => new Map(samples.map((s) => [`${s.peerName}/${s.kind}`, s]));
    const flows = async (who: string, read: () => Promise<ReceivedMedia[]>, from: string) => {
      const first = key(await read());
      await new Promise((r) => setTimeout(r, 1000));
      const second = key(await read());
      for (const kind of ['audio', 'video'] as const) {
        const before = first.get(`${from}/${kind}`);
        const after = second.get(`${from}/${kind}`);
        expect(after, `${who} receives ${kind} from ${from}`).toBeDefined();
        expect(after!.bytesReceived, `${who}: ${kind} bytes from ${from} grow`).toBeGreaterThan(before?.bytesReceived ?? 0);
        if (kind === 'video') {
          expect(after!.framesDecoded, `${who}: video frames from ${from} decoded`).toBeGreaterThan(before?.framesDecoded ?? 0);
        } else {
          expect(after!.totalSamplesReceived, `${who}: audio samples from ${from} grow`).toBeGreaterThan(before?.totalSamplesReceived ?? 0);
        }
      }
    };

    // Time from "open the invite link" to Firefox's first decoded frame from Chromium.
    await eventually(async () => {
      const video = (await receivedMedia(bea.page)).find((s) => s.peerName === 'Ada' && s.kind === 'video');
      expect(video?.framesDecoded ?? 0, 'Firefox decodes a frame from Ada').toBeGreaterThan(0);
    }, 30_000, 100);
    timings.push(`invite link → first frame decoded in Firefox ${(performance.now() - joinStarted).toFixed(0)} ms`);

    await eventually(() => flows('Bea (Firefox)', () => receivedMedia(bea.page), 'Ada'), 30_000);
    await eventually(async () => expect(await ada.page.locator('[data-testid="peer-tile"][data-peer-name="Bea"]').count()).toBe(1));
    await eventually(() => flows('Ada (Chromium)', () => receivedMedia(ada.page), 'Bea'), 30_000);

    // End-to-end encrypted both ways (Firefox through RTCRtpScriptTransform, Chromium through its
    // encoded streams): each tile's lock shows only once a frame from that person was decrypted.
    await eventually(async () => {
      const inFirefox = await bea.page.$eval('[data-testid="peer-tile"][data-peer-name="Ada"]', (el) => el.getAttribute('data-encryption'));
      expect(inFirefox, 'Firefox decrypts Chromium').toBe('decrypted');
      expect(await ada.page.locator('[data-testid="peer-tile"][data-peer-name="Bea"]').getAttribute('data-encryption'), 'Chromium decrypts Firefox').toBe('decrypted');
      const ownInFirefox = await bea.page.$eval('[data-testid="self-tile"]', (el) => el.getAttribute('data-encryption'));
      expect(ownInFirefox, 'Firefox encrypts what it sends').toBe('encrypted');
    });

    // Media went through the namespace's veth address, on both sides.
    for (const [who, pairs] of [['Firefox', await selectedPairs(bea.page)], ['Chromium', await selectedPairs(ada.page)]] as const) {
      expect(pairs.length, `${who} has selected ICE pairs`).toBeGreaterThan(0);
      for (const pair of pairs) expect(pair.remote, `${who}'s media goes to the server at ${ns.address}`).toBe(ns.address);
    }

    // Firefox's RTCRtpScriptTransform holds no frame back from the transform either: every frame
    // the SFU got from anyone, from the first, is an SFrame envelope under the room's key.
    const keyRef = await ada.page.getByTestId('encryption-ready').getAttribute('data-key');
    const gens = new Set([Number(keyRef!.split('.')[0])]);
    await bea.close();
    await ada.context.close();
    await server.stop();
    const packets = readFileSync(tapFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as TappedPacket);
    const bySender = new Map<string, { envelope: number; not: number }>();
    for (const packet of packets) {
      const check = checkPacket(packet, gens);
      if (check.kind === 'skip') continue;
      const count = bySender.get(packet.peerId) ?? { envelope: 0, not: 0 };
      if (check.kind === 'envelope') count.envelope++;
      else count.not++;
      bySender.set(packet.peerId, count);
    }
    timings.push(`tap: ${[...bySender.values()].map((c) => `${c.envelope} envelopes, ${c.not} not`).join(' / ')}`);
    expect(bySender.size, 'both browsers’ media tapped').toBe(2);
    for (const count of bySender.values()) {
      expect(count.envelope).toBeGreaterThan(50);
      expect(count.not, 'frames the SFU could read').toBe(0);
    }
    console.warn(`[firefox.test] ${ns.name} (${ns.address}): ${timings.join('; ')}`);
  });
});
