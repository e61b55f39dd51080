import {
  MAX_MESSAGE_BYTES,
  ProtocolFailure,
  requestNames,
  requests,
  summariseZodError,
  type ParsedRequest,
  type ProtocolError,
  type RequestName,
  type ResponseData,
  type Result,
} from '@group-room/shared';
import * as mediasoup from 'mediasoup';
import type { Socket } from 'socket.io';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Release, RequestLimits } from './request-limits.js';

export type RequestHandlers = {
  [K in RequestName]: (payload: ParsedRequest<K>) => Promise<ResponseData<K>>;
};

/** What a node serves: a request without a handler (e.g. load-test requests in production) is refused. */
export type ServedRequests = Partial<RequestHandlers>;

type Ack = (result: Result<unknown>) => void;

/**
 * The most a message may be before the connection is closed without an answer (Socket.IO's
 * maxHttpBufferSize). Between MAX_MESSAGE_BYTES and this, a request is answered TOO_LARGE
 * first, so the client knows what happened.
 */
export const MESSAGE_HARD_CAP = 4 * MAX_MESSAGE_BYTES;

const tooLarge = (): Result<unknown> => ({ ok: false, error: { code: 'TOO_LARGE', message: `Messages may be at most ${MAX_MESSAGE_BYTES / 1024} KiB` } });

/** A request's size on the wire, near enough: its arguments as JSON (Socket.IO's encoding). */
const messageBytes = (args: readonly unknown[]): number => Buffer.byteLength(JSON.stringify(args) ?? '');

/**
 * The socket edge: every request is let in by the connection's limits (or refused with
 * RATE_LIMITED before anything is done), parsed with its schema, handled, and answered with a
 * typed result or error. Nothing thrown by a handler escapes to crash the process.
 * `viewsSent`: views held back to be sent together (see ViewBatcher) settle before an answer goes,
 * so a client always has the view of its change, or a newer one, when the answer comes.
 */
export function bindRequests(
  socket: Socket,
  handlers: ServedRequests,
  log: Logger,
  limits: RequestLimits,
  metrics?: Metrics,
  viewsSent: () => Promise<void> | undefined = () => undefined,
): void {
  const known = new Set<string>(requestNames);

  /*
   * Sizes are measured from the raw packets as they arrive (cheap), and a request is measured
   * itself only once a packet over the limit was seen on this connection: normal traffic costs
   * nothing more. The oversized request is answered TOO_LARGE and the connection closed.
   */
  let oversized = false;
  socket.conn.on('packet', (packet: { type: string; data?: unknown }) => {
    const { data } = packet;
    if (packet.type !== 'message') return;
    // A string's UTF-8 is at most three bytes a character: most packets need no counting.
    const bytes = typeof data === 'string' ? (data.length * 3 <= MAX_MESSAGE_BYTES ? 0 : Buffer.byteLength(data)) : Buffer.isBuffer(data) ? data.length : 0;
    if (bytes > MAX_MESSAGE_BYTES) oversized = true;
  });
  /** Whether this message (its name and arguments) is over the limit: then it is answered (if it can be) and the connection closed. */
  const refusedForSize = (message: unknown[], ack: unknown): boolean => {
    if (!oversized || messageBytes(typeof ack === 'function' ? message.slice(0, -1) : message) <= MAX_MESSAGE_BYTES) return false;
    if (typeof ack === 'function') (ack as Ack)(tooLarge());
    // The answer is written before the close (the engine sends what it holds first).
    socket.disconnect(true);
    return true;
  };

  for (const name of requestNames) {
    socket.on(name, async (...args: unknown[]) => {
      const ack = args.at(-1);
      if (refusedForSize([name, ...args], ack)) {
        metrics?.answered(name, 0, 'TOO_LARGE');
        return;
      }
      if (typeof ack !== 'function') return; // nobody to answer; ignore rather than act blind
      const arrived = performance.now();
      const reply = (result: Result<unknown>) => {
        metrics?.answered(name, (performance.now() - arrived) / 1000, result.ok ? undefined : result.error.code);
        (ack as Ack)(result);
      };
      let release: Release | undefined;
      let result: Result<unknown>;
      try {
        // Counted before the first await: a burst arriving together cannot all pass one check.
        release = await limits.admit();
        const parsed = requests[name].request.safeParse(args.length > 1 ? args[0] : undefined);
        if (!parsed.success) {
          reply({ ok: false, error: { code: 'BAD_REQUEST', message: summariseZodError(parsed.error) } });
          return;
        }
        // Each handler is typed by its own name; the loop cannot express that correlation.
        const handler = handlers[name] as ((payload: unknown) => Promise<unknown>) | undefined;
        if (!handler) throw new ProtocolFailure('FORBIDDEN', 'This server does not serve that request');
        result = { ok: true, data: await handler(parsed.data) };
      } catch (error) {
        result = { ok: false, error: toProtocolError(error, name, log) };
      } finally {
        release?.();
      }
      const sent = viewsSent();
      if (sent) await sent;
      reply(result);
    });
  }

  // Answered at once with nothing done, as cheaply as a refusal would be: not counted.
  socket.onAny((event: string, ...args: unknown[]) => {
    if (known.has(event)) return;
    const ack = args.at(-1);
    if (refusedForSize([event, ...args], ack)) return;
    if (typeof ack === 'function') {
      (ack as Ack)({ ok: false, error: { code: 'BAD_REQUEST', message: 'Unknown request' } });
    }
  });
}

export function toProtocolError(error: unknown, request: string, log: Logger): ProtocolError {
  if (error instanceof ProtocolFailure) return error.toJSON();
  // mediasoup validates WebRTC parameters itself and reports bad ones as TypeError. Any other
  // TypeError is a bug on the server: logged and answered INTERNAL below, like any failure.
  if ((error instanceof TypeError && thrownByMediasoup(error)) || error instanceof mediasoup.errors.UnsupportedError) {
    return { code: 'BAD_REQUEST', message: error.message.slice(0, 300) };
  }
  if (error instanceof mediasoup.errors.NotFoundError) {
    return { code: 'NOT_FOUND', message: error.message.slice(0, 300) };
  }
  // Logged here, never answered: the client gets a fixed message. The logger cuts the message
  // short and elides what it quotes (an error's message may quote the input it choked on).
  log.error('request failed', {
    request,
    errorType: error instanceof Error ? error.name : typeof error,
    error: error instanceof Error ? error.message : String(error),
  });
  return { code: 'INTERNAL', message: 'Something went wrong on the server' };
}

/** Whether the error was made inside mediasoup (its stack's first frame is mediasoup's own code). */
function thrownByMediasoup(error: Error): boolean {
  const firstFrame = error.stack?.split('\n').find((line) => line.trimStart().startsWith('at ')) ?? '';
  return /[\\/]node_modules[\\/]mediasoup[\\/]/.test(firstFrame);
}
