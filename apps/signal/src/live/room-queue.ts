import { ProtocolFailure } from '@group-room/shared';
import PQueue from 'p-queue';

export interface RoomQueueOptions {
  /** How long a task may wait for its turn before it is refused (never run). Default 5000 ms. */
  waitMs?: number;
  /** How many tasks may wait behind the one running; past that a new one is refused at once. */
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
 * Runs one room's tasks one at a time, so racy sequences such as two joins creating a room's
 * router, or a leave closing it during a join, happen in order: a p-queue with a concurrency
 * of one; tasks of equal urgency start in the order they came.
 *
 * A task that cannot start within `waitMs` (the tasks ahead of it are slow, e.g. a stuck
 * store) is taken out of the line and refused with UNAVAILABLE, never run, so callers are
 * answered instead of waiting behind it forever. Once started, a task runs as long as it
 * needs. The line is bounded: a task arriving while `maxWaiting` tasks already wait is
 * refused at once, and takes no place. The bound is checked and the place taken in one
 * synchronous step, so tasks arriving together cannot all see room for one more.
 */
export class RoomQueue {
  readonly #waitMs: number;
  readonly #maxWaiting: number;
  readonly #urgentReserve: number;
  readonly #queue = new PQueue({ concurrency: 1 });
  /** Why the queue refuses everything from now on (its room closed), if it does. */
  #closed: (() => Error) | undefined;

  constructor(options: RoomQueueOptions = {}) {
    this.#waitMs = options.waitMs ?? DEFAULT_QUEUE_WAIT_MS;
    this.#maxWaiting = options.maxWaiting ?? DEFAULT_QUEUE_MAX_WAITING;
    this.#urgentReserve = options.urgentReserve ?? DEFAULT_URGENT_RESERVE;
  }

  /** How many tasks are in line now: the one running and those waiting behind it. */
  get size(): number {
    return this.#queue.size + this.#queue.pending;
  }

  get idle(): boolean {
    return this.size === 0;
  }

  /** Settles when nothing is queued or running. */
  onIdle(): Promise<void> {
    return this.#queue.onIdle();
  }

  run<T>(task: () => Promise<T>, options: RunOptions = {}): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closed());
    const limit = this.#maxWaiting + (options.urgent ? this.#urgentReserve : 0);
    if (this.#queue.size >= limit) return Promise.reject(busy());
    const waiting = new AbortController();
    let started = false;
    // Only the wait is limited: the timer does nothing once the task has begun.
    const timer = setTimeout(() => {
      if (!started) waiting.abort(busy());
    }, this.#waitMs);
    timer.unref();
    return this.#queue.add(
      () => {
        started = true;
        clearTimeout(timer);
        const closed = this.#closed;
        return closed ? Promise.reject(closed()) : task();
      },
      { priority: options.urgent ? URGENT : ORDINARY, signal: waiting.signal },
    );
  }

  /** Refuse every task from now on, those still waiting included (with `reason`). */
  close(reason: () => Error): void {
    this.#closed ??= reason;
  }
}
