import {
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

/** The typed connection to the signalling server (same origin as the page). */
export class SignalClient {
  readonly socket: SignalSocket;

  constructor(url?: string) {
    const options = { transports: ['websocket'], autoConnect: true };
    this.socket = url ? io(url, options) : io(options);
  }

  /** Send a request; resolve with its typed data or reject with a ProtocolFailure. */
  async request<K extends RequestName>(name: K, payload: RequestPayload<K>): Promise<ResponseData<K>> {
    // socket.io types emit per event name; a generic K cannot be narrowed through that.
    const timed = this.socket.timeout(REQUEST_TIMEOUT_MS) as unknown as {
      emitWithAck(event: K, payload: RequestPayload<K>): Promise<Result<ResponseData<K>>>;
    };
    let result: Result<ResponseData<K>>;
    try {
      result = await timed.emitWithAck(name, payload);
    } catch {
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
    this.socket.close();
  }
}
