import {
  ConnectRefusal,
  ProtocolFailure,
  events,
  type ClientToServerEvents,
  type EventName,
  type EventPayload,
  type RequestName,
  type RequestPayload,
  type ResponseData,
  type Result,
  type ServerToClientEvents,
} from '@group-room/shared';
import { io, type Socket } from 'socket.io-client';

export type SignalSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const REQUEST_TIMEOUT_MS = 15_000;

/** What a request made while this page is not in the session fails with: people read it. */
export const NOT_CONNECTED = 'You are not connected to the session right now. Try again in a moment.';

/** The requests that need no seat: they are how one gets one. */
const SEATLESS: ReadonlySet<RequestName> = new Set<RequestName>(['room:create', 'room:enter', 'room:resume']);

export interface SignalOptions {
  /** Another origin's server (tests); the page's own by default. */
  url?: string;
  /**
   * The room page's connection: requests that act in a room fail at once (UNAVAILABLE) unless
   * this connection holds a seat (see `seat`). Otherwise socket.io would hold them while the
   * connection is down and send them on the next one before the seat is resumed there.
   */
  seatGate?: boolean;
  /**
   * The room this connection is for (a room page's): sent in the handshake, so that with
   * several signalling nodes the connection is handed over to the one serving the room.
   */
  room?: string;
}

/** Sent to the node named as the room's home and refused there again (it is down): wait this long before the next try. */
const HANDOVER_RETRY_MS = 500;
const HANDOVER_RETRY_MAX_MS = 2000;

/**
 * The typed connection to the signalling server (same origin as the page). socket.io reconnects
 * by itself after a drop (a server's own disconnect excepted, see RoomClient); each new
 * connection starts without a seat.
 */
export class SignalClient {
  readonly socket: SignalSocket;
  readonly #gated: boolean;
  #seated = false;

  constructor({ url, seatGate = false, room }: SignalOptions = {}) {
    // Retries every 0.5–2 s (randomised) rather than Socket.IO's up-to-5 s: coming back soon
    // after the network does matters more to someone mid-sentence than a few more attempts.
    const options = { transports: ['websocket'], autoConnect: true, reconnectionDelay: 500, reconnectionDelayMax: 2000, ...(room ? { query: { room } } : {}) };
    this.socket = url ? io(url, options) : io(options);
    this.#gated = seatGate;
    if (room) this.#followRoom(room);
    // Registered first, so every other listener already sees the seat gone.
    this.socket.on('disconnect', () => {
      this.#seated = false;
    });
  }

  /**
   * Refused by a node because another one serves the room: connect again naming that node
   * (the proxy routes by it; kept for later reconnections, as the room stays there).
   */
  #followRoom(room: string): void {
    let hinted: string | undefined;
    /** Refusals in a row naming the node already asked for: each waits longer (capped). */
    let repeats = 0;
    this.socket.on('connect', () => {
      hinted = undefined;
      repeats = 0;
    });
    this.socket.on('connect_error', (error) => {
      const refusal = ConnectRefusal.safeParse((error as { data?: unknown }).data);
      if (!refusal.success) return;
      const { node } = refusal.data;
      // Named that node already and still landed elsewhere: it is down, and the room is
      // taken over once its lease lapses. Ask again later, backing off, never in a loop.
      repeats = hinted === node ? repeats + 1 : 0;
      hinted = node;
      this.socket.io.opts.query = { room, node };
      if (repeats === 0) {
        this.socket.connect();
        return;
      }
      const delay = Math.min(HANDOVER_RETRY_MS * 2 ** (repeats - 1), HANDOVER_RETRY_MAX_MS) * (1 + Math.random() / 2);
      setTimeout(() => {
        if (!this.socket.active) this.socket.connect();
      }, delay);
    });
  }

  /** Whether this connection holds a seat now (entered or resumed, and not dropped since). */
  get seated(): boolean {
    return this.#seated;
  }

  /** The server answered `room:enter` or `room:resume` on this connection. */
  seat(): void {
    this.#seated = this.socket.connected;
  }

  /** The server is going away: nothing more is sent until the seat is resumed on a new connection. */
  unseat(): void {
    this.#seated = false;
  }

  /** Send a request; resolve with its typed data or reject with a ProtocolFailure. */
  async request<K extends RequestName>(name: K, payload: RequestPayload<K>): Promise<ResponseData<K>> {
    if (this.#gated && !this.#seated && !SEATLESS.has(name)) throw new ProtocolFailure('UNAVAILABLE', NOT_CONNECTED);
    // socket.io types emit per event name; a generic K cannot be narrowed through that.
    const timed = this.socket.timeout(REQUEST_TIMEOUT_MS) as unknown as {
      emitWithAck(event: K, payload: RequestPayload<K>): Promise<Result<ResponseData<K>>>;
    };
    let result: Result<ResponseData<K>>;
    try {
      result = await timed.emitWithAck(name, payload);
    } catch (error) {
      // socket.io fails a request at once when its connection drops before the answer, and
      // holds one made while it is down (until the timeout) in case it comes back.
      if (error instanceof Error && error.message.includes('disconnected')) {
        throw new ProtocolFailure('UNAVAILABLE', 'The connection to the session was interrupted');
      }
      if (!this.socket.connected) throw new ProtocolFailure('UNAVAILABLE', 'The server could not be reached');
      throw new ProtocolFailure('INTERNAL', 'The server did not answer in time');
    }
    if (!result.ok) throw new ProtocolFailure(result.error.code, result.error.message);
    return result.data;
  }

  /** Listen to a server event; payloads are checked against the protocol before use. */
  on<K extends EventName>(name: K, listener: (payload: EventPayload<K>) => void): () => void {
    const wrapped = (raw: unknown) => {
      const parsed = events[name].safeParse(raw);
      if (parsed.success) listener(parsed.data as EventPayload<K>);
      else console.warn(`ignored malformed ${name} event`);
    };
    const target = this.socket as unknown as { on(e: string, l: (p: unknown) => void): void; off(e: string, l: (p: unknown) => void): void };
    target.on(name, wrapped);
    return () => target.off(name, wrapped);
  }

  close(): void {
    this.#seated = false;
    this.socket.close();
  }
}
