import { createHash, timingSafeEqual } from 'node:crypto';
import { ProtocolFailure } from '@group-room/shared';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { minutesLeft, type KeyMemory, type LimitBackend, type WindowLimiter } from '../signaling/address-limits.js';
import { consume } from '../signaling/request-limits.js';

/** Wrong keys one address may try before it must wait. */
export const KEY_GUESSES = 10;
export const KEY_GUESS_WINDOW_SECONDS = 600;
/**
 * How long an address that created a session with the right key is let through the
 * deployment-wide ceiling: below Node's longest timer (24.8 days), by which the count kept in
 * this process (without Redis, or while Redis does not answer) expires its entries.
 */
export const KNOWN_FACILITATOR_SECONDS = 21 * 24 * 3600;

/** The one key the deployment-wide count of wrong keys is kept under. */
const EVERYONE = 'all';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** What the gate tells the metrics. */
export interface AccessKeyWatch {
  wrongAccessKey(): void;
}

/**
 * Who may create rooms (ROOM_CREATION): anyone, or whoever has the facilitator access key.
 * The key is compared in constant time (as digests, so its length does not show either), and
 * wrong guesses are limited twice:
 * - per address: after KEY_GUESSES in the window, every try from that address (a right one
 *   too) is refused until the window has passed;
 * - across the deployment (ACCESS_KEY_GUESSES_PER_HOUR): once that many wrong keys came in
 *   the hour, from wherever, every try is refused (so a guesser with many addresses learns
 *   nothing either), except from addresses that created a session with the right key in the
 *   last 21 days: the facilitators the deployment knows go on working during an attack.
 * Creations themselves are limited per address too (ROOMS_PER_ADDRESS_PER_HOUR). Every count
 * is kept in Redis when there is one, so going from node to node does not reset them.
 */
export class RoomCreationGate {
  readonly #mode: Config['ROOM_CREATION'];
  readonly #key: Buffer | null;
  readonly #guesses: WindowLimiter;
  readonly #allGuesses: WindowLimiter;
  readonly #ceiling: number;
  readonly #known: KeyMemory;
  readonly #creations: WindowLimiter;
  readonly #watch: AccessKeyWatch | undefined;

  constructor(
    config: Pick<Config, 'ROOM_CREATION' | 'ROOM_CREATION_KEY' | 'ROOMS_PER_ADDRESS_PER_HOUR' | 'ACCESS_KEY_GUESSES_PER_HOUR'>,
    limits: LimitBackend,
    watch?: AccessKeyWatch,
  ) {
    this.#mode = config.ROOM_CREATION;
    this.#key = config.ROOM_CREATION_KEY ? digest(config.ROOM_CREATION_KEY) : null;
    this.#guesses = limits.limiter('key-guesses', KEY_GUESSES, KEY_GUESS_WINDOW_SECONDS);
    this.#ceiling = config.ACCESS_KEY_GUESSES_PER_HOUR;
    this.#allGuesses = limits.limiter('key-guesses-all', this.#ceiling, 3600);
    this.#known = limits.memory('known-facilitators', KNOWN_FACILITATOR_SECONDS);
    this.#creations = limits.limiter('room-creations', config.ROOMS_PER_ADDRESS_PER_HOUR, 3600);
    this.#watch = watch;
  }

  get mode(): Config['ROOM_CREATION'] {
    return this.#mode;
  }

  /**
   * Let the client address `who` (its address key, see LimitBackend.addressKey) create one
   * room, or throw: FORBIDDEN for a missing or wrong key, RATE_LIMITED once it has guessed too
   * often, the deployment has had too many wrong keys, or it has created its most rooms this hour.
   */
  async check(accessKey: string | undefined, who: string): Promise<void> {
    if (this.#mode === 'key') await this.#checkKey(accessKey, who);
    await consume(this.#creations, who, (res) => `Too many sessions created from here: try again in ${minutesLeft(res)}`);
    // A facilitator the deployment now knows: let through the ceiling for a while.
    if (this.#mode === 'key') await this.#known.remember(who);
  }

  /** Whether the deployment has had its most wrong keys this hour (for the metrics; with Redis, all nodes' count). */
  async ceilingReached(): Promise<boolean> {
    if (this.#mode !== 'key') return false;
    const spent = await this.#allGuesses.get(EVERYONE);
    return spent !== null && spent.consumedPoints >= this.#ceiling;
  }

  async #checkKey(accessKey: string | undefined, who: string): Promise<void> {
    const spent = await this.#guesses.get(who);
    if (spent && spent.consumedPoints >= KEY_GUESSES) throw tooManyGuesses(spent);
    const everyone = await this.#allGuesses.get(EVERYONE);
    if (everyone && everyone.consumedPoints >= this.#ceiling && !(await this.#known.knows(who))) {
      throw new ProtocolFailure('RATE_LIMITED', `Too many wrong access keys are being tried on this server: try again in ${minutesLeft(everyone)}`);
    }
    if (accessKey !== undefined && this.#key && timingSafeEqual(digest(accessKey), this.#key)) return;
    this.#watch?.wrongAccessKey();
    // Counted towards the ceiling whoever tried; past it the count simply stays full.
    await this.#allGuesses.consume(EVERYONE).catch((error: unknown) => {
      if (!(error instanceof RateLimiterRes)) throw error;
    });
    await consume(this.#guesses, who, (res) => tooManyGuesses(res).message);
    throw new ProtocolFailure('FORBIDDEN', accessKey === undefined ? 'Creating a session needs the facilitator access key' : 'That facilitator access key is not right');
  }
}

function tooManyGuesses(res: RateLimiterRes): ProtocolFailure {
  return new ProtocolFailure('RATE_LIMITED', `Too many wrong access keys from here: try again in ${minutesLeft(res)}`);
}
