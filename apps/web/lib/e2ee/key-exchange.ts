import type { MemberSummary, RoomView, SealedFor } from '@group-room/shared';
import {
  checkHello,
  decodeWire,
  encodeWire,
  EPOCH_KEY_BYTES,
  facilitatorSecret,
  fromBase64url,
  inviteSecret,
  keyLeader,
  makeHello,
  MAX_STEP,
  newEphemeral,
  open,
  pairKey,
  preferredAlgorithm,
  randomBytes,
  randomGen,
  ratchet,
  ratchetBy,
  safetyCode,
  seal,
  sameRef,
  toBase64url,
  type CryptoKey,
  type Ephemeral,
  type Hello,
  type KeyAlgorithm,
  type KeyRef,
  type PairIds,
  type Sealed,
} from '@group-room/shared/e2ee';

/** Where the keys go to be used: the page's frame worker (FrameCrypto), or a test's own encryptor. */
export interface KeySink {
  setSelf(id: string): void;
  addKeys(keys: (KeyRef & { key: Uint8Array })[]): void;
  use(ref: KeyRef): void;
  forget(gens: number[]): void;
}

/*
 * Who has the room's media key, browser to browser. Every browser in the room pairs with every
 * facilitator-link browser (they hold the room secret): a hello each way, authenticated with
 * the link secrets, then a pair key from ECDH. The key leader (keyLeader: the first online
 * facilitator-link browser) hands the epoch key to each browser over its pair:
 *
 * - someone new (a new page: an admission, a reload, a resume) gets the key ratcheted one step,
 *   and everyone else is told to move to that step (they derive it; the newcomer cannot go back);
 * - someone gone (left, removed, blocked, grace run out), the 10-minute timer, or a new leader
 *   makes a fresh generation: sent to everyone first, used once all have acknowledged it or 1 s
 *   has passed. Old generations are forgotten 10 s after the switch.
 *
 * The server relays the messages and never sees a key. Keys never leave the page's memory.
 */

/** How long things wait; tests shorten them. */
export interface KeyTimings {
  /** Newcomers arriving within this long get one ratchet step together. */
  batchMs: number;
  /** A fresh generation is used once all have acknowledged it, or after this long. */
  ackWaitMs: number;
  /** Older generations are forgotten this long after a switch. */
  forgetAfterMs: number;
  /** A fresh generation at least this often. */
  rotateEveryMs: number;
}

const RETRY_MS = 1000;

export const KEY_TIMINGS: KeyTimings = { batchMs: 150, ackWaitMs: 1000, forgetAfterMs: 10_000, rotateEveryMs: 10 * 60_000 };

export interface KeyExchangeHost {
  roomId: string;
  /** The room secret (facilitator link) or this person's invite secret. */
  secret: { kind: 'room' | 'invite'; bytes: Uint8Array };
  send(to: string, data: string): Promise<void>;
  /** This page has just become able to decrypt: ask for key frames. */
  keysReady(): void;
  changed(): void;
}

export type KeyStatus =
  /** No key yet: frames are dropped; waiting for a facilitator's device. */
  | { state: 'waiting' }
  | { state: 'ready'; ref: KeyRef; safetyCode: string[] };

interface Pair {
  pub: string;
  key: CryptoKey;
}

interface Epoch {
  step: number;
  key: Uint8Array;
}

export class KeyExchange {
  readonly #host: KeyExchangeHost;
  readonly #frames: KeySink;
  #self = '';
  #members: MemberSummary[] = [];
  #inviteIds = new Map<string, string | null>();
  #alg: Promise<KeyAlgorithm> = preferredAlgorithm();
  readonly #ephemerals = new Map<KeyAlgorithm, Promise<Ephemeral>>();
  readonly #pairs = new Map<string, Pair>();
  readonly #helloSent = new Set<string>();
  readonly #epochs = new Map<number, Epoch>();
  #sending: KeyRef | null = null;
  #status: KeyStatus = { state: 'waiting' };
  #readyOnce = false;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  #forgetTimer: ReturnType<typeof setTimeout> | undefined;
  // The leader's part.
  #leading = false;
  #current: (KeyRef & { key: Uint8Array }) | null = null;
  /** Pair sessions (peer → their public key) that hold the current generation. */
  readonly #holders = new Map<string, string>();
  readonly #newcomers = new Set<string>();
  #batchTimer: ReturnType<typeof setTimeout> | undefined;
  #rotation: { gen: number; key: Uint8Array; waiting: Set<string>; acked: Set<string>; timer: ReturnType<typeof setTimeout> } | null = null;
  #rotateTimer: ReturnType<typeof setInterval> | undefined;

