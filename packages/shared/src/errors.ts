import { z } from 'zod';

/** Every failure a request can end in. Clients branch on `code`; `message` is for people. */
export const ErrorCode = z.enum([
  'BAD_REQUEST', // the payload failed its schema
  'NOT_FOUND', // the room, transport, producer or consumer does not exist (for this peer)
  'FORBIDDEN', // the actor may not do this
  'ROOM_FULL', // the room is at capacity
  'INVALID_STATE', // the request is valid but not now (e.g. media before joining)
  'RATE_LIMITED', // too many of these in a short time; try again shortly
  'TOO_LARGE', // the message is over MAX_MESSAGE_BYTES; the server closes the connection after this answer
  'UNAVAILABLE', // the room's store cannot be reached (or answered too late) or the room is too busy now; try again shortly
  'INTERNAL', // our fault; details are in the server log, never in the reply
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ProtocolError = z.object({
  code: ErrorCode,
  message: z.string(),
});
export type ProtocolError = z.infer<typeof ProtocolError>;

/** What every acknowledgement carries: a typed result or a typed error. */
export type Result<T> = { ok: true; data: T } | { ok: false; error: ProtocolError };

export function resultSchema<T extends z.ZodType>(data: T) {
  return z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), data }),
    z.object({ ok: z.literal(false), error: ProtocolError }),
  ]);
}

/** Thrown inside the server and the client to end a request with a typed error. */
export class ProtocolFailure extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolFailure';
    this.code = code;
  }
  toJSON(): ProtocolError {
    return { code: this.code, message: this.message };
  }
}

/** One line per zod issue, path first: enough for a developer, no echo of the input. */
export function summariseZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(payload)'}: ${issue.message}`)
    .join('; ');
}
