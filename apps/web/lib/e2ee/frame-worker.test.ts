import { deriveSenderKeys, encryptFrame, kidOf, ratchetBy, senderBaseKey, type KeyRef } from '@group-room/shared/e2ee';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FromWorker, ToWorker } from './worker-protocol';

/*
 * The frame worker's receiving side, run in this process: its module installs its message
 * handler on the global scope, frames go through real web streams and real SFrame decryption.
 * The case from the browser test's flake: a newcomer holds only the new ratchet step, the key
 * frame asked for when its key came is still under the old step (dropped), and the deltas under
 * the new step decrypt but cannot be decoded without a key frame: the worker must ask for one.
 */

interface Frame {
  data: ArrayBuffer;
}

const posted: FromWorker[] = [];
let scope: { onmessage: ((event: { data: ToWorker }) => void) | null };
const epoch = new Uint8Array(32).fill(7);

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['performance'] });
  vi.stubGlobal('postMessage', (message: FromWorker) => posted.push(message));
  await import('./frame-worker');
  scope = globalThis as unknown as typeof scope;
  // The newcomer's key: generation 1 at step 1 (it cannot go back to step 0).
  const step1 = await ratchetBy(epoch, 1);
  send({ op: 'keys', keys: [{ gen: 1, step: 1, key: step1 }] });
});
afterAll(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

function send(message: ToWorker): void {
  scope.onmessage!({ data: message });
}

/** A VP8 frame as Ada's page sends it under `ref`: P bit 0 for a key frame. */
async function vp8From(sender: string, ref: KeyRef, key: boolean, ctr: bigint): Promise<Frame> {
  const plain = Uint8Array.from({ length: key ? 400 : 80 }, (_, i) => (i * 31 + 5) & 0xff);
  plain[0] = key ? 0x50 : 0x51;
  const kid = kidOf(ref);
  const keys = await deriveSenderKeys(await senderBaseKey(await ratchetBy(epoch, ref.step), sender), kid);
  const wire = await encryptFrame(plain, 'vp8', kid, ctr, keys);
  return { data: wire.slice().buffer };
}

/** A receiver's transform: frames pushed in, frames the decoder would get counted. */
function receiver(id: string, kind: 'audio' | 'video') {
  let push!: (frame: Frame) => void;
  const readable = new ReadableStream<Frame>({ start: (controller) => void (push = (frame) => controller.enqueue(frame)) });
  const out: Frame[] = [];
  let arrived: () => void = () => undefined;
  const writable = new WritableStream<Frame>({
    write(frame) {
      out.push(frame);
      arrived();
    },
  });
  send({ op: 'decrypt', id, kind, peerId: 'ada', readable, writable });
  return {
    out,
    /** Push frames; resolves once `passing` more have come out (the last one must pass). */
    async through(frames: Frame[], passing = 1): Promise<void> {
      const target = out.length + passing;
      const done = new Promise<void>((resolve) => (arrived = () => out.length >= target && resolve()));
      for (const frame of frames) push(frame);
      await done;
    },
  };
}

const asksFor = (id: string) => posted.filter((m) => m.op === 'keyFrame' && m.id === id).length;

describe('frame worker: a receiver whose decoder has no key frame asks for one', () => {
  const old: KeyRef = { gen: 1, step: 0 };
  const now: KeyRef = { gen: 1, step: 1 };

  it('old-step key frame dropped, new-step deltas decrypt: it asks (at most once per 400 ms) until a key frame passes', async () => {
    const rx = receiver('c1', 'video');
    await rx.through([await vp8From('ada', old, true, 0n), await vp8From('ada', now, false, 0n)]);
    expect(rx.out).toHaveLength(1);
    expect(asksFor('c1')).toBe(1);
    await rx.through([await vp8From('ada', now, false, 1n)]);
    expect(asksFor('c1')).toBe(1);
    vi.advanceTimersByTime(500);
    await rx.through([await vp8From('ada', now, false, 2n)]);
    expect(asksFor('c1')).toBe(2);
    await rx.through([await vp8From('ada', now, true, 3n)]);
    vi.advanceTimersByTime(500);
    await rx.through([await vp8From('ada', now, false, 4n)]);
    expect(asksFor('c1')).toBe(2);
    // Frames dropped (a key this page does not hold yet) break the chain: the next delta asks again.
    await rx.through([await vp8From('ada', { gen: 2, step: 0 }, false, 0n), await vp8From('ada', now, false, 5n)]);
    expect(asksFor('c1')).toBe(3);
    expect(rx.out).toHaveLength(6);
  });

  it('a receiver whose first frame is a key frame never asks; audio never asks', async () => {
    const video = receiver('c2', 'video');
    await video.through([await vp8From('ada', now, true, 10n), await vp8From('ada', now, false, 11n)], 2);
    expect(asksFor('c2')).toBe(0);
    const audio = receiver('c3', 'audio');
    const plain = Uint8Array.from({ length: 80 }, () => 0x78);
    const kid = kidOf(now);
    const keys = await deriveSenderKeys(await senderBaseKey(await ratchetBy(epoch, 1), 'ada'), kid);
    await audio.through([{ data: (await encryptFrame(plain, 'opus', kid, 20n, keys)).slice().buffer }]);
    expect(asksFor('c3')).toBe(0);
  });
});
