import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { secretFromHash } from '../../apps/web/lib/e2ee/link-secrets.js';
import { refOf, decodeHeader } from '@group-room/shared/e2ee';
import type { Browser, Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRoom,
  enterAdmittedAutomatically,
  enterAsFacilitator,
  eventually,
  inboundByPeer,
  launchChromium,
  newMember,
  pause,
  setAutoAdmit,
  type Member,
} from '../support/browser.js';
import { transformModeScript, type TransformMode } from '../support/e2ee-modes.js';
import { KeyHolder } from '../support/key-holder.js';
import { startProductionServer, type RunningServer } from '../support/prod-server.js';
import { checkPacket, rtpPayload, type TappedPacket } from '../support/rtp-envelope.js';

/*
 * End-to-end encryption as the SFU sees it. The server runs with the test-only media tap
 * (MEDIA_TAP_FILE): every RTP packet of every producer, from the first, written down. With
 * encryption every frame in it must be an SFrame envelope under a key id the room used; in the
 * control run the harness takes the product's transforms out of the path (tests/support/
 * e2ee-modes.ts) and the same check must then fail for nearly every packet, so it cannot pass
 * for nothing.
 */

let server: RunningServer | undefined;
let browser: Browser | undefined;
let scratch: string | undefined;
const holders: KeyHolder[] = [];

afterEach(async () => {
  for (const holder of holders.splice(0)) holder.close();
  await browser?.close();
  await server?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  browser = server = scratch = undefined;
});

async function startTapped(): Promise<{ tapFile: string }> {
  scratch = mkdtempSync(path.join(tmpdir(), 'e2ee-tap-'));
  const tapFile = path.join(scratch, 'tap.jsonl');
  server = await startProductionServer({ MEDIA_TAP_FILE: tapFile });
  browser = await launchChromium();
  return { tapFile };
}

function readTap(file: string): TappedPacket[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TappedPacket);
}

/** The key generations a page has used, as its encryption status shows them (`gen.step`). */
async function gensOn(page: Page): Promise<number[]> {
  const key = await page.getByTestId('encryption-ready').getAttribute('data-key', { timeout: 1000 }).catch(() => null);
  return key ? [Number(key.split('.')[0])] : [];
}

/** Keep reading the pages' key generations while a test runs. */
function watchGens(pages: Page[]): { gens: Set<number>; stop: () => void } {
  const gens = new Set<number>();
  let running = true;
  void (async () => {
    while (running) {
      for (const page of pages) for (const gen of await gensOn(page).catch(() => [])) gens.add(gen);
      await pause(150);
    }
  })();
  return { gens, stop: () => (running = false) };
}

/** Bytes (and, for video, frames decoded) from `from` keep growing on `page`. */
async function receivesFrom(page: Page, from: string): Promise<void> {
  await eventually(async () => {
    const before = await inboundByPeer(page);
    await pause(1000);
    const after = await inboundByPeer(page);
    for (const kind of ['audio', 'video'] as const) {
      const a = before.find((s) => s.peerName === from && s.kind === kind);
      const b = after.find((s) => s.peerName === from && s.kind === kind);
      expect(b?.bytesReceived ?? 0, `${kind} from ${from}`).toBeGreaterThan(a?.bytesReceived ?? 0);
      if (kind === 'video') expect(b?.framesDecoded ?? 0, `video frames from ${from} decoded`).toBeGreaterThan(a?.framesDecoded ?? 0);
    }
  }, 30_000);
}

const tileEncryption = (page: Page, name: string) => page.locator(`[data-testid="peer-tile"][data-peer-name="${name}"]`).getAttribute('data-encryption');

async function twoInARoom(mode: TransformMode, beaMode: TransformMode = mode): Promise<{ ada: Member; bea: Member; inviteUrl: string }> {
  const ada = await newMember(browser!, server!.url);
  const bea = await newMember(browser!, server!.url);
  await ada.context.addInitScript(transformModeScript(mode));
  await bea.context.addInitScript(transformModeScript(beaMode));
  const { facilitatorUrl, inviteUrl } = await createRoom(ada, 'Encrypted group');
  await enterAsFacilitator(ada, facilitatorUrl, 'Ada');
  await setAutoAdmit(ada.page, true);
  await enterAdmittedAutomatically(bea, inviteUrl, 'Bea');
  return { ada, bea, inviteUrl };
}

