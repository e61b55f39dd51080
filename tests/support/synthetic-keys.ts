import type { ClientToServerEvents, RequestName, RequestPayload, ResponseData, Result, RoomView, ServerToClientEvents } from '@group-room/shared';
import { decryptFrame, type DecryptFrameResult, deriveSenderKeys, encryptFrame, EPOCH_KEY_BYTES, type FrameCodec, inviteSecret, KeyExchange, type KeyRef, type KeySink, type KeyStatus, kidOf, type LinkSecret, linkSecretParam, newRoomSecret, parseSecret, randomBytes, randomGen, ratchetBy, refOf, senderBaseKey, type SenderKeys, toBase64url } from '@group-room/shared/e2ee';
import { io, type Socket } from 'socket.io-client';

/*
 * End-to-end encryption for members without a browser (synthetic members, load generators):
 * the web client's own key handshake (KeyExchange, packages/shared/src/e2ee/key-exchange.ts) fed by
 * the socket's `e2ee:relay` events and views, and a KeySink that keeps the keys it hands over
 * and seals frames the way the browser's frame worker does (frame-worker.ts): this member's key
 * for the epoch in use, `senderBaseKey(epochKey(gen, step), memberId)`, one counter per key id
 * shared by all its streams, `encryptFrame` from @group-room/shared/e2ee. Without a key in use
 * nothing is sealed and the frame is dropped, as in browsers.
 */

export type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A refused or unanswered request; `code` is the server's (as on the browser's ProtocolFailure), or DISCONNECTED, TIMEOUT. */
export class RequestFailed extends Error {
  constructor(
    readonly code: string,
    name: string,
    message: string,
  ) {
    super(`${name}: ${code} ${message}`);
  }
}

/** One request: its answer, or a RequestFailed with the server's code. */
export async function ask<K extends RequestName>(socket: Client, name: K, payload: RequestPayload<K>, timeoutMs = 15_000): Promise<ResponseData<K>> {
  let result: Result<ResponseData<K>>;
  try {
    result = (await (socket as unknown as Socket).timeout(timeoutMs).emitWithAck(name, payload)) as Result<ResponseData<K>>;
  } catch (error) {
    throw new RequestFailed(socket.connected ? 'TIMEOUT' : 'DISCONNECTED', name, error instanceof Error ? error.message : String(error));
  }
  if (!result.ok) throw new RequestFailed(result.error.code, name, result.error.message);
  return result.data;
}

/** Seals one frame for sending; null when there is no key in use (drop the frame: fail closed). */
export type FrameSealer = (frame: Uint8Array, codec: FrameCodec) => Promise<Uint8Array> | null;

/** The keys one member holds, and its frames sealed with them (frame-worker.ts without the worker). */
export class FrameKeys implements KeySink {
  #self = '';
  /** Each generation's epoch key at the earliest step held; later steps are derived. */
  readonly #epochs = new Map<number, { step: number; key: Uint8Array }>();
  readonly #derived = new Map<string, Promise<SenderKeys>>();
  #sending: KeyRef | null = null;
  readonly #counters = new Map<bigint, bigint>();
  /** Frames sealed, frames dropped for want of a key, and the bytes before and after sealing. */
  readonly totals = { sealed: 0, dropped: 0, plainBytes: 0, sealedBytes: 0 };

  /**
   * Keys of their own, with no handshake: for load that goes through no signalling (bare
   * mediasoup, Janus), so it carries the same envelopes and costs the generator the same.
   */
  static async local(selfId = 'local'): Promise<FrameKeys> {
    const keys = new FrameKeys();
    const ref = { gen: randomGen(), step: 0 };
    keys.setSelf(selfId);
    keys.addKeys([{ ...ref, key: randomBytes(EPOCH_KEY_BYTES) }]);
    keys.use(ref);
    return keys;
  }

  setSelf(id: string): void {
    this.#self = id;
  }

  addKeys(keys: (KeyRef & { key: Uint8Array })[]): void {
    for (const { gen, step, key } of keys) {
      const known = this.#epochs.get(gen);
      if (!known || step < known.step) {
        this.#epochs.set(gen, { step, key });
        this.#drop(gen);
      }
    }
  }

  use(ref: KeyRef): void {
    this.#sending = ref;
  }

