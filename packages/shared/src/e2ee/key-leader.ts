import { randomBytes, toBase64url } from './bytes.js';
import type { KeyTimings } from './key-exchange.js';
import { EPOCH_KEY_BYTES, MAX_STEP, ratchet, type KeyRef } from './key-schedule.js';
import type { Sealed } from './messages.js';
import type { Aside } from '../room.js';

/*
 * The key leader's part of the key exchange (see key-exchange.ts): while this page leads, it
 * hands the room's epoch key to every page it has paired with. A new page gets the key ratcheted
 * one step and everyone else moves there; a departure, the timer, or taking over the lead makes
 * a fresh generation, sent to everyone first and used once all have acknowledged it or the wait
 * is over; a page back from a dropped connection is caught up on the key in use.
 *
 * When an aside ends, the leader starts a fresh generation of the group's key, so what follows
 * is under a key made after the aside. (The aside's own key is made by aside-keys.ts.)
 */

/** What the leader uses of the page's key exchange. */
export interface LeaderHost {
  /** The public key of this page's pair with `id` (a pair session), if paired. */
  pairPub(id: string): string | undefined;
  /** Who is connected now. */
  online(): Set<string>;
  /** Keep a fresh epoch key here (and in the frame worker) under a new generation number. */
  newGeneration(key: Uint8Array): number;
  /** The generation of the group's key this page encrypts with (or would, outside an aside). */
  sendingGen(): number | undefined;
  sealTo(to: string, message: Sealed): Promise<void>;
  /** Encrypt with this key from now on. */
  use(ref: KeyRef): Promise<void>;
  /** Run after what is under way (the exchange does one thing at a time). */
  queue(work: () => Promise<void>): void;
}

interface Rotation {
  gen: number;
  key: Uint8Array;
  /** Connected holders that have not acknowledged it yet. */
  waiting: Set<string>;
  acked: Set<string>;
  timer: ReturnType<typeof setTimeout>;
}

export class KeyLeader {
  readonly #host: LeaderHost;
  readonly #timings: KeyTimings;
  #leading = false;
  #current: (KeyRef & { key: Uint8Array }) | null = null;
  /** Pair sessions (peer → their public key) that hold the current generation. */
  readonly #holders = new Map<string, string>();
  readonly #newcomers = new Set<string>();
  #batchTimer: ReturnType<typeof setTimeout> | undefined;
  #rotation: Rotation | null = null;
  #rotateTimer: ReturnType<typeof setInterval> | undefined;
  /** When the aside seen while this page leads started (null: none). */
  #asideAt: number | null = null;

  constructor(host: LeaderHost, timings: KeyTimings) {
    this.#host = host;
    this.#timings = timings;
  }

  /** The generation being handed out, not yet in use (kept when older ones are forgotten). */
  get rotatingGen(): number | undefined {
    return this.#rotation?.gen;
  }

  /**
   * Whether this page leads now (`leading`), who is in the room, who this page has paired with,
   * and who is aside (null: nobody).
   */
  async update(leading: boolean, present: ReadonlySet<string>, paired: Iterable<string>, aside: Aside | null = null): Promise<void> {
    await this.#updateGroup(leading, present, paired);
    await this.#updateAside(aside);
  }