describe('the SFU sees only ciphertext', () => {
  for (const mode of ['encrypt', 'passthrough'] as const) {
    it(`${mode === 'encrypt' ? 'every packet from the first is an SFrame envelope under a key the room used' : 'control: with the transforms taken out, the tap sees plaintext'}`, async () => {
      const { tapFile } = await startTapped();
      const { ada, bea } = await twoInARoom(mode);
      const watch = watchGens([ada.page, bea.page]);
      await receivesFrom(bea.page, 'Ada');
      await receivesFrom(ada.page, 'Bea');
      if (mode === 'encrypt') {
        // The lock shows only once a frame from that person has really been decrypted.
        await eventually(async () => expect(await tileEncryption(bea.page, 'Ada')).toBe('decrypted'));
        await eventually(async () => expect(await tileEncryption(ada.page, 'Bea')).toBe('decrypted'));
      } else {
        // The product's worker never saw a frame: no lock, though media flows (in the clear).
        expect(await tileEncryption(bea.page, 'Ada')).not.toBe('decrypted');
      }
      await pause(2000);
      watch.stop();
      await browser!.close();
      await server!.stop();
      const packets = readTap(tapFile);
      const counts = { envelope: 0, notEnvelope: 0, audio: 0, videoFrames: 0 };
      for (const packet of packets) {
        const check = checkPacket(packet, watch.gens);
        if (check.kind === 'skip') continue;
        if (packet.kind === 'audio') counts.audio++;
        else counts.videoFrames++;
        if (check.kind === 'envelope') counts.envelope++;
        else counts.notEnvelope++;
      }
      process.stdout.write(`[e2ee tap ${mode}] ${packets.length} packets; frames checked: ${counts.audio} audio, ${counts.videoFrames} video; envelopes ${counts.envelope}, not ${counts.notEnvelope}; gens ${[...watch.gens].join(',')}\n`);
      expect(counts.audio).toBeGreaterThan(50);
      expect(counts.videoFrames).toBeGreaterThan(10);
      if (mode === 'encrypt') {
        expect(watch.gens.size).toBeGreaterThan(0);
        expect(counts.notEnvelope, 'frames the SFU could read').toBe(0);
      } else {
        // An Opus TOC byte or a VP8 header followed by bytes that happen to parse as a known key id is
        // vanishingly rare; nearly everything must fail the check here.
        expect(counts.envelope).toBeLessThan((counts.audio + counts.videoFrames) * 0.02);
      }
    });
  }
});

describe('fail closed', () => {
  it('frames that do not decrypt are dropped, never decoded, and the tile says so', async () => {
    await startTapped();
    // Ada's page sends her frames as they are (the harness takes the transforms out there only).
    const { bea } = await twoInARoom('passthrough', 'encrypt');
    await eventually(async () => expect(await tileEncryption(bea.page, 'Ada')).toBe('failing'), 30_000);
    await expect(bea.page.locator('[data-testid="peer-tile"][data-peer-name="Ada"]').innerText()).resolves.toContain('Cannot decrypt');
    const before = (await inboundByPeer(bea.page)).filter((s) => s.peerName === 'Ada');
    await pause(1500);
    const after = (await inboundByPeer(bea.page)).filter((s) => s.peerName === 'Ada');
    const video = after.find((s) => s.kind === 'video');
    // The packets arrive; not one frame of them reaches the decoder (no garbled picture, no noise).
    expect(video?.bytesReceived ?? 0).toBeGreaterThan(before.find((s) => s.kind === 'video')?.bytesReceived ?? 0);
    expect(video?.framesDecoded ?? 0).toBe(0);
  });
});

