import { ProtocolFailure } from '@group-room/shared';

/*
 * How a resume's failure is read, and how long to wait before trying again: pure, so the
 * rules are tested apart from sockets and timers.
 */

/**
 * What a failed `room:resume` means: `retry` (the server or the connection is not there right
 * now), `seat-lost` (the credential is no longer good, or the seat is gone) or `session-gone`.
 */
export type ResumeOutcome = 'retry' | 'seat-lost' | 'session-gone';

export function resumeOutcome(error: unknown): ResumeOutcome {
  if (!(error instanceof ProtocolFailure)) return 'retry';
  switch (error.code) {
    case 'NOT_FOUND':
      return 'session-gone';
    case 'UNAVAILABLE': // the store is unreachable or busy, or this page's connection is down
    case 'RATE_LIMITED':
    case 'INTERNAL': // includes no answer in time
      return 'retry';
    default:
      // FORBIDDEN, and anything else that will not change by asking again
      return 'seat-lost';
  }
}

export const RESUME_RETRY_FIRST_MS = 500;
export const RESUME_RETRY_MAX_MS = 8000;

/**
 * The wait before the `attempt`th retry (1 = first): doubling from half a second up to eight,
 * spread by up to a quarter either way so a room's people do not all ask at the same moment
 * after a server restart. `random` is in [0, 1).
 */
export function resumeRetryDelay(attempt: number, random: number = Math.random()): number {
  const base = Math.min(RESUME_RETRY_MAX_MS, RESUME_RETRY_FIRST_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.75 + random * 0.5));
}
