import { ProtocolFailure } from '@group-room/shared';

export interface KeyedQueueOptions {
  /** How long a task may wait for its turn before it is refused (never run). Default 5000 ms. */
  waitMs?: number;
  /** How many tasks of one key may wait behind the one running; past that a new one is refused at once. */
  maxWaiting?: number;
}

export const DEFAULT_QUEUE_WAIT_MS = 5000;
/**
 * A room's worst honest backlog: after a restart, 16 people each resume, start media, make two
 * producers and send their two switches (6 tasks each, 96) at about the same moment. Past
 * that the queue is being flooded, and a refusal now beats one after waiting 5 s.
 */
export const DEFAULT_QUEUE_MAX_WAITING = 128;

const busy = () => new ProtocolFailure('UNAVAILABLE', 'The room is busy. Try again in a moment.');

/**
 * Runs tasks one at a time per key (e.g. per room), so racy sequences such as two joins
 * creating a room's router, or a leave closing it during a join, happen in order.
 *
 * A task that cannot start within `waitMs` (the tasks ahead of it are slow, e.g. a stuck
 * store) is refused with UNAVAILABLE and never runs, so callers are answered instead of
 * waiting behind it forever. Order is kept: a refused task only gives up its place, and the
 * tasks after it still start only once every task ahead of them has settled.
 *
 * The queue of a key is bounded too: a task arriving while `maxWaiting` tasks already wait
 * for that key is refused at once with UNAVAILABLE, never run, and takes no place.
 */
export class KeyedQueue {
  readonly #waitMs: number;
  readonly #maxWaiting: number;
  #tails = new Map<string, Promise<void>>();
  /** Per key, the tasks in line: running, or waiting for their turn (not refused). */
  #inLine = new Map<string, number>();

  constructor(options: KeyedQueueOptions = {}) {
    this.#waitMs = options.waitMs ?? DEFAULT_QUEUE_WAIT_MS;
    this.#maxWaiting = options.maxWaiting ?? DEFAULT_QUEUE_MAX_WAITING;
  }

  /** How many tasks of `key` are in line now: the one running and those waiting behind it. */
  size(key: string): number {
    return this.#inLine.get(key) ?? 0;
  }

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const inLine = this.size(key);
    if (inLine > this.#maxWaiting) return Promise.reject(busy());
    // Counted now, synchronously: tasks arriving together cannot all see room for one more.
    this.#inLine.set(key, inLine + 1);
    let counted = true;
    const leaveLine = () => {
      if (!counted) return;
      counted = false;
      const left = this.size(key) - 1;
      if (left > 0) this.#inLine.set(key, left);
      else this.#inLine.delete(key);
    };
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let settle!: { resolve: (value: T) => void; reject: (error: unknown) => void };
    const result = new Promise<T>((resolve, reject) => {
      settle = { resolve, reject };
    });
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      leaveLine();
      settle.reject(busy());
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
      } finally {
        leaveLine();
      }
    });
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}