  async #updateGroup(leading: boolean, present: ReadonlySet<string>, paired: Iterable<string>): Promise<void> {
    if (leading !== this.#leading) {
      this.#leading = leading;
      clearInterval(this.#rotateTimer);
      if (!leading) return;
      // A new leader starts a generation of its own: it cannot know who holds which key.
      this.#rotateTimer = setInterval(() => this.#host.queue(() => this.#rotate()), this.#timings.rotateEveryMs);
      this.#holders.clear();
      for (const id of paired) this.#holders.set(id, this.#host.pairPub(id)!);
      await this.#rotate();
      return;
    }
    if (!leading) return;
    // Someone who held the key is gone: nobody else may keep hearing with it.
    const gone = [...this.#holders.keys()].filter((id) => !present.has(id));
    if (gone.length) {
      for (const id of gone) this.#holders.delete(id);
      await this.#rotate();
      return;
    }
    // Another facilitator device led meanwhile (this one was cut off and did not know): the room
    // is on a generation this page did not make, so it starts one of its own.
    const sending = this.#host.sendingGen();
    if (this.#current && sending !== undefined && sending !== this.#current.gen && !this.#rotation) await this.#rotate();
  }

  async #updateAside(aside: Aside | null): Promise<void> {
    const at = this.#leading ? (aside?.startedAt ?? null) : null;
    const ended = this.#leading && this.#asideAt !== null && at !== this.#asideAt;
    this.#asideAt = at;
    // Back in the group: a fresh generation, so nothing after the aside is under a key from before it.
    if (ended) await this.#rotate();
  }

  /** A new page to give the key to, batched with others arriving at the same moment. */
  welcome(peer: string): void {
    if (!this.#leading) return;
    this.#newcomers.add(peer);
    if (this.#batchTimer) return;
    this.#batchTimer = setTimeout(() => {
      this.#batchTimer = undefined;
      this.#host.queue(() => this.#admitNewcomers());
    }, this.#timings.batchMs);
  }

  async #admitNewcomers(): Promise<void> {
    // During a rotation, newcomers wait for it to finish (it calls back here).
    if (!this.#leading || this.#rotation || !this.#newcomers.size) return;
    const current = this.#current;
    if (!current) return this.#rotate();
    if (current.step >= MAX_STEP) return this.#rotate();
    const next = { gen: current.gen, step: current.step + 1, key: await ratchet(current.key) };
    const newcomers = [...this.#newcomers].filter((id) => this.#host.pairPub(id) !== undefined);
    this.#newcomers.clear();
    this.#current = next;
    const ref = { gen: next.gen, step: next.step };
    for (const id of newcomers) {
      this.#holders.set(id, this.#host.pairPub(id)!);
      await this.#host.sealTo(id, { k: 'keys', keys: [{ ...ref, key: toBase64url(next.key) }], use: ref });
    }
    for (const id of this.#holders.keys()) {
      if (!newcomers.includes(id)) await this.#host.sealTo(id, { k: 'keys', keys: [], use: ref });
    }
    await this.#host.use(ref);
  }

  /** A fresh generation: to everyone first, then used once they have it (or after 1 s). */
  async #rotate(): Promise<void> {
    if (!this.#leading || this.#rotation) return;
    const key = randomBytes(EPOCH_KEY_BYTES);
    const gen = this.#host.newGeneration(key);
    // Whoever arrives now gets this generation directly.
    for (const id of this.#newcomers) {
      const pub = this.#host.pairPub(id);
      if (pub !== undefined) this.#holders.set(id, pub);
    }
    this.#newcomers.clear();
    // Someone not connected now cannot acknowledge; they are caught up when they are back.
    const online = this.#host.online();
    const waiting = new Set([...this.#holders.keys()].filter((id) => this.#host.pairPub(id) !== undefined && online.has(id)));
    const timer = setTimeout(() => this.#host.queue(() => this.#commitRotation(gen)), this.#timings.ackWaitMs);
    this.#rotation = { gen, key, waiting, acked: new Set(), timer };
    for (const id of waiting) await this.#host.sealTo(id, { k: 'keys', keys: [{ gen, step: 0, key: toBase64url(key) }], use: null });
    if (!waiting.size) await this.#commitRotation(gen);
  }

  /** A page has the key of this generation. */
  acked(from: string, gen: number): void {
    const rotation = this.#rotation;
    if (!rotation || rotation.gen !== gen) return;
    rotation.waiting.delete(from);
    rotation.acked.add(from);
    if (!rotation.waiting.size) this.#host.queue(() => this.#commitRotation(gen));
  }

  async #commitRotation(gen: number): Promise<void> {
    const rotation = this.#rotation;
    if (!rotation || rotation.gen !== gen) return;
    clearTimeout(rotation.timer);
    this.#rotation = null;
    this.#current = { gen, step: 0, key: rotation.key };
    const ref = { gen, step: 0 };
    for (const id of this.#holders.keys()) {
      // Anyone who has not acknowledged it (slow, or back just now) gets the key with the switch.
      const keys = rotation.acked.has(id) ? [] : [{ ...ref, key: toBase64url(rotation.key) }];
      await this.#host.sealTo(id, { k: 'keys', keys, use: ref });
    }
    await this.#host.use(ref);
    if (this.#newcomers.size) await this.#admitNewcomers();
  }

  /** Give a page that held the key while it was away the key and step in use now. */
  async catchUp(peer: string): Promise<void> {
    const current = this.#current;
    if (!this.#leading || !this.#holders.has(peer) || !current || this.#rotation) return;
    const ref = { gen: current.gen, step: current.step };
    await this.#host.sealTo(peer, { k: 'keys', keys: [{ ...ref, key: toBase64url(current.key) }], use: ref });
  }

  close(): void {
    clearTimeout(this.#batchTimer);
    clearInterval(this.#rotateTimer);
    if (this.#rotation) clearTimeout(this.#rotation.timer);
  }
}
