/** A small rate limit: up to `capacity` at once, refilled one per `refillMs`. */
export class TokenBucket {
  readonly #capacity: number;
  readonly #refillMs: number;
  #tokens: number;
  #updatedAt: number | undefined;

  constructor(capacity: number, refillMs: number) {
    this.#capacity = capacity;
    this.#refillMs = refillMs;
    this.#tokens = capacity;
  }

  /** Take one if there is one. */
  take(now: number): boolean {
    if (this.#updatedAt !== undefined) {
      // The wall clock can step back (a time correction): that refills nothing, and takes nothing away.
      const elapsed = Math.max(0, now - this.#updatedAt);
      this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed / this.#refillMs);
    }
    this.#updatedAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
