import { ProtocolFailure } from '@group-room/shared';

/** A request's failure in words for people (protocol messages are written for them). */
export function describeError(error: unknown): string {
  if (error instanceof ProtocolFailure) return error.message;
  return error instanceof Error ? error.message : 'Something went wrong.';
}
