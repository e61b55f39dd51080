/*
 * Code loaded apart from the page's first screen (a chunk of its own) is fetched when needed:
 * a network blip then must not fail what needed it. A failed load is tried again a few times;
 * the bundler's chunk loader forgets a chunk that failed, so a new import() fetches it again.
 */

/** Tries of a load before giving up, and the wait before the next (times the tries so far). */
const LOAD_TRIES = 3;
const RETRY_WAIT_MS = 1000;

/** Code that could not be fetched (after its tries): a network failure, worth trying later. */
export class CodeUnavailable extends Error {
  constructor(cause: unknown) {
    super('part of the page could not be loaded', { cause });
    this.name = 'CodeUnavailable';
  }
}

/** `load`, tried up to `tries` times, `waitMs` × (tries so far) apart; rejects with CodeUnavailable. */
export async function loadRetrying<T>(load: () => Promise<T>, tries = LOAD_TRIES, waitMs = RETRY_WAIT_MS): Promise<T> {
  for (let tried = 1; ; tried++) {
    try {
      return await load();
    } catch (error) {
      if (tried >= tries) throw new CodeUnavailable(error);
      await new Promise((resolve) => setTimeout(resolve, waitMs * tried));
    }
  }
}
