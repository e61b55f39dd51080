import { decryptFrame, deriveSenderKeys, encryptFrame, kidOf, ratchetBy, refOf, senderBaseKey, type FrameCodec, type KeyRef, type SenderKeys } from '@group-room/shared/e2ee';
import { isVp8KeyFrame, KeyFrameWait } from './key-frame-asks';
import type { FromWorker, ToWorker, TransformRole, TransformStatus } from './worker-protocol';

/*
 * The frame worker: every encoded audio and video frame of this page goes through it. Outgoing
 * frames are encrypted as SFrame under this person's key for the epoch in use; with no key they
 * are dropped, never sent as they are. Incoming frames are decrypted with the sender's key for
 * the frame's key id; a frame with an unknown key id, a failed tag or an impossible length is
 * dropped, never handed to the decoder. One worker per page, so the counter of each key only
 * goes up for as long as the key can be used (a reload gets a new key: see @group-room/shared/e2ee key-exchange.ts).
 * A video receiver whose decoder waits for a key frame (none passed yet, or frames dropped
 * since) asks the page for one when a delta decrypts (key-frame-asks.ts); the delta still
 * passes, as before (decrypted media; the decoder discards what it cannot decode).
 */

interface EncodedFrame {
  data: ArrayBuffer;
}
interface Transformer {
  readable: ReadableStream<EncodedFrame>;
  writable: WritableStream<EncodedFrame>;
  options: TransformRole;
}
interface WorkerScope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  onrtctransform: ((event: { transformer: Transformer }) => void) | null;
  postMessage(message: FromWorker): void;
}
const scope = globalThis as unknown as WorkerScope;

let selfId = '';
/** Each generation's epoch key at the earliest step this page knows; later steps are derived. */
const epochs = new Map<number, { step: number; key: Uint8Array }>();
const derived = new Map<string, Promise<Uint8Array>>();
const senderKeys = new Map<string, Promise<SenderKeys>>();
let sending: KeyRef | null = null;
const counters = new Map<bigint, bigint>();

const timings = new Float64Array(4096);
let timed = 0;
const totals = { encrypted: 0, decrypted: 0, dropped: 0 };

function epochKey(ref: KeyRef): Promise<Uint8Array> | undefined {
  const known = epochs.get(ref.gen);
  if (!known || ref.step < known.step) return undefined;
  const name = `${ref.gen}:${ref.step}`;
  let key = derived.get(name);
  if (!key) {
    key = ratchetBy(known.key, ref.step - known.step);
    derived.set(name, key);
  }
  return key;
}

function keysFor(kid: bigint, senderId: string): Promise<SenderKeys> | undefined {
  const ref = refOf(kid);
  if (!ref) return undefined;
  const name = `${ref.gen}:${ref.step}:${senderId}`;
  let keys = senderKeys.get(name);
  if (!keys) {
    const epoch = epochKey(ref);
    if (!epoch) return undefined;
    keys = epoch.then((k) => senderBaseKey(k, senderId)).then((base) => deriveSenderKeys(base, kid));
    senderKeys.set(name, keys);
  }
  return keys;
}

function forget(gens: number[]): void {
  for (const gen of gens) {
    epochs.delete(gen);
    // Cache entries are named `gen:step[:sender]`.
    for (const cache of [derived, senderKeys] as Map<string, unknown>[]) {
      for (const name of cache.keys()) if (name.startsWith(`${gen}:`)) cache.delete(name);
    }
  }
}

function time(start: number): void {
  timings[timed++ % timings.length] = (performance.now() - start) * 1000;
}

function percentile(p: number): number {
  const n = Math.min(timed, timings.length);
  if (n === 0) return 0;
  const sorted = Array.from(timings.subarray(0, n)).sort((a, b) => a - b);
  return sorted[Math.min(n - 1, Math.floor(p * n))]!;
}

const codecOf = (kind: 'audio' | 'video'): FrameCodec => (kind === 'audio' ? 'opus' : 'vp8');

function transform(role: TransformRole): TransformStream<EncodedFrame, EncodedFrame> {
  const codec = codecOf(role.kind);
  let reported: TransformStatus | undefined;
  let lastGood = 0;
  const report = (status: TransformStatus) => {
    if (status === reported) return;
    reported = status;
    scope.postMessage({ op: 'status', id: role.id, status });
  };
  if (role.op === 'encrypt') {
    return new TransformStream({
      async transform(frame, controller) {
        const start = performance.now();
        const ref = sending;
        const keys = ref && keysFor(kidOf(ref), selfId);
        if (!ref || !keys) {
          totals.dropped++;
          return report('no-key');
        }
        const kid = kidOf(ref);
        const ctr = counters.get(kid) ?? 0n;
        counters.set(kid, ctr + 1n);
        const sealed = await encryptFrame(new Uint8Array(frame.data), codec, kid, ctr, await keys);
        frame.data = sealed.buffer.byteLength === sealed.byteLength ? (sealed.buffer as ArrayBuffer) : (sealed.slice().buffer as ArrayBuffer);
        totals.encrypted++;
        time(start);
        controller.enqueue(frame);
        report('encrypted');
      },
    });
  }
  const peerId = role.peerId;
  const keyFrame = role.kind === 'video' ? new KeyFrameWait() : null;
  return new TransformStream({
    async transform(frame, controller) {
      const start = performance.now();
      const result = await decryptFrame(new Uint8Array(frame.data), codec, (kid) => keysFor(kid, peerId));
      if ('error' in result) {
        totals.dropped++;
        keyFrame?.dropped();
        // Says so only once frames have failed for a while (a key on its way is normal for a moment).
        if (performance.now() - lastGood > 1500) report('failing');
        return;
      }
      const plain = result.frame;
      frame.data = plain.buffer.byteLength === plain.byteLength ? (plain.buffer as ArrayBuffer) : (plain.slice().buffer as ArrayBuffer);
      totals.decrypted++;
      lastGood = performance.now();
      time(start);
      if (keyFrame?.passed(isVp8KeyFrame(plain), lastGood)) scope.postMessage({ op: 'keyFrame', id: role.id });
      controller.enqueue(frame);
      report('decrypted');
    },
  });
}

function run(role: TransformRole, readable: ReadableStream<EncodedFrame>, writable: WritableStream<EncodedFrame>): void {
  // A closed sender or receiver ends its streams; nothing to report.
  readable
    .pipeThrough(transform(role))
    .pipeTo(writable)
    .catch(() => undefined);
}

scope.onrtctransform = (event) => {
  const { transformer } = event;
  run(transformer.options, transformer.readable, transformer.writable);
};

scope.onmessage = (event) => {
  const message = event.data;
  switch (message.op) {
    case 'self':
      selfId = message.id;
      return;
    case 'keys':
      for (const { gen, step, key } of message.keys) {
        const known = epochs.get(gen);
        if (!known || step < known.step) epochs.set(gen, { step, key });
      }
      return;
    case 'use':
      sending = message.ref;
      return;
    case 'forget':
      forget(message.gens);
      if (sending && message.gens.includes(sending.gen)) sending = null;
      return;
    case 'encrypt':
    case 'decrypt':
      run(message, message.readable, message.writable);
      return;
    case 'stats':
      scope.postMessage({ op: 'stats', ...totals, p95Micros: percentile(0.95), p50Micros: percentile(0.5), samples: Math.min(timed, timings.length) });
      return;
  }
};
