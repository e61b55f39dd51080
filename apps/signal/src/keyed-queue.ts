import { ProtocolFailure } from '@group-room/shared';

export interface KeyedQueueOptions {
  /** How long a task may wait for its turn before it is refused (never run). Default 5000 ms. */
  waitMs?: number;
}

export const DEFAULT_QUEUE_WAIT_MS = 5000;

/**
 * Runs tasks one at a time per key (e.g. per room), so racy sequences such as two joins
 * creating a room's router, or a leave closing it during a join, happen in order.
 *
 * A task that cannot start within `waitMs` (the tasks ahead of it are slow, e.g. a stuck
 * store) is refused with UNAVAILABLE and never runs, so callers are answered instead of
 * waiting behind it forever. Order is kept: a refused task only gives up its place, and the
 * tasks after it still start only once every task ahead of them has settled.
 */
export class KeyedQueue {
  readonly #waitMs: number;
  #tails = new Map<string, Promise<void>>();

  constructor(options: KeyedQueueOptions = {}) {
    this.#waitMs = options.waitMs ?? DEFAULT_QUEUE_WAIT_MS;
  }

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let settle!: { resolve: (value: T) => void; reject: (error: unknown) => void };
    const result = new Promise<T>((resolve, reject) => {
      settle = { resolve, reject };
    });
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      settle.reject(new ProtocolFailure('UNAVAILABLE', 'The room is busy. Try again in a moment.'));
    }, this.#waitMs);
    timer.unref();
    // Tails never reject: each one settles once its task has (or was refused).
    const tail = previous.then(async () => {
      clearTimeout(timer);
      if (expired) return;
      try {
        settle.resolve(await task());
      } catch (error) {
        settle.reject(error);
      }
    });
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}
