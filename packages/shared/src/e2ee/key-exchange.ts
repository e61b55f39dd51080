import type { Aside, MemberSummary, RoomView } from '../room.js';
import type { SealedFor } from '../signals.js';
import { AsideKeys, asideKeyMaker } from './aside-keys.js';
import { fromBase64url } from './bytes.js';
import { checkHello, decodeWire, encodeWire, makeHello, newEphemeral, open, pairKey, preferredAlgorithm, seal, type CryptoKey, type Ephemeral, type PairIds } from './handshake.js';
import { KeyLeader } from './key-leader.js';
import { EPOCH_KEY_BYTES, randomGen, ratchetBy, sameRef, type KeyRef } from './key-schedule.js';
import { keyLeader } from './leader.js';
import type { Hello, KeyAlgorithm, Sealed } from './messages.js';
import { safetyCode } from './safety-code.js';
import { facilitatorSecret, inviteSecret } from './secrets.js';

/** Where the keys go to be used: a page's frame worker (apps/web FrameCrypto), or a test's own encryptor. */
export interface KeySink {
  setSelf(id: string): void;
  addKeys(keys: (KeyRef & { key: Uint8Array })[]): void;
  /** Encrypt with this key from now on; null: send nothing (fail closed) until told a key. */
  use(ref: KeyRef | null): void;
  forget(gens: number[]): void;
}