  forget(gens: number[]): void {
    for (const gen of gens) {
      this.#epochs.delete(gen);
      this.#drop(gen);
    }
    if (this.#sending && gens.includes(this.#sending.gen)) this.#sending = null;
  }

  #drop(gen: number): void {
    for (const name of this.#derived.keys()) if (name.startsWith(`${gen}:`)) this.#derived.delete(name);
  }

  /** The key this member seals with now, if any. */
  get sending(): KeyRef | null {
    return this.#sending;
  }

  /** A sender's SFrame keys for one key id, if this member holds that epoch: to seal (its own) or to open. */
  keysFor(ref: KeyRef, senderId: string, use: 'encrypt' | 'decrypt'): Promise<SenderKeys> | undefined {
    const name = `${ref.gen}:${ref.step}:${senderId}:${use}`;
    let keys = this.#derived.get(name);
    if (!keys) {
      const known = this.#epochs.get(ref.gen);
      if (!known || ref.step < known.step) return undefined;
      keys = ratchetBy(known.key, ref.step - known.step)
        .then((epochKey) => senderBaseKey(epochKey, senderId))
        .then((base) => deriveSenderKeys(base, kidOf(ref), use));
      this.#derived.set(name, keys);
    }
    return keys;
  }

  /** Seals a frame under this member's key in use with the key id's next counter, or null (no key: drop it). */
  readonly seal: FrameSealer = (frame, codec) => {
    const ref = this.#sending;
    const keys = ref && this.keysFor(ref, this.#self, 'encrypt');
    if (!ref || !keys) {
      this.totals.dropped++;
      return null;
    }
    // The counter is taken now, before anything is awaited: every frame of every stream gets its own.
    const kid = kidOf(ref);
    const ctr = this.#counters.get(kid) ?? 0n;
    this.#counters.set(kid, ctr + 1n);
    return keys.then(async (k) => {
      const sealed = await encryptFrame(frame, codec, kid, ctr, k);
      this.totals.sealed++;
      this.totals.plainBytes += frame.length;
      this.totals.sealedBytes += sealed.length;
      return sealed;
    });
  };

  /** Opens a member's frame (another's, or its own) with the keys held here: checks in tests. */
  open(frame: Uint8Array, codec: FrameCodec, senderId: string): Promise<DecryptFrameResult> {
    return decryptFrame(frame, codec, (kid) => {
      const ref = refOf(kid);
      return ref ? this.keysFor(ref, senderId, 'decrypt') : undefined;
    });
  }
}

/**
 * A synthetic member's side of the key handshake: the browser's KeyExchange on a Socket.IO
 * client. Views (`room:view`, and the one `room:enter` or `room:resume` answered) and relayed
 * messages go in; its messages go out as `e2ee:relay` requests, and "keys ready" as
 * `media:keysReady`. With the room secret (a facilitator link) it pairs with everyone and, as
 * the first online facilitator, hands out the room's keys.
 *
 * The handshake belongs to the member, not to a connection: a member that reconnects on a new
 * socket `attach`es it (its messages then go through that one; events from an earlier socket
 * are ignored) and, once its seat is resumed, says so (`resumed`), as the browser does, so the
 * leader catches it up on any key switch it missed.
 */
export class SyntheticKeys {
  readonly frames = new FrameKeys();
  readonly #exchange: KeyExchange;
  #socket: Client | undefined;
  #views = 0;
  #lastView: RoomView | undefined;
  #waiters: (() => void)[] = [];
  /** Messages the server refused to relay, by error code (e.g. RATE_LIMITED; DISCONNECTED: not sent, no connection). */
  readonly relaysRefused = new Map<string, number>();

  /** `socket`: the connection to use from the start (else `attach` one before entering). */
  constructor(socket: Client | undefined, roomId: string, secret: LinkSecret) {
    const bytes = parseSecret(secret.secret);
    if (!bytes) throw new Error('not a link secret');
    this.#exchange = new KeyExchange(
      {
        roomId,
        secret: { kind: secret.kind, bytes },
        send: async (to, data) => {
          try {
            const current = this.#socket;
            // Like the browser's relay: nothing is queued for a connection that is not there.
            if (!current?.connected) throw new RequestFailed('DISCONNECTED', 'e2ee:relay', 'not connected');
            await ask(current, 'e2ee:relay', { to, data });
          } catch (error) {
            const code = error instanceof RequestFailed ? error.code : error instanceof Error ? error.message : String(error);
            this.relaysRefused.set(code, (this.relaysRefused.get(code) ?? 0) + 1);
            throw error;
          }
        },
        keysReady: () => {
          const current = this.#socket;
          if (current?.connected) void ask(current, 'media:keysReady', {}).catch(() => undefined);
        },
        changed: () => this.#changed(),
      },
      this.frames,
    );
    if (socket) this.attach(socket);
  }

  /** From now on this socket carries the handshake: its views and relayed messages go in, messages go out through it. */
  attach(socket: Client): void {
    this.#socket = socket;
    socket.on('room:view', ({ view }) => {
      if (socket !== this.#socket) return;
      this.#views++;
      this.#lastView = view;
      this.#exchange.setView(view);
    });
    socket.on('e2ee:relay', ({ from, data }) => {
      if (socket === this.#socket) this.#exchange.receive(from, data);
    });
  }

  /** How many views were pushed so far: pass it to `entered` with the view the entry answered. */
  get viewsSeen(): number {
    return this.#views;
  }

  /** The view `room:enter` (or `room:resume`) answered, unless a newer one was pushed meanwhile (`seen`: viewsSeen before the request). */
  entered(view: RoomView, seen: number): void {
    if (this.#views === seen) this.#exchange.setView(view);
  }

  /**
   * The seat was taken back on a new connection: hello again to the facilitators, so the
   * leader catches this member up on a key switch it missed. `view`: what `room:resume`
   * answered (`seen`: viewsSeen before the request); the hellos go with it, or with the view
   * pushed since.
   */
  resumed(view: RoomView, seen: number): void {
    this.#exchange.resumed();
    this.#exchange.setView(this.#views === seen || !this.#lastView ? view : this.#lastView);
  }

  get status(): KeyStatus {
    return this.#exchange.status;
  }

  /** Resolves once this member has a key in use (its frames go out from then on). */
  async keyed(timeoutMs = 15_000): Promise<KeyRef> {
    const deadline = Date.now() + timeoutMs;
    while (!this.frames.sending) {
      if (Date.now() > deadline) throw new Error(`no key within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.frames.sending;
  }

  #changed(): void {
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  close(): void {
    this.#exchange.close();
    this.#socket = undefined;
  }
}

/** A room's link secrets, made as the facilitator's browser makes them. */
export interface RoomSecrets {
  /** The facilitator link's secret (the room secret). */
  facilitator: LinkSecret;
  /** The secret of the invite link with this id. */
  invite(inviteId: string): Promise<LinkSecret>;
}

/** A new room secret (the server never sees it), and invite secrets derived from it. */
export function roomSecrets(roomSecret = newRoomSecret()): RoomSecrets {
  const bytes = parseSecret(roomSecret)!;
  return {
    facilitator: { kind: 'room', secret: roomSecret },
    invite: async (inviteId) => ({ kind: 'invite', secret: toBase64url(await inviteSecret(bytes, inviteId)) }),
  };
}

/** A room made the way the browser makes one: `room:create`, with a room secret of its own and the shared invite's secret. */
export interface CreatedRoom {
  roomId: string;
  facilitatorToken: string;
  inviteToken: string;
  inviteId: string;
  /** The facilitator link's secret. */
  facilitatorSecret: LinkSecret;
  /** The shared invite link's secret. */
  inviteSecret: LinkSecret;
  secrets: RoomSecrets;
}

export async function createRoomWithSecrets(url: string, payload: RequestPayload<'room:create'> = {}): Promise<CreatedRoom> {
  const socket: Client = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  try {
    const created = await ask(socket, 'room:create', payload);
    const secrets = roomSecrets();
    return { ...created, facilitatorSecret: secrets.facilitator, inviteSecret: await secrets.invite(created.inviteId), secrets };
  } finally {
    socket.disconnect();
  }
}

/** A link's path and fragment as the browser builds them: `/room/<id>#k=<token>&i=<secret>` (or `&s=`). */
export const roomPath = (roomId: string, token: string, secret: LinkSecret): string => `/room/${roomId}#k=${encodeURIComponent(token)}&${linkSecretParam(secret)}`;
