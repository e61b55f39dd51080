import { createHmac } from 'node:crypto';
import { RateLimiterMemory, RateLimiterRedis, RLWrapperTimeouts, type RateLimiterRes } from 'rate-limiter-flexible';
import { createClient, type RedisClientType } from 'redis';
import { derivedKey } from '../auth/keys.js';
import type { Config } from '../config.js';
import { addressGroup } from '../http/client-address.js';
import type { Release } from './request-limits.js';

/*
 * Limits per client address. Rates (room creations, access-key guesses) are counted in Redis
 * when REDIS_URL is set, so they hold across every node; sockets are counted by the node that
 * holds them (a node that dies takes its sockets and their count with it, where a count in
 * Redis would be left behind).
 */

/** A count per key over a fixed window. */
export interface WindowLimiter {
  consume(key: string): Promise<RateLimiterRes>;
  get(key: string): Promise<RateLimiterRes | null>;
  /** Set `key`'s count to `points` for a new window of `seconds`. */
  set(key: string, points: number, seconds: number): Promise<RateLimiterRes>;
}

/** Keys remembered for a while (each `remember` starts the while again), where the limits are kept. */
export class KeyMemory {
  readonly #limiter: WindowLimiter;
  readonly #seconds: number;

  constructor(limiter: WindowLimiter, seconds: number) {
    this.#limiter = limiter;
    this.#seconds = seconds;
  }

  async remember(key: string): Promise<void> {
    await this.#limiter.set(key, 1, this.#seconds);
  }

  async knows(key: string): Promise<boolean> {
    return (await this.#limiter.get(key)) !== null;
  }
}

/** Past this, a limiter that cannot reach Redis counts in this process instead. */
const REDIS_LIMIT_TIMEOUT_MS = 500;

/** Where window limits keep their counts: Redis (shared by the nodes) or this process. */
export class LimitBackend {
  readonly #client: RedisClientType | undefined;
  readonly #prefix: string;
  readonly #secret: Buffer;

  private constructor(client: RedisClientType | undefined, prefix: string, secret: Buffer) {
    this.#client = client;
    this.#prefix = prefix;
    this.#secret = secret;
  }

  static async open(config: Pick<Config, 'REDIS_URL' | 'REDIS_KEY_PREFIX' | 'TOKEN_SECRET'>): Promise<LimitBackend> {
    const secret = derivedKey(config.TOKEN_SECRET, 'address-digests');
    if (!config.REDIS_URL) return new LimitBackend(undefined, config.REDIS_KEY_PREFIX, secret);
    const client: RedisClientType = createClient({
      url: config.REDIS_URL,
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1000) },
    });
    // The room store logs Redis trouble once; a limit falls back to counting here meanwhile.
    client.on('error', () => undefined);
    await client.connect();
    return new LimitBackend(client, config.REDIS_KEY_PREFIX, secret);
  }

  /**
   * The key that stands for a client address: a keyed digest, so no address is ever stored
   * (in Redis or a heap dump) as it is, and the same on every node (TOKEN_SECRET). An IPv6
   * address stands for its /64 (see addressGroup).
   */
  addressKey(address: string): string {
    return createHmac('sha256', this.#secret).update(addressGroup(address)).digest('base64url').slice(0, 22);
  }

  /** `points` per `durationSeconds` per key, counted in Redis when there is one. */
  limiter(name: string, points: number, durationSeconds: number): WindowLimiter {
    const local = new RateLimiterMemory({ keyPrefix: name, points, duration: durationSeconds });
    if (!this.#client) return local;
    const shared = new RateLimiterRedis({
      storeClient: this.#client,
      useRedisPackage: true,
      rejectIfRedisNotReady: true,
      keyPrefix: `${this.#prefix}limit:${name}`,
      points,
      duration: durationSeconds,
      insuranceLimiter: local,
    });
    return new RLWrapperTimeouts({ limiter: shared, timeoutMs: REDIS_LIMIT_TIMEOUT_MS });
  }

  /** Keys remembered for `seconds` from the last time, in Redis when there is one. */
  memory(name: string, seconds: number): KeyMemory {
    return new KeyMemory(this.limiter(name, 1, seconds), seconds);
  }

  async close(): Promise<void> {
    const client = this.#client;
    if (!client?.isOpen) return;
    if (client.isReady) await client.close().catch(() => client.destroy());
    else client.destroy();
  }
}

/** "n minutes" until a window limit lets the next one through. */
export function minutesLeft(res: RateLimiterRes): string {
  const minutes = Math.max(1, Math.ceil(res.msBeforeNext / 60_000));
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/**
 * Sockets open at once per address on this node. Taken synchronously as the socket arrives,
 * so a burst of connections cannot all pass one check.
 */
export class SocketsPerAddress {
  readonly #limit: number;
  readonly #open = new Map<string, number>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** How many sockets `key` holds now. */
  count(key: string): number {
    return this.#open.get(key) ?? 0;
  }

  /** Take a place for `key`, or null when it holds the most it may. */
  take(key: string): Release | null {
    const count = this.count(key);
    if (count >= this.#limit) return null;
    this.#open.set(key, count + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = this.count(key) - 1;
      if (left > 0) this.#open.set(key, left);
      else this.#open.delete(key);
    };
  }
}