  readonly #timings: KeyTimings;

  constructor(host: KeyExchangeHost, frames: KeySink, timings: KeyTimings = KEY_TIMINGS) {
    this.#host = host;
    this.#frames = frames;
    this.#timings = timings;
  }

  get status(): KeyStatus {
    return this.#status;
  }

  /** Run one thing at a time: crypto is async, and keys must be in before they are used. */
  #queue(work: () => Promise<void>): void {
    this.#chain = this.#chain.then(work).catch((error: unknown) => console.warn('key exchange:', error instanceof Error ? error.message : error));
  }

  // --- The room as this page sees it.

  setView(view: RoomView): void {
    this.#queue(() => this.#applyView(view));
  }

  async #applyView(view: RoomView): Promise<void> {
    if (this.#closed) return;
    if (this.#self !== view.self.id) {
      this.#self = view.self.id;
      this.#frames.setSelf(view.self.id);
    }
    if (!view.self.media) return;
    this.#members = view.members ?? [];
    for (const m of view.facilitation?.everyone ?? []) this.#inviteIds.set(m.id, m.inviteId);
    const present = new Set(this.#members.map((m) => m.id));
    for (const id of [...this.#pairs.keys()]) {
      if (!present.has(id)) {
        this.#pairs.delete(id);
        this.#helloSent.delete(id);
      }
    }
    for (const m of this.#members) if (m.connection !== 'online') this.#helloSent.delete(m.id);
    for (const peer of this.#peers()) {
      if (this.#helloSent.has(peer.id)) continue;
      this.#helloSent.add(peer.id);
      void this.#sendHello(peer.id, false).catch(() => this.#helloSent.delete(peer.id));
    }
    await this.#lead(present);
  }

  /** Whom this page pairs with: facilitator-link browsers; a facilitator-link browser, everyone. */
  #peers(): MemberSummary[] {
    const all = this.#host.secret.kind === 'room';
    return this.#members.filter((m) => m.id !== this.#self && m.connection === 'online' && (all || m.role === 'facilitator'));
  }

  async #pairSecret(peerId: string): Promise<Uint8Array | null> {
    const { secret } = this.#host;
    const peer = this.#members.find((m) => m.id === peerId);
    if (!peer) return null;
    if (secret.kind === 'invite') return peer.role === 'facilitator' ? secret.bytes : null;
    if (peer.role === 'facilitator') return facilitatorSecret(secret.bytes);
    const inviteId = this.#inviteIds.get(peerId);
    return inviteId ? inviteSecret(secret.bytes, inviteId) : null;
  }

  #ephemeral(alg: KeyAlgorithm): Promise<Ephemeral> {
    let own = this.#ephemerals.get(alg);
    if (!own) {
      own = newEphemeral(alg);
      this.#ephemerals.set(alg, own);
    }
    return own;
  }

  #ids(to: string): PairIds {
    return { roomId: this.#host.roomId, from: this.#self, to };
  }

  async #sendHello(to: string, reply: boolean, alg?: KeyAlgorithm): Promise<void> {
    const secret = await this.#pairSecret(to);
    if (!secret) throw new Error('no secret for this pair');
    const own = await this.#ephemeral(alg ?? (await this.#alg));
    await this.#host.send(to, encodeWire(await makeHello(secret, this.#ids(to), own, reply)));
  }

  // --- Messages from other browsers.

  receive(from: string, data: string): void {
    this.#queue(() => this.#receive(from, data));
  }

  async #receive(from: string, data: string): Promise<void> {
    if (this.#closed) return;
    const wire = decodeWire(data);
    if (!wire) return;
    if (wire.t === 'hello') return this.#hello(from, wire);
    const pair = this.#pairs.get(from);
    if (!pair) return;
    const message = await open(pair.key, { roomId: this.#host.roomId, from, to: this.#self }, wire);
    if (message) await this.#sealed(from, message);
  }

  async #hello(from: string, hello: Hello): Promise<void> {
    const secret = await this.#pairSecret(from);
    if (!secret) return;
    const theirPub = await checkHello(secret, { roomId: this.#host.roomId, from, to: this.#self }, hello);
    // A MAC that does not hold: someone (the server?) swapped the key, or the link is not theirs.
    if (!theirPub) return console.warn('key exchange: a hello that does not check out was ignored');
    const own = await this.#ephemeral(hello.alg);
    const pub = hello.pub;
    const known = this.#pairs.get(from);
    if (known?.pub !== pub) {
      this.#pairs.set(from, { pub, key: await pairKey(secret, this.#ids(from), own, theirPub) });
    }
    if (!hello.reply) await this.#sendHello(from, true, hello.alg).catch(() => undefined);
    this.#helloSent.add(from);
    if (!this.#leading) return;
    if (known?.pub !== pub) this.#welcome(from);
    // The same page again (its connection dropped and came back): it may have missed a switch.
    else if (this.#holders.has(from)) await this.#catchUp(from);
  }

  /** Give a page that held the key while it was away the key and step in use now. */
  async #catchUp(peer: string): Promise<void> {
    const current = this.#current;
    if (!current || this.#rotation) return;
    const ref = { gen: current.gen, step: current.step };
    await this.#sealTo(peer, { k: 'keys', keys: [{ ...ref, key: toBase64url(current.key) }], use: ref });
  }

  /**
   * This page's connection came back (a resume): hello again to every facilitator browser, so the
   * leader sees this page is back and catches it up on any switch it missed meanwhile.
   */
  resumed(): void {
    this.#queue(async () => this.#helloSent.clear());
  }

  async #sealed(from: string, message: Sealed): Promise<void> {
    const sender = this.#members.find((m) => m.id === from);
    if (message.k === 'keys') {
      // Only a holder of the room secret hands out keys.
      if (sender?.role !== 'facilitator') return;
      const fresh: (KeyRef & { key: Uint8Array })[] = [];
      for (const { gen, step, key } of message.keys) {
        const bytes = fromBase64url(key);
        if (!bytes || bytes.length !== EPOCH_KEY_BYTES) continue;
        const known = this.#epochs.get(gen);
        if (!known || step < known.step) {
          this.#epochs.set(gen, { step, key: bytes });
          fresh.push({ gen, step, key: bytes });
        }
      }
      // Into the frame worker before the acknowledgement: once all have acknowledged, others
      // start sending under the new key, and this page must already be able to open it.
      this.#frames.addKeys(fresh);
      for (const { gen } of message.keys) await this.#sealTo(from, { k: 'ack', gen });
      if (message.use) await this.#use(message.use);
      return;
    }
    if (message.k === 'ack') {
      this.#acked(from, message.gen);
    }
    // Private messages are opened where they are shown (openMessage).
  }

  async #sealTo(to: string, message: Sealed, retry = true): Promise<void> {
    const pair = this.#pairs.get(to);
    if (!pair) return;
    const wire = await seal(pair.key, this.#ids(to), message);
    await this.#host.send(to, encodeWire(wire)).catch((error: unknown) => {
      // Refused for going too fast: once more a second later, sealed afresh for the pair then.
      // (Someone not connected is caught up when they are back: see #catchUp.)
      if (!retry || (error as { code?: unknown } | null)?.code !== 'RATE_LIMITED') return;
      setTimeout(() => this.#queue(() => this.#sealTo(to, message, false)), RETRY_MS);
    });
  }

  async #epochKey(ref: KeyRef): Promise<Uint8Array | null> {
    const known = this.#epochs.get(ref.gen);
    if (!known || ref.step < known.step) return null;
    return ratchetBy(known.key, ref.step - known.step);
  }

  /** Encrypt with this key from now on. */
  async #use(ref: KeyRef): Promise<void> {
    if (sameRef(ref, this.#sending)) return;
    const key = await this.#epochKey(ref);
    if (!key) return;
    const newGen = this.#sending?.gen !== ref.gen;
    this.#sending = ref;
    this.#frames.use(ref);
    this.#status = { state: 'ready', ref, safetyCode: await safetyCode(key) };
    if (newGen) this.#scheduleForget(ref.gen);
    if (!this.#readyOnce) {
      this.#readyOnce = true;
      this.#host.keysReady();
    }
    this.#host.changed();
  }

  /** Older generations go 10 s after a switch: long enough for frames already on their way. */
  #scheduleForget(keep: number): void {
    clearTimeout(this.#forgetTimer);
    this.#forgetTimer = setTimeout(() => {
      const gens = [...this.#epochs.keys()].filter((g) => g !== keep && g !== this.#rotation?.gen);
      for (const g of gens) this.#epochs.delete(g);
      this.#frames.forget(gens);
    }, this.#timings.forgetAfterMs);
  }

  // --- Private messages to the facilitators.

  /** The message sealed for each facilitator-link browser this page has paired with. */
  async sealMessage(text: string): Promise<SealedFor[]> {
    const boxes: SealedFor[] = [];
    for (const m of this.#members) {
      const pair = this.#pairs.get(m.id);
      if (m.role !== 'facilitator' || !pair) continue;
      boxes.push({ to: m.id, data: encodeWire(await seal(pair.key, this.#ids(m.id), { k: 'message', text })) });
    }
    return boxes;
  }

  /** A member's private message sealed for this page, or null when it does not open. */
  async openMessage(from: string, data: string): Promise<string | null> {
    await this.#chain;
    const wire = decodeWire(data);
    const pair = this.#pairs.get(from);
    if (wire?.t !== 'sealed' || !pair) return null;
    const message = await open(pair.key, { roomId: this.#host.roomId, from, to: this.#self }, wire);
    return message?.k === 'message' ? message.text : null;
  }

  // --- The leader's part.

  async #lead(present: Set<string>): Promise<void> {
    const leading = this.#host.secret.kind === 'room' && keyLeader(this.#members) === this.#self;
    if (leading !== this.#leading) {
      this.#leading = leading;
      clearInterval(this.#rotateTimer);
      if (!leading) return;
      // A new leader starts a generation of its own: it cannot know who holds which key.
      this.#rotateTimer = setInterval(() => this.#queue(() => this.#rotate()), this.#timings.rotateEveryMs);
      this.#holders.clear();
      for (const id of this.#pairs.keys()) this.#holders.set(id, this.#pairs.get(id)!.pub);
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
    if (this.#current && this.#sending && this.#sending.gen !== this.#current.gen && !this.#rotation) await this.#rotate();
  }

  /** A new page to give the key to, batched with others arriving at the same moment. */
  #welcome(peer: string): void {
    this.#newcomers.add(peer);
    if (this.#batchTimer) return;
    this.#batchTimer = setTimeout(() => {
      this.#batchTimer = undefined;
      this.#queue(() => this.#admitNewcomers());
    }, this.#timings.batchMs);
  }

  async #admitNewcomers(): Promise<void> {
    // During a rotation, newcomers wait for it to finish (it calls back here).
    if (!this.#leading || this.#rotation || !this.#newcomers.size) return;
    const current = this.#current;
    if (!current) return this.#rotate();
    if (current.step >= MAX_STEP) return this.#rotate();
    const next = { gen: current.gen, step: current.step + 1, key: await ratchet(current.key) };
    const newcomers = [...this.#newcomers].filter((id) => this.#pairs.has(id));
    this.#newcomers.clear();
    this.#current = next;
    const ref = { gen: next.gen, step: next.step };
    for (const id of newcomers) {
      this.#holders.set(id, this.#pairs.get(id)!.pub);
      await this.#sealTo(id, { k: 'keys', keys: [{ ...ref, key: toBase64url(next.key) }], use: ref });
    }
    for (const id of this.#holders.keys()) {
      if (!newcomers.includes(id)) await this.#sealTo(id, { k: 'keys', keys: [], use: ref });
    }
    await this.#use(ref);
  }

  /** A fresh generation: to everyone first, then used once they have it (or after 1 s). */
  async #rotate(): Promise<void> {
    if (!this.#leading || this.#rotation) return;
    const gen = randomGen(this.#epochs.keys());
    const key = randomBytes(EPOCH_KEY_BYTES);
    this.#epochs.set(gen, { step: 0, key });
    this.#frames.addKeys([{ gen, step: 0, key }]);
    // Whoever arrives now gets this generation directly.
    for (const id of this.#newcomers) if (this.#pairs.has(id)) this.#holders.set(id, this.#pairs.get(id)!.pub);
    this.#newcomers.clear();
    // Someone not connected now cannot acknowledge; they are caught up when they are back.
    const online = new Set(this.#members.filter((m) => m.connection === 'online').map((m) => m.id));
    const waiting = new Set([...this.#holders.keys()].filter((id) => this.#pairs.has(id) && online.has(id)));
    const timer = setTimeout(() => this.#queue(() => this.#commitRotation(gen)), this.#timings.ackWaitMs);
    this.#rotation = { gen, key, waiting, acked: new Set(), timer };
    for (const id of waiting) await this.#sealTo(id, { k: 'keys', keys: [{ gen, step: 0, key: toBase64url(key) }], use: null });
    if (!waiting.size) await this.#commitRotation(gen);
  }

  #acked(from: string, gen: number): void {
    const rotation = this.#rotation;
    if (!rotation || rotation.gen !== gen) return;
    rotation.waiting.delete(from);
    rotation.acked.add(from);
    if (!rotation.waiting.size) this.#queue(() => this.#commitRotation(gen));
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
      await this.#sealTo(id, { k: 'keys', keys, use: ref });
    }
    await this.#use(ref);
    if (this.#newcomers.size) await this.#admitNewcomers();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#forgetTimer);
    clearTimeout(this.#batchTimer);
    clearInterval(this.#rotateTimer);
    if (this.#rotation) clearTimeout(this.#rotation.timer);
    this.#epochs.clear();
    this.#pairs.clear();
  }
}
