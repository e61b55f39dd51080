import { ProtocolFailure } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { RESUME_RETRY_MAX_MS, resumeOutcome, resumeRetryDelay } from './reconnect';

describe('resumeOutcome', () => {
  it('gives the seat up only when the server says so', () => {
    expect(resumeOutcome(new ProtocolFailure('FORBIDDEN', 'no'))).toBe('seat-lost');
    expect(resumeOutcome(new ProtocolFailure('BAD_REQUEST', 'no'))).toBe('seat-lost');
    expect(resumeOutcome(new ProtocolFailure('NOT_FOUND', 'gone'))).toBe('session-gone');
  });

  it('tries again when the server or the connection is not there right now', () => {
    expect(resumeOutcome(new ProtocolFailure('UNAVAILABLE', 'busy'))).toBe('retry');
    expect(resumeOutcome(new ProtocolFailure('INTERNAL', 'no answer'))).toBe('retry');
    expect(resumeOutcome(new ProtocolFailure('RATE_LIMITED', 'slow down'))).toBe('retry');
    expect(resumeOutcome(new Error('socket has been disconnected'))).toBe('retry');
  });
});

describe('resumeRetryDelay', () => {
  it('doubles up to a ceiling', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map((n) => resumeRetryDelay(n, 0.5))).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('spreads the wait by up to a quarter either way', () => {
    expect(resumeRetryDelay(1, 0)).toBe(375);
    expect(resumeRetryDelay(1, 0.999)).toBeLessThanOrEqual(625);
    expect(resumeRetryDelay(20, 0.999)).toBeLessThanOrEqual(RESUME_RETRY_MAX_MS * 1.25);
  });
});
