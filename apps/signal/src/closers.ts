import type { Logger } from './logger.js';

/**
 * What a process opened, in the order it opened it: closing runs the closers in reverse, each
 * once, and goes on past one that fails, so a start-up that fails half way (or a stop) leaves
 * nothing open behind it.
 */
export class Closers {
  readonly #closers: { name: string; close: () => unknown }[] = [];
  readonly #log: Logger;
  #closing: Promise<void> | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  push(name: string, close: () => unknown): void {
    this.#closers.push({ name, close });
  }

  /** The names of what is open now, oldest first. */
  get open(): string[] {
    return this.#closers.map((c) => c.name);
  }

  closeAll(): Promise<void> {
    this.#closing ??= (async () => {
      for (let closer = this.#closers.pop(); closer; closer = this.#closers.pop()) {
        try {
          await closer.close();
        } catch (error) {
          this.#log.warn('could not close cleanly', { what: closer.name, error: error instanceof Error ? error.message : String(error) });
        }
      }
    })();
    return this.#closing;
  }
}
