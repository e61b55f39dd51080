import { createHash, timingSafeEqual } from 'node:crypto';
import { ProtocolFailure } from '@group-room/shared';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config.js';

/** Wrong keys one address may try before it must wait. */
export const KEY_GUESSES = 10;
export const KEY_GUESS_WINDOW_SECONDS = 600;

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Who may create rooms (ROOM_CREATION): anyone, or whoever has the facilitator access key.
 * The key is compared in constant time (as digests, so its length does not show either), and
 * wrong guesses are limited per address: after KEY_GUESSES in the window, every try from that
 * address (a right one too) is refused until the window has passed.
 */
export class RoomCreationGate {
  readonly #mode: Config['ROOM_CREATION'];
  readonly #key: Buffer | null;
  readonly #guesses = new RateLimiterMemory({ points: KEY_GUESSES, duration: KEY_GUESS_WINDOW_SECONDS });

  constructor(config: Pick<Config, 'ROOM_CREATION' | 'ROOM_CREATION_KEY'>) {
    this.#mode = config.ROOM_CREATION;
    this.#key = config.ROOM_CREATION_KEY ? digest(config.ROOM_CREATION_KEY) : null;
  }

  get mode(): Config['ROOM_CREATION'] {
    return this.#mode;
  }

  /** Throws FORBIDDEN for a missing or wrong key, RATE_LIMITED once `address` has guessed too often. */
  async check(accessKey: string | undefined, address: string): Promise<void> {
    if (this.#mode === 'open') return;
    const spent = await this.#guesses.get(address);
    if (spent && spent.consumedPoints >= KEY_GUESSES) throw tooMany(spent);
    if (accessKey !== undefined && this.#key && timingSafeEqual(digest(accessKey), this.#key)) return;
    try {
      await this.#guesses.consume(address);
    } catch (error) {
      if (error instanceof RateLimiterRes) throw tooMany(error);
      throw error;
    }
    throw new ProtocolFailure('FORBIDDEN', accessKey === undefined ? 'Creating a session needs the facilitator access key' : 'That facilitator access key is not right');
  }
}

function tooMany(res: RateLimiterRes): ProtocolFailure {
  const minutes = Math.max(1, Math.ceil(res.msBeforeNext / 60_000));
  return new ProtocolFailure('RATE_LIMITED', `Too many wrong access keys from here: try again in ${minutes} minute${minutes === 1 ? '' : 's'}`);
}

/**
 * The address a socket came from: the connecting peer, or, when that is a proxy on this
 * machine, the first address it forwarded (the same trust as express's 'trust proxy').
 */
export function clientAddress(peer: string, forwardedFor: string | string[] | undefined): string {
  const loopback = peer === '127.0.0.1' || peer === '::1' || peer === '::ffff:127.0.0.1';
  const forwarded = (Array.isArray(forwardedFor) ? forwardedFor[0] : forwardedFor)?.split(',')[0]?.trim();
  return loopback && forwarded ? forwarded : peer;
}
