import { ProtocolFailure } from '@group-room/shared';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/*
 * What one client may ask of the server: requests per second and at once per connection,
 * room changes waiting per connection, private signals, encryption messages and key frame
 * requests per person. Each refusal is RATE_LIMITED and comes before anything was done.
 */

/** Gives back what a request took; calling it again does nothing. */
export type Release = () => void;

/**
 * A client's largest burst of requests that is not abuse: consumers announced one by one, each
 * resumed by its own request, at once: everyone else's microphone and camera (two per other
 * person) when they all start their media together after this client is ready, or when
 * `media:resync` announces again what a resumed client had not set up. Beside them, a dozen or
 * so set-up requests of its own and at most two shared screens (room.ts ShareCount), which the
 * 16 covers. (What the others already send when the client is ready comes in `media:ready`'s
 * answer and is resumed by one `consumers:resume`: one request.) The request limits per
 * connection never go below it, so a full room's media always starts.
 */
export const mediaSetUpBurst = (roomCapacity: number): number => 2 * roomCapacity + 16;

/**
 * Room changes one connection may have waiting in its room's queue at once (commands, media
 * steps that record state). A client has one or two at a time; a flood of allowed commands
 * then holds a few places in the queue, so whoever comes next waits behind a few tasks, not
 * behind the flood.
 */
export const ROOM_CHANGES_PER_CONNECTION = 8;

/**
 * A count of what is under way, with a ceiling. Taken and given back synchronously, so
 * requests racing in together cannot all pass one check made before an await.
 */
export class InFlight {
  readonly #limit: number;
  readonly #refusal: string;
  #count = 0;

  constructor(limit: number, refusal: string) {
    this.#limit = limit;
    this.#refusal = refusal;
  }

  get count(): number {
    return this.#count;
  }

  /** Take one place, or throw RATE_LIMITED when all are taken. */
  take(): Release {
    if (this.#count >= this.#limit) throw new ProtocolFailure('RATE_LIMITED', this.#refusal);
    this.#count++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#count--;
    };
  }
}

interface Limiter {
  consume(key: string): Promise<RateLimiterRes>;
}

/** Take one point from `limiter` for `key`; its refusal becomes RATE_LIMITED with `refusal`'s text. */
export async function consume(limiter: Limiter, key: string, refusal: string | ((res: RateLimiterRes) => string)): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (error) {
    // The library refuses with its result object; anything else is a real failure.
    if (error instanceof RateLimiterRes) throw new ProtocolFailure('RATE_LIMITED', typeof refusal === 'string' ? refusal : refusal(error));
    throw error;
  }
}

export interface RequestLimitOptions {
  /** Requests per second: a burst of this many, then refused until the second is over. */
  perSecond: number;
  /** Requests being handled at once (from arrival to answer). */
  inFlight: number;
}

/** One connection's limits, checked on every request before it is parsed or handled. */
export class RequestLimits {
  /* One limiter per connection (its only key is the connection): it goes with the socket. */
  readonly #rate: RateLimiterMemory;
  readonly #inFlight: InFlight;

  constructor(options: RequestLimitOptions) {
    this.#rate = new RateLimiterMemory({ points: options.perSecond, duration: 1 });
    this.#inFlight = new InFlight(options.inFlight, 'Too many requests at once: wait for the answers');
  }

