import { ProtocolFailure } from '@group-room/shared';
import PQueue from 'p-queue';

export interface KeyedQueueOptions {
  /** How long a task may wait for its turn before it is refused (never run). Default 5000 ms. */
  waitMs?: number;
  /** How many tasks of one key may wait behind the one running; past that a new one is refused at once. */
  maxWaiting?: number;
  /** Extra places beyond `maxWaiting` that only urgent tasks may take. */
  urgentReserve?: number;
}

export interface RunOptions {
  /**
   * Urgent tasks (a facilitator's commands) start before every ordinary task still waiting,
   * and may take the reserved places past `maxWaiting`: a flood from a member can fill the
   * ordinary line, never hold up a mute.
   */
  urgent?: boolean;
}

export const DEFAULT_QUEUE_WAIT_MS = 5000;
/**
 * A room's worst honest backlog: after a restart, 16 people each resume, start media, make two
 * producers and send their two switches (6 tasks each, 96) at about the same moment. Past
 * that the queue is being flooded, and a refusal now beats one after waiting 5 s.
 */
export const DEFAULT_QUEUE_MAX_WAITING = 128;
/** A facilitator or two with a few commands each, beyond a full line. */
export const DEFAULT_URGENT_RESERVE = 32;

const URGENT = 1;
const ORDINARY = 0;

const busy = () => new ProtocolFailure('UNAVAILABLE', 'The room is busy. Try again in a moment.');

/**
 * Runs tasks one at a time per key (e.g. per room), so racy sequences such as two joins
 * creating a room's router, or a leave closing it during a join, happen in order. Each key
 * has its own p-queue with a concurrency of one; tasks of equal urgency start in the order
 * they came.
 *
 * A task that cannot start within `waitMs` (the tasks ahead of it are slow, e.g. a stuck
 * store) is taken out of the line and refused with UNAVAILABLE, never run, so callers are
 * answered instead of waiting behind it forever. Once started, a task runs as long as it
 * needs. The line of a key is bounded: a task arriving while `maxWaiting` tasks already wait
 * is refused at once, and takes no place. The bound is checked and the place taken in one
 * synchronous step, so tasks arriving together cannot all see room for one more.
 */
export class KeyedQueue {
  readonly #waitMs: number;
  readonly #maxWaiting: number;
  readonly #urgentReserve: number;
  readonly #queues = new Map<string, PQueue>();

  constructor(options: KeyedQueueOptions = {}) {
    this.#waitMs = options.waitMs ?? DEFAULT_QUEUE_WAIT_MS;
    this.#maxWaiting = options.maxWaiting ?? DEFAULT_QUEUE_MAX_WAITING;
    this.#urgentReserve = options.urgentReserve ?? DEFAULT_URGENT_RESERVE;
  }

  /** How many tasks of `key` are in line now: the one running and those waiting behind it. */
  size(key: string): number {
    const queue = this.#queues.get(key);
    return queue ? queue.size + queue.pending : 0;
  }

  run<T>(key: string, task: () => Promise<T>, options: RunOptions = {}): Promise<T> {
    const queue = this.#queueFor(key);
    const limit = this.#maxWaiting + (options.urgent ? this.#urgentReserve : 0);
    if (queue.size >= limit) {
      this.#forgetIfIdle(key, queue);
      return Promise.reject(busy());
    }
    const waiting = new AbortController();
    let started = false;
    // Only the wait is limited: the timer does nothing once the task has begun.
    const timer = setTimeout(() => {
      if (!started) waiting.abort(busy());
    }, this.#waitMs);
    timer.unref();
    return queue.add(
      () => {
        started = true;
        clearTimeout(timer);
        return task();
      },
      { priority: options.urgent ? URGENT : ORDINARY, signal: waiting.signal },
    );
  }

  #queueFor(key: string): PQueue {
    let queue = this.#queues.get(key);
    if (!queue) {
      const created = new PQueue({ concurrency: 1 });
      // A key's queue lives while it has tasks: rooms come and go.
      created.on('idle', () => this.#forgetIfIdle(key, created));
      this.#queues.set(key, (queue = created));
    }
    return queue;
  }

  #forgetIfIdle(key: string, queue: PQueue): void {
    if (queue.size === 0 && queue.pending === 0 && this.#queues.get(key) === queue) this.#queues.delete(key);
  }
}
