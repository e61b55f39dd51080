import type { PrivateSignal, RoomView, SealedFor } from '@group-room/shared';
import { KeyExchange, type KeyStatus, parseSecret } from '@group-room/shared/e2ee';
import { FrameCrypto } from './frame-crypto';
import { transformApi } from './transform-api';
import { keptLinkSecret } from './link-secrets';
import type { TransformStatus } from './worker-protocol';

/** What the room's encryption needs from the room client. */
export interface EncryptionHost {
  roomId: string;
  relay(to: string, data: string): Promise<void>;
  /** Have the server ask a key frame of every video this page receives (media:keysReady). */
  keysReady(): void;
  changed(): void;
}

/** A received private signal with its message opened here (null: none, or it did not open). */
export type ShownSignal = PrivateSignal & { text: string | null };

/**
 * This page's end-to-end encryption, as the room client uses it: the frame worker and its
 * transforms (FrameCrypto) and the key handshake (KeyExchange), made together on first use
 * from the link secret this tab keeps.
 */
export class RoomEncryption {
  readonly frames: FrameCrypto;
  readonly #keys: KeyExchange;

  private constructor(frames: FrameCrypto, keys: KeyExchange) {
    this.frames = frames;
    this.#keys = keys;
  }

  /** Throws when the browser cannot transform frames or the tab has no link secret. */
  static create(host: EncryptionHost): RoomEncryption {
    const api = transformApi();
    if (!api) throw new Error('this browser cannot encrypt audio and video');
    const secret = keptLinkSecret(host.roomId);
    const bytes = parseSecret(secret?.secret);
    if (!secret || !bytes) throw new Error('this tab does not have the link’s secret: open the link again');
    const frames = new FrameCrypto(api, host.keysReady);
    const keys = new KeyExchange(
      { roomId: host.roomId, secret: { kind: secret.kind, bytes }, send: host.relay, keysReady: host.keysReady, changed: host.changed },
      frames,
    );
    frames.subscribe(host.changed);
    return new RoomEncryption(frames, keys);
  }

  get status(): KeyStatus {
    return this.#keys.status;
  }

  view(view: RoomView): void {
    this.#keys.setView(view);
  }

  /** The connection came back: the key exchange makes sure this page missed no switch. */
  resumed(): void {
    this.#keys.resumed();
  }

  receive(from: string, data: string): void {
    this.#keys.receive(from, data);
  }

  sealMessage(text: string): Promise<SealedFor[]> {
    return this.#keys.sealMessage(text);
  }

  /**
   * A text a member sealed for this page with `sealMessage` (a check-out answer), or null when
   * it does not open: the box is bound to its sender's pairing with this page, so the server
   * cannot pass one member's box off as another's.
   */
  openSealed(from: string, sealed: string): Promise<string | null> {
    return this.#keys.openMessage(from, sealed);
  }

  async open(signal: PrivateSignal): Promise<ShownSignal> {
    const text = signal.sealed ? await this.#keys.openMessage(signal.from, signal.sealed) : null;
    return { ...signal, text };
  }

  /**
   * Each sender's state as this page receives them, by member id: `decrypted` once a frame
   * of theirs has really been decrypted here, `failing` while theirs do not decrypt.
   */
  peerStates(consumerPeers: Map<string, string>): Map<string, TransformStatus> {
    const states = new Map<string, TransformStatus>();
    for (const [consumerId, status] of this.frames.statuses) {
      const peer = consumerPeers.get(consumerId);
      if (!peer) continue;
      // One stream decrypting is enough for the lock; failing only if none does.
      if (status === 'decrypted' || !states.has(peer)) states.set(peer, status);
    }
    return states;
  }

  /** How this page's own frames go out: `encrypted`, or `no-key` while waiting for a key. */
  get sending(): TransformStatus | undefined {
    return this.frames.statuses.get('send:audio') ?? this.frames.statuses.get('send:video') ?? this.frames.statuses.get('send:screen');
  }

  close(): void {
    this.#keys.close();
    this.frames.close();
  }
}
