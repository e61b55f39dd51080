import { ProtocolFailure } from '@group-room/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HandshakeLimit, InFlight, KeysReadyLimit, mediaSetUpBurst, RELAY_BURST, RELAY_PER_SECOND, RelayLimit, RequestLimits, SignalLimit } from './request-limits.js';

/** How a promise settled: 'ok', or the code of the ProtocolFailure it rejected with. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof ProtocolFailure) return error.code;
    throw error;
  }
}

const outcomes = (promises: Promise<unknown>[]) => Promise.all(promises.map(outcome));

describe('InFlight', () => {
  it('gives out places up to its limit, then refuses with RATE_LIMITED until one is given back', () => {
    const gauge = new InFlight(2, 'Too many at once');
    const first = gauge.take();
    gauge.take();
    expect(gauge.count).toBe(2);
    expect(() => gauge.take()).toThrow(new ProtocolFailure('RATE_LIMITED', 'Too many at once'));
    first();
    expect(gauge.count).toBe(1);
    expect(() => gauge.take()).not.toThrow();
  });

  it('gives a place back once, however often its release is called', () => {
    const gauge = new InFlight(3, 'x');
    const release = gauge.take();
    gauge.take();
    release();
    release();
    expect(gauge.count).toBe(1);
  });
});

describe('RequestLimits', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('counts requests in flight before anything is awaited: a burst cannot all pass', async () => {
    const limits = new RequestLimits({ perSecond: 1000, inFlight: 3 });
    // Started together, none released: only three get in.
    const admitted = Array.from({ length: 5 }, () => limits.admit());
    expect(await outcomes(admitted)).toEqual(['ok', 'ok', 'ok', 'RATE_LIMITED', 'RATE_LIMITED']);
    // Answering one makes a place for the next.
    (await admitted[0]!)();
    expect(await outcome(limits.admit())).toBe('ok');
    expect(await outcome(limits.admit())).toBe('RATE_LIMITED');
  });

  it('lets a burst of `perSecond` in, refuses the rest of that second, and lets requests in again after it', async () => {
    vi.useFakeTimers();
    const limits = new RequestLimits({ perSecond: 4, inFlight: 100 });
    const admit = async () => {
      const release = await limits.admit();
      release();
    };
    expect(await outcomes(Array.from({ length: 6 }, admit))).toEqual(['ok', 'ok', 'ok', 'ok', 'RATE_LIMITED', 'RATE_LIMITED']);
    await vi.advanceTimersByTimeAsync(999);
    expect(await outcome(admit())).toBe('RATE_LIMITED');
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcomes(Array.from({ length: 5 }, admit))).toEqual(['ok', 'ok', 'ok', 'ok', 'RATE_LIMITED']);
  });

  it('gives the in-flight place back when the rate refuses', async () => {
    const limits = new RequestLimits({ perSecond: 1, inFlight: 1 });
    (await limits.admit())();
    const rate = 'Too many requests: wait a moment';
    await expect(limits.admit()).rejects.toThrow(rate);
    // Refused for the rate again, not for a place still taken by the refused one.
    await expect(limits.admit()).rejects.toThrow(rate);
  });

  it('allows a full room\'s media set-up: two consumers per other person at once, and more', () => {
    expect(mediaSetUpBurst(16)).toBe(48);
    expect(mediaSetUpBurst(16)).toBeGreaterThan(2 * 15);
    expect(mediaSetUpBurst(50)).toBeGreaterThan(2 * 49);
  });
});

describe('SignalLimit', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets a person send five at once, then one every five seconds', async () => {
    vi.useFakeTimers();
    const limit = new SignalLimit();
    const take = () => limit.take('room', 'bea');
    expect(await outcomes(Array.from({ length: 6 }, take))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'RATE_LIMITED']);
    await vi.advanceTimersByTimeAsync(4999);
    expect(await outcome(take())).toBe('RATE_LIMITED');
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcomes([take(), take()])).toEqual(['ok', 'RATE_LIMITED']);
    await vi.advanceTimersByTimeAsync(5000);
    expect(await outcomes([take(), take()])).toEqual(['ok', 'RATE_LIMITED']);
  });

  it('counts each person apart, in each room', async () => {
    const limit = new SignalLimit();
    await outcomes(Array.from({ length: 5 }, () => limit.take('room', 'bea')));
    expect(await outcome(limit.take('room', 'bea'))).toBe('RATE_LIMITED');
    expect(await outcome(limit.take('room', 'mo'))).toBe('ok');
    expect(await outcome(limit.take('other-room', 'bea'))).toBe('ok');
  });

  it('says why it refused', async () => {
    const limit = new SignalLimit();
    await outcomes(Array.from({ length: 5 }, () => limit.take('room', 'bea')));
    await expect(limit.take('room', 'bea')).rejects.toThrow(new ProtocolFailure('RATE_LIMITED', 'Too many signals at once: wait a few seconds'));
  });
});

describe('RelayLimit', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets a seat send a burst of 100, then 40 a second; the burst comes back after 10 s', async () => {
    vi.useFakeTimers();
    const limit = new RelayLimit();
    const take = () => limit.take('room', 'fay');
    const burst = await outcomes(Array.from({ length: RELAY_BURST + 1 }, take));
    expect(burst.slice(0, RELAY_BURST).every((o) => o === 'ok')).toBe(true);
    expect(burst[RELAY_BURST]).toBe('RATE_LIMITED');
    expect(RELAY_BURST).toBe(100);
    expect(RELAY_PER_SECOND).toBe(40);
    for (let second = 1; second <= 3; second++) {
      await vi.advanceTimersByTimeAsync(1000);
      const more = await outcomes(Array.from({ length: RELAY_PER_SECOND + 1 }, take));
      expect(more.filter((o) => o === 'ok')).toHaveLength(RELAY_PER_SECOND);
      expect(more.at(-1)).toBe('RATE_LIMITED');
    }
    await vi.advanceTimersByTimeAsync(10_000);
    expect((await outcomes(Array.from({ length: RELAY_BURST + 1 }, take))).filter((o) => o === 'ok')).toHaveLength(RELAY_BURST);
  });

  it('counts each seat apart, in each room, and says why it refused', async () => {
    const limit = new RelayLimit();
    await outcomes(Array.from({ length: RELAY_BURST }, () => limit.take('room', 'fay')));
    await expect(limit.take('room', 'fay')).rejects.toThrow(new ProtocolFailure('RATE_LIMITED', 'Too many encryption messages at once: wait a moment'));
    expect(await outcome(limit.take('room', 'mo'))).toBe('ok');
    expect(await outcome(limit.take('other-room', 'fay'))).toBe('ok');
  });
});

describe('KeysReadyLimit', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets a seat ask five times at once, then once every two seconds', async () => {
    vi.useFakeTimers();
    const limit = new KeysReadyLimit();
    const take = () => limit.take('room', 'mo');
    expect(await outcomes(Array.from({ length: 6 }, take))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'RATE_LIMITED']);
    await vi.advanceTimersByTimeAsync(2000);
    expect(await outcomes([take(), take()])).toEqual(['ok', 'RATE_LIMITED']);
    expect(await outcome(limit.take('room', 'bea'))).toBe('ok');
  });
});

describe('HandshakeLimit', () => {
  it('lets a burst through, then the steady rate, per address; full buckets are forgotten', () => {
    let now = 0;
    const limit = new HandshakeLimit({ perSecond: 10, burst: 30 }, () => now);
    const taken = (key: string, n: number) => Array.from({ length: n }, () => limit.take(key)).filter(Boolean).length;
    expect(taken('a', 40)).toBe(30);
    expect(taken('b', 5)).toBe(5); // another address is counted on its own
    now += 500;
    expect(taken('a', 10)).toBe(5);
    now += 100;
    expect(taken('a', 10)).toBe(1);
    now += 10_000;
    expect(taken('a', 40)).toBe(30);
    // Once both have filled up again (3 s), nothing of either is held.
    now += 3_500;
    limit.take('c');
    expect(limit.size).toBe(1);
  });
});
