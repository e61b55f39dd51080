import {
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

export type RequestHandlers = {
  [K in RequestName]: (payload: ParsedRequest<K>) => Promise<ResponseData<K>>;
};

type Ack = (result: Result<unknown>) => void;

/**
 * The socket edge: every request is parsed with its schema, handled, and answered with a
 * typed result or error. Nothing thrown by a handler escapes to crash the process.
 */
export function bindRequests(socket: Socket, handlers: RequestHandlers, log: Logger): void {
  const known = new Set<string>(requestNames);

  for (const name of requestNames) {
    socket.on(name, async (...args: unknown[]) => {
      const ack = args.at(-1);
      if (typeof ack !== 'function') return; // nobody to answer; ignore rather than act blind
      const reply = ack as Ack;
      const parsed = requests[name].request.safeParse(args.length > 1 ? args[0] : undefined);
      if (!parsed.success) {
        reply({ ok: false, error: { code: 'BAD_REQUEST', message: summariseZodError(parsed.error) } });
        return;
      }
      try {
        // Each handler is typed by its own name; the loop cannot express that correlation.
        const handler = handlers[name] as (payload: unknown) => Promise<unknown>;
        reply({ ok: true, data: await handler(parsed.data) });
      } catch (error) {
        reply({ ok: false, error: toProtocolError(error, name, log) });
      }
    });
  }

  socket.onAny((event: string, ...args: unknown[]) => {
    if (known.has(event)) return;
    const ack = args.at(-1);
    if (typeof ack === 'function') {
      (ack as Ack)({ ok: false, error: { code: 'BAD_REQUEST', message: 'Unknown request' } });
    }
  });
}

export function toProtocolError(error: unknown, request: string, log: Logger): ProtocolError {
  if (error instanceof ProtocolFailure) return error.toJSON();
  // mediasoup validates WebRTC parameters itself and reports bad ones as TypeError.
  if (error instanceof TypeError || error instanceof mediasoup.errors.UnsupportedError) {
    return { code: 'BAD_REQUEST', message: error.message.slice(0, 300) };
  }
  if (error instanceof mediasoup.errors.NotFoundError) {
    return { code: 'NOT_FOUND', message: error.message.slice(0, 300) };
  }
  log.error('request failed', { request, error: error instanceof Error ? error.message : String(error) });
  return { code: 'INTERNAL', message: 'Something went wrong on the server' };
}
