import { createHash, timingSafeEqual } from 'node:crypto';
import { ProtocolFailure } from '@group-room/shared';
import type { RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { minutesLeft, type LimitBackend, type WindowLimiter } from '../signaling/address-limits.js';
import { consume } from '../signaling/request-limits.js';

/** Wrong keys one address may try before it must wait. */
export const KEY_GUESSES = 10;
export const KEY_GUESS_WINDOW_SECONDS = 600;

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Who may create rooms (ROOM_CREATION): anyone, or whoever has the facilitator access key.
 * The key is compared in constant time (as digests, so its length does not show either), and
 * wrong guesses are limited per address: after KEY_GUESSES in the window, every try from that
 * address (a right one too) is refused until the window has passed. Creations themselves are
 * limited per address too (ROOMS_PER_ADDRESS_PER_HOUR). Both counts are kept in Redis when
 * there is one, so going from node to node does not reset them.
 */
export class RoomCreationGate {
  readonly #mode: Config['ROOM_CREATION'];
  readonly #key: Buffer | null;
  readonly #guesses: WindowLimiter;
  readonly #creations: WindowLimiter;

  constructor(config: Pick<Config, 'ROOM_CREATION' | 'ROOM_CREATION_KEY' | 'ROOMS_PER_ADDRESS_PER_HOUR'>, limits: LimitBackend) {
    this.#mode = config.ROOM_CREATION;
    this.#key = config.ROOM_CREATION_KEY ? digest(config.ROOM_CREATION_KEY) : null;
    this.#guesses = limits.limiter('key-guesses', KEY_GUESSES, KEY_GUESS_WINDOW_SECONDS);
    this.#creations = limits.limiter('room-creations', config.ROOMS_PER_ADDRESS_PER_HOUR, 3600);
  }

  get mode(): Config['ROOM_CREATION'] {
    return this.#mode;
  }

  /**
   * Let the client address `who` (its address key, see LimitBackend.addressKey) create one
   * room, or throw: FORBIDDEN for a missing or wrong key, RATE_LIMITED once it has guessed too
   * often or created its most rooms this hour.
   */
  async check(accessKey: string | undefined, who: string): Promise<void> {
    if (this.#mode === 'key') await this.#checkKey(accessKey, who);
    await consume(this.#creations, who, (res) => `Too many sessions created from here: try again in ${minutesLeft(res)}`);
  }

  async #checkKey(accessKey: string | undefined, who: string): Promise<void> {
    const spent = await this.#guesses.get(who);
    if (spent && spent.consumedPoints >= KEY_GUESSES) throw tooManyGuesses(spent);
    if (accessKey !== undefined && this.#key && timingSafeEqual(digest(accessKey), this.#key)) return;
    await consume(this.#guesses, who, (res) => tooManyGuesses(res).message);
    throw new ProtocolFailure('FORBIDDEN', accessKey === undefined ? 'Creating a session needs the facilitator access key' : 'That facilitator access key is not right');
  }
}

function tooManyGuesses(res: RateLimiterRes): ProtocolFailure {
  return new ProtocolFailure('RATE_LIMITED', `Too many wrong access keys from here: try again in ${minutesLeft(res)}`);
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