/*
 * Who has the room's media key, browser to browser. Every browser in the room pairs with every
 * facilitator-link browser (they hold the room secret): a hello each way, authenticated with
 * the link secrets, then a pair key from ECDH. The key leader (keyLeader: the first online
 * facilitator-link browser) hands the epoch key to each browser over its pair (key-leader.ts):
 *
 * - someone new (a new page: an admission, a reload, a resume) gets the key ratcheted one step,
 *   and everyone else is told to move to that step (they derive it; the newcomer cannot go back);
 * - someone gone (left, removed, blocked, grace run out), the 10-minute timer, or a new leader
 *   makes a fresh generation: sent to everyone first, used once all have acknowledged it or 1 s
 *   has passed. Old generations are forgotten 10 s after the switch.
 *
 * While this page is one of the two in an aside (a facilitator with one member), it sends with
 * the aside key sealed to the two only (aside-keys.ts: made by the aside's facilitator, or by the
 * leader for a co-facilitator), and with nothing until it has it: never with
 * the group's key, which the group holds. It keeps following the group's key meanwhile, to be
 * back in one step when the aside ends; the aside key is forgotten then.
 *
 * This module is the pairing, and what every page does with the keys it is given.
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
  /** No key yet (or, aside, no aside key yet): frames are dropped; waiting for a facilitator's device. */
  | { state: 'waiting' }
  /** `aside`: the key is the aside's own (its safety code is the same at the two pages). */
  | { state: 'ready'; ref: KeyRef; safetyCode: string[]; aside?: boolean };

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
  /** The group's key this page sends with (outside an aside). */
  #sending: KeyRef | null = null;
  /** When the aside this page is in started (null: not aside). */
  #asideAt: number | null = null;
  /** Aside keys given for the aside that started `at` (by generation), and the latest one. */
  #asideKeys: { at: number; keys: Map<number, Uint8Array>; latest: number } | null = null;
  /** What the frame worker was last told to send with (undefined: nothing told yet). */
  #frameRef: KeyRef | null | undefined;
  #status: KeyStatus = { state: 'waiting' };
  #readyOnce = false;
  #hadMedia = false;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  #forgetTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #timings: KeyTimings;
  /** Handing out keys, while this page is the key leader. */
  readonly #leader: KeyLeader;
  /** Making the aside's key, when this page is the one to (aside-keys.ts). */
  readonly #asideMaker: AsideKeys;

  constructor(host: KeyExchangeHost, frames: KeySink, timings: KeyTimings = KEY_TIMINGS) {
    this.#host = host;
    this.#frames = frames;
    this.#timings = timings;
    this.#leader = new KeyLeader(
      {
        pairPub: (id) => this.#pairs.get(id)?.pub,
        online: () => new Set(this.#members.filter((m) => m.connection === 'online').map((m) => m.id)),
        newGeneration: (key) => {
          const gen = this.#unusedGen();
          this.#epochs.set(gen, { step: 0, key });
          this.#frames.addKeys([{ gen, step: 0, key }]);
          return gen;
        },
        sendingGen: () => this.#sending?.gen,
        sealTo: (to, message) => this.#sealTo(to, message),
        use: (ref) => this.#use(ref),
        queue: (work) => this.#queue(work),
      },
      timings,
    );
    this.#asideMaker = new AsideKeys({
      self: () => this.#self,
      unusedGen: () => this.#unusedGen(),
      takeAside: (at, gen, key) => this.#takeAside(at, gen, key),
      ownAsideKey: (at) => {
        const kept = this.#asideKeys;
        return kept?.at === at ? { gen: kept.latest, key: kept.keys.get(kept.latest)! } : null;
      },
      sealTo: (to, message) => this.#sealTo(to, message),
      queue: (work) => this.#queue(work),
    });
  }

  get status(): KeyStatus {
    return this.#status;
  }

  #unusedGen(): number {
    return randomGen([...this.#epochs.keys(), ...(this.#asideKeys?.keys.keys() ?? [])]);
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
    await this.#applyAside(view.aside ?? null);
    // Back to having media (e.g. after accepting a changed agreement, while which nothing could
    // reach this page): hello again, so the leader catches this page up on any switch it missed.
    const back = view.self.media && !this.#hadMedia;
    this.#hadMedia = view.self.media;
    if (!view.self.media) return;
    if (back) this.#helloSent.clear();
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
    const leader = keyLeader(this.#members);
    const aside = view.aside ?? null;
    await this.#leader.update(this.#host.secret.kind === 'room' && leader === this.#self, present, this.#pairs.keys(), aside);
    const making = this.#host.secret.kind === 'room' && !!aside && asideKeyMaker(aside, (id) => this.#members.find((m) => m.id === id)?.role, leader) === this.#self;
    await this.#asideMaker.update(aside, making);
  }

  /** Whether this page is in an aside now; back from one, its key is forgotten. */
  async #applyAside(aside: Aside | null): Promise<void> {
    const at = aside && (aside.facilitatorId === this.#self || aside.memberId === this.#self) ? aside.startedAt : null;
    if (at === this.#asideAt) return;
    const kept = this.#asideKeys;
    if (this.#asideAt !== null && kept?.at === this.#asideAt) {
      this.#asideKeys = null;
      this.#frames.forget([...kept.keys.keys()]);
    }
    this.#asideAt = at;
    await this.#syncSending();
  }

  /** An aside key for the aside that started `at` (from the leader, or made here as the leader). */
  async #takeAside(at: number, gen: number, key: Uint8Array): Promise<void> {
    const kept = this.#asideKeys;
    if (kept?.at !== at) {
      // A key for an earlier aside is of no more use.
      if (kept) this.#frames.forget([...kept.keys.keys()]);
      this.#asideKeys = { at, keys: new Map(), latest: gen };
    }
    const keys = this.#asideKeys!;
    // Kept with the earlier one (a new leader's): the other page may still send with either.
    keys.keys.set(gen, key);
    keys.latest = gen;
    this.#frames.addKeys([{ gen, step: 0, key }]);
    await this.#syncSending();
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
    if (known?.pub !== pub) {
      this.#leader.welcome(from);
      this.#asideMaker.welcome(from);
    } else {
      // The same page again (its connection dropped and came back): it may have missed a switch.
      await this.#leader.catchUp(from);
      await this.#asideMaker.catchUp(from);
    }
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
    if (message.k === 'aside') {
      if (sender?.role !== 'facilitator') return;
      const bytes = fromBase64url(message.key);
      if (!bytes || bytes.length !== EPOCH_KEY_BYTES || this.#epochs.has(message.gen)) return;
      return this.#takeAside(message.at, message.gen, bytes);
    }
    if (message.k === 'ack') this.#leader.acked(from, message.gen);
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

  /** Encrypt with this key of the group's from now on (once out of an aside, if in one). */
  async #use(ref: KeyRef): Promise<void> {
    if (sameRef(ref, this.#sending)) return;
    if (!(await this.#epochKey(ref))) return;
    const newGen = this.#sending?.gen !== ref.gen;
    this.#sending = ref;
    if (newGen) this.#scheduleForget(ref.gen);
    await this.#syncSending();
  }

  /**
   * Tell the frame worker what to send with: aside, the aside's latest key, or nothing while it
   * has none (never the group's key); otherwise the group's key in use.
   */
  async #syncSending(): Promise<void> {
    const asideKeys = this.#asideAt !== null && this.#asideKeys?.at === this.#asideAt ? this.#asideKeys : null;
    const aside = this.#asideAt !== null;
    const ref = aside ? (asideKeys ? { gen: asideKeys.latest, step: 0 } : null) : this.#sending;
    if (this.#frameRef !== undefined && (ref === this.#frameRef || sameRef(ref, this.#frameRef))) return;
    const key = !ref ? null : asideKeys ? asideKeys.keys.get(ref.gen)! : await this.#epochKey(ref);
    if (ref && !key) return;
    this.#frameRef = ref;
    this.#frames.use(ref);
    this.#status = ref && key ? { state: 'ready', ref, safetyCode: await safetyCode(key), ...(aside ? { aside: true } : {}) } : { state: 'waiting' };
    // Able to decrypt now (first key, or the aside's): ask for key frames so pictures start at once.
    if (ref && (!this.#readyOnce || aside)) {
      this.#readyOnce = true;
      this.#host.keysReady();
    }
    this.#host.changed();
  }

  /**
   * Older generations go 10 s after a switch: long enough for frames already on their way. Only
   * those held at the switch: one handed out since (a rotation not yet in use) stays.
   */
  #scheduleForget(keep: number): void {
    clearTimeout(this.#forgetTimer);
    const older = new Set([...this.#epochs.keys()].filter((g) => g !== keep));
    this.#forgetTimer = setTimeout(() => {
      const gens = [...older].filter((g) => this.#epochs.has(g) && g !== this.#sending?.gen && g !== this.#leader.rotatingGen);
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

  close(): void {
    this.#closed = true;
    clearTimeout(this.#forgetTimer);
    this.#leader.close();
    this.#epochs.clear();
    this.#asideKeys = null;
    this.#pairs.clear();
  }
}
