import type { KeyRef } from '@group-room/shared/e2ee';
import { markJoin } from '../join-timeline';
import { KeyFrameAsks } from './key-frame-asks';
import type { TransformApi, WithStreams } from './transform-api';
import type { FromWorker, ToWorker, TransformRole, TransformStatus } from './worker-protocol';

/*
 * The page's side of frame encryption: one frame worker (frame-worker.ts) for the page's whole
 * life, and a transform on every RTCRtpSender and RTCRtpReceiver, attached the moment
 * mediasoup-client makes it (`onRtpSender` / `onRtpReceiver`), before a frame can pass.
 *
 * Two ways to attach, whichever the browser has: Chromium's encoded streams (the peer
 * connection is made with `encodedInsertableStreams: true`, so it holds media until the
 * streams exist), else the standard RTCRtpScriptTransform (Firefox, Safari). A browser with
 * neither cannot enter: there is no unencrypted fallback (transform-api.ts, apart so the page's
 * first screen can ask without loading this).
 */

export interface TransformState {
  /** Receivers by consumer id, senders by kind (send:audio, send:video) or send:screen: what their last frames did. */
  readonly statuses: ReadonlyMap<string, TransformStatus>;
}

export class FrameCrypto {
  readonly api: TransformApi;
  #worker: Worker;
  readonly #attached = new WeakSet<RTCRtpSender | RTCRtpReceiver>();
  #statuses = new Map<string, TransformStatus>();
  readonly #listeners = new Set<() => void>();
  #statsWaiters: ((stats: Extract<FromWorker, { op: 'stats' }>) => void)[] = [];
  readonly #keyFrameAsks: KeyFrameAsks;
  #keyedNow: () => void = () => undefined;
  /** Settles once the first media key is installed (before that no frame decrypts here). */
  readonly keyed = new Promise<void>((resolve) => {
    this.#keyedNow = resolve;
  });

  /** `askKeyFrames`: have the server ask a key frame of every video received (media:keysReady). */
  constructor(api: TransformApi, askKeyFrames: () => void) {
    this.api = api;
    this.#keyFrameAsks = new KeyFrameAsks(askKeyFrames);
    this.#worker = new Worker(new URL('./frame-worker.ts', import.meta.url), { type: 'module', name: 'frame-crypto' });
    this.#worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (message.op === 'status') {
        if (this.#statuses.get(message.id) === message.status) return;
        this.#statuses = new Map(this.#statuses).set(message.id, message.status);
        for (const listener of this.#listeners) listener();
      } else if (message.op === 'keyFrame') {
        this.#keyFrameAsks.want();
      } else {
        for (const waiter of this.#statsWaiters.splice(0)) waiter(message);
      }
    };
  }

  /** What the peer connections must be made with (Chromium's streams need their flag). */
  get transportSettings(): Partial<RTCConfiguration> {
    return this.api === 'streams' ? ({ encodedInsertableStreams: true } as Partial<RTCConfiguration>) : {};
  }

  get statuses(): ReadonlyMap<string, TransformStatus> {
    return this.#statuses;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #post(message: ToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  setSelf(id: string): void {
    this.#post({ op: 'self', id });
  }

  addKeys(keys: (KeyRef & { key: Uint8Array })[]): void {
    if (!keys.length) return;
    this.#post({ op: 'keys', keys });
    this.#keyedNow();
    markJoin('key');
  }

  use(ref: KeyRef | null): void {
    this.#post({ op: 'use', ref });
  }

  forget(gens: number[]): void {
    if (gens.length) this.#post({ op: 'forget', gens });
  }

  /** Once per sender or receiver (attaching twice throws in Chromium). */
  #attach(target: RTCRtpSender | RTCRtpReceiver, role: TransformRole): void {
    if (this.#attached.has(target)) return;
    this.#attached.add(target);
    if (this.api === 'streams') {
      const { readable, writable } = (target as WithStreams).createEncodedStreams!();
      this.#post({ ...role, readable, writable }, [readable as unknown as Transferable, writable as unknown as Transferable]);
    } else {
      target.transform = new RTCRtpScriptTransform(this.#worker, role);
    }
  }

  /** `screen`: the shared screen's sender, whose status is its own (not the camera's). */
  attachSender(sender: RTCRtpSender, kind: 'audio' | 'video', source?: 'screen'): void {
    this.#attach(sender, { op: 'encrypt', id: source === 'screen' ? 'send:screen' : `send:${kind}`, kind });
  }

  attachReceiver(receiver: RTCRtpReceiver, kind: 'audio' | 'video', peerId: string, consumerId: string): void {
    this.#attach(receiver, { op: 'decrypt', id: consumerId, kind, peerId });
  }

  /** The worker's counts and time per frame (for benches). */
  stats(): Promise<Extract<FromWorker, { op: 'stats' }>> {
    return new Promise((resolve) => {
      this.#statsWaiters.push(resolve);
      this.#post({ op: 'stats' });
    });
  }

  close(): void {
    this.#keyFrameAsks.close();
    this.#worker.terminate();
    this.#listeners.clear();
  }
}
