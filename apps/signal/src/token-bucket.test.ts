import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

/** How many of `n` takes at `now` succeed. */
const takes = (bucket: TokenBucket, n: number, now: number): number => Array.from({ length: n }, () => bucket.take(now)).filter(Boolean).length;

describe('TokenBucket', () => {
  it('allows up to its capacity at once, then refuses', () => {
    const bucket = new TokenBucket(5, 5000);
    expect(takes(bucket, 5, 1_000)).toBe(5);
    expect(bucket.take(1_000)).toBe(false);
    expect(bucket.take(1_001)).toBe(false);
  });

  it('refills one per interval, not before', () => {
    const bucket = new TokenBucket(3, 1000);
    expect(takes(bucket, 3, 0)).toBe(3);
    expect(bucket.take(999)).toBe(false);
    expect(bucket.take(1_000)).toBe(true);
    expect(bucket.take(1_000)).toBe(false);
    expect(takes(bucket, 5, 3_000)).toBe(2);
  });

  it('adds up partial intervals across refused takes', () => {
    const bucket = new TokenBucket(1, 1000);
    expect(bucket.take(0)).toBe(true);
    expect(bucket.take(400)).toBe(false);
    expect(bucket.take(800)).toBe(false);
    expect(bucket.take(1_000)).toBe(true);
  });

  it('never holds more than its capacity, however long it was idle', () => {
    const bucket = new TokenBucket(2, 1000);
    expect(bucket.take(0)).toBe(true);
    expect(takes(bucket, 10, 3_600_000)).toBe(2);
  });

  it('starts full, whatever the first time is', () => {
    expect(takes(new TokenBucket(4, 1000), 6, 123_456_789)).toBe(4);
    expect(takes(new TokenBucket(4, 1000), 6, 0)).toBe(4);
  });

  it('is not emptied by the clock stepping back (the wall clock can be corrected)', () => {
    const bucket = new TokenBucket(5, 5000);
    expect(takes(bucket, 2, 1_000_000)).toBe(2);
    // An hour back: no refill, but the three tokens left are still there.
    expect(takes(bucket, 3, 1_000_000 - 3_600_000)).toBe(3);
    expect(bucket.take(1_000_000 - 3_600_000)).toBe(false);
    // And refilling goes on from the new time.
    expect(bucket.take(1_000_000 - 3_600_000 + 5_000)).toBe(true);
  });
});