describe('removal', () => {
  it('a removed member’s keys do not open what is sent after the rotation, and the others’ media goes on', async () => {
    const { tapFile } = await startTapped();
    const { ada, bea, inviteUrl } = await twoInARoom('encrypt');
    const url = new URL(inviteUrl);
    const roomId = url.pathname.split('/').pop()!;
    const token = new URLSearchParams(url.hash.slice(1)).get('k')!;
    const secret = secretFromHash(url.hash)!;
    // Zed takes part in the key handshake as any member's page would, and keeps every key.
    const zed = await KeyHolder.enter(server!.url, roomId, token, secret, 'Zed');
    holders.push(zed);
    await eventually(async () => expect(zed.sink.used.length).toBeGreaterThan(0), 20_000);
    await receivesFrom(bea.page, 'Ada');
    const zedGens = new Set(zed.sink.epochs.keys());

    const removedAt = Date.now();
    await ada.page.getByRole('button', { name: 'Remove Zed', exact: true }).click();
    await ada.page.getByRole('button', { name: 'Remove Zed', exact: true }).click();
    await eventually(async () => {
      const [a] = await gensOn(ada.page);
      const [b] = await gensOn(bea.page);
      expect(a !== undefined && !zedGens.has(a)).toBe(true);
      expect(b).toBe(a);
    }, 10_000);
    await receivesFrom(bea.page, 'Ada');
    await receivesFrom(ada.page, 'Bea');
    await pause(1000);
    await browser!.close();
    await server!.stop();

    const packets = readTap(tapFile).filter((p) => p.kind === 'audio' && p.peerId !== zed.view?.self.id);
    let openedBefore = 0;
    let triedAfter = 0;
    const firstNewBySender = new Map<string, number>();
    for (const packet of packets) {
      const frame = rtpPayload(Buffer.from(packet.rtp, 'hex'));
      if (!frame || frame.length < 2) continue;
      const header = decodeHeader(new Uint8Array(frame.subarray(1)));
      const ref = header && refOf(header.kid);
      if (!ref) continue;
      const opened = await zed.decrypt(new Uint8Array(frame), 'opus', packet.peerId);
      if (zedGens.has(ref.gen)) {
        if (opened) openedBefore++;
        continue;
      }
      if (!firstNewBySender.has(packet.peerId)) firstNewBySender.set(packet.peerId, packet.t);
      triedAfter++;
      expect(opened, 'a frame under the new key opened with the removed member’s keys').toBeNull();
    }
    process.stdout.write(
      `[e2ee removal] Zed's keys opened ${openedBefore} earlier audio frames and 0 of ${triedAfter} after the rotation; removal → first frame under the new key: ${[...firstNewBySender.values()].map((t) => `${t - removedAt} ms`).join(', ')}\n`,
    );
    // The positive control: Zed's keys were real keys of this room.
    expect(openedBefore).toBeGreaterThan(10);
    expect(triedAfter).toBeGreaterThan(50);
    expect(firstNewBySender.size).toBe(2);
  });
});

describe('keys live in browsers', () => {
  it('a newcomer waits while no facilitator device is online and is let in when one is back; reloads keep media flowing', async () => {
    await startTapped();
    const { ada, bea, inviteUrl } = await twoInARoom('encrypt');
    await receivesFrom(bea.page, 'Ada');
    // The facilitator's connection drops: their seat is kept, but no browser can hand out keys.
    await ada.context.setOffline(true);
    const cyd = await newMember(browser!, server!.url);
    await enterAdmittedAutomatically(cyd, inviteUrl, 'Cyd');
    await cyd.page.getByTestId('encryption-waiting').waitFor();
    await expect(cyd.page.getByTestId('encryption-waiting').innerText()).resolves.toContain("Waiting for the facilitator’s device");
    // Nothing of Bea's is played at Cyd's: without a key no frame reaches the decoder.
    await pause(1500);
    const early = (await inboundByPeer(cyd.page)).find((s) => s.peerName === 'Bea' && s.kind === 'video');
    expect(early?.framesDecoded ?? 0).toBe(0);
    await ada.context.setOffline(false);
    await cyd.page.getByTestId('encryption-ready').waitFor({ timeout: 30_000 });
    await receivesFrom(cyd.page, 'Bea');
    await receivesFrom(cyd.page, 'Ada');
    await eventually(async () => expect(await tileEncryption(cyd.page, 'Ada')).toBe('decrypted'));

    // A reload of the facilitator's page (it starts a generation of its own) and of a member's.
    await ada.page.reload();
    await ada.page.locator('main[data-status="joined"]').waitFor({ timeout: 60_000 });
    await receivesFrom(bea.page, 'Ada');
    await receivesFrom(ada.page, 'Cyd');
    await bea.page.reload();
    await bea.page.locator('main[data-status="joined"]').waitFor({ timeout: 60_000 });
    await receivesFrom(bea.page, 'Cyd');
    await receivesFrom(cyd.page, 'Bea');
    // Everyone ends up on one key, so everyone reads the same safety code.
    const codes: string[] = [];
    for (const page of [ada.page, bea.page, cyd.page]) {
      await eventually(async () => {
        const keys = await Promise.all([ada.page, bea.page, cyd.page].map(gensOn));
        expect(new Set(keys.flat()).size).toBe(1);
      });
      await page.getByTestId('encryption-ready').getByRole('button').click();
      codes.push(await page.getByTestId('safety-code').innerText());
    }
    expect(new Set(codes).size).toBe(1);
    expect(codes[0]!.split(' ')).toHaveLength(6);
  });

  it('a browser that cannot transform frames is told plainly and cannot enter', async () => {
    await startTapped();
    const member = await newMember(browser!, server!.url);
    await member.context.addInitScript('delete RTCRtpSender.prototype.createEncodedStreams; delete window.RTCRtpScriptTransform;');
    const host = await newMember(browser!, server!.url);
    const { inviteUrl } = await createRoom(host, 'Encrypted group');
    await member.page.goto(inviteUrl);
    await member.page.locator('main[data-status="unsupported-browser"]').waitFor();
    await expect(member.page.locator('main').innerText()).resolves.toContain('This browser cannot join an encrypted room');
  });
});