  /**
   * Let one request in, or reject with RATE_LIMITED. It is counted in flight before this
   * returns (before any await), and holds its place until the returned release is called.
   */
  async admit(): Promise<Release> {
    const release = this.#inFlight.take();
    try {
      await consume(this.#rate, 'connection', 'Too many requests: wait a moment');
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }
}

/**
 * Private signals, per person (whichever connection they come from, so a reconnect does not
 * start afresh): five at once, then one every five seconds, the extra four again after 20 s.
 */
export class SignalLimit {
  readonly #limiter = new BurstyRateLimiter(
    new RateLimiterMemory({ keyPrefix: 'signal', points: 1, duration: 5 }),
    new RateLimiterMemory({ keyPrefix: 'signal-burst', points: 4, duration: 20 }),
  );

  /** Take one for this person in this room, or throw RATE_LIMITED. */
  take(roomId: string, memberId: string): Promise<void> {
    return consume(this.#limiter, `${roomId}/${memberId}`, 'Too many signals at once: wait a few seconds');
  }
}

/**
 * Check-out answers, per person (refused attempts count too): each check-out takes one answer,
 * so five at once (retries while no facilitator is connected), then one every five seconds,
 * the extra four again after 20 s.
 */
export class CheckoutAnswerLimit {
  readonly #limiter = new BurstyRateLimiter(
    new RateLimiterMemory({ keyPrefix: 'checkout', points: 1, duration: 5 }),
    new RateLimiterMemory({ keyPrefix: 'checkout-burst', points: 4, duration: 20 }),
  );

  take(roomId: string, memberId: string): Promise<void> {
    return consume(this.#limiter, `${roomId}/${memberId}`, 'Too many check-out answers: wait a few seconds');
  }
}

/**
 * End-to-end encryption's relayed messages, per sender seat (whichever connection it comes
 * from): a burst of 100 at once, then 40 a second (below the 120 requests a second any socket
 * may send). A facilitator's reload in a full room of 15 sends about 56 at once (a hello and
 * an answer to each of 14 browsers, then a new key and the switch to it), so the burst leaves
 * room for that. Each message is already bounded in size by its schema (4 KiB).
 */
export const RELAY_PER_SECOND = 40;
export const RELAY_BURST = 100;

export class RelayLimit {
  readonly #limiter = new BurstyRateLimiter(
    new RateLimiterMemory({ keyPrefix: 'relay', points: RELAY_PER_SECOND, duration: 1 }),
    new RateLimiterMemory({ keyPrefix: 'relay-burst', points: RELAY_BURST - RELAY_PER_SECOND, duration: 10 }),
  );

  /** Take one for this seat in this room, or throw RATE_LIMITED. */
  take(roomId: string, memberId: string): Promise<void> {
    return consume(this.#limiter, `${roomId}/${memberId}`, 'Too many encryption messages at once: wait a moment');
  }
}

/**
 * "Keys ready" (each asks every sender of the video a person receives for a key frame), per
 * seat: 5 at once, then one every 2 s. A browser says it once per key it installs.
 */
export class KeysReadyLimit {
  readonly #limiter = new BurstyRateLimiter(
    new RateLimiterMemory({ keyPrefix: 'keys-ready', points: 1, duration: 2 }),
    new RateLimiterMemory({ keyPrefix: 'keys-ready-burst', points: 4, duration: 10 }),
  );

  take(roomId: string, memberId: string): Promise<void> {
    return consume(this.#limiter, `${roomId}/${memberId}`, 'Too many key frame requests: wait a moment');
  }
}

/**
 * New sockets per address on this node: a burst, then a steady rate (a token bucket per
 * address key). Taken synchronously as a handshake arrives, before anything else is done for
 * it, and kept in memory: a flood of handshakes costs no Redis call. A bucket that has filled
 * up again is forgotten, so only addresses seen in the last few seconds are held.
 */
export class HandshakeLimit {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  #prunedAt: number;

  constructor(options: { perSecond: number; burst: number }, now: () => number = () => performance.now()) {
    this.#perSecond = options.perSecond;
    this.#burst = Math.max(1, options.burst);
    this.#now = now;
    this.#prunedAt = now();
  }

  /** Addresses held now (tests: the map does not grow for ever). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Take one handshake for `key`: false when its bucket is empty. */
  take(key: string): boolean {
    const now = this.#now();
    this.#prune(now);
    const bucket = this.#buckets.get(key);
    const tokens = bucket ? this.#level(bucket, now) : this.#burst;
    if (tokens < 1) return false;
    this.#buckets.set(key, { tokens: tokens - 1, at: now });
    return true;
  }

  #level(bucket: { tokens: number; at: number }, now: number): number {
    return Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond);
  }

  /** Once per refill time, forget the buckets that are full again. */
  #prune(now: number): void {
    if (now - this.#prunedAt < (this.#burst / this.#perSecond) * 1000) return;
    this.#prunedAt = now;
    for (const [key, bucket] of this.#buckets) if (this.#level(bucket, now) >= this.#burst) this.#buckets.delete(key);
  }
}
