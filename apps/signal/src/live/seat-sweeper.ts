import { ProtocolFailure } from '@group-room/shared';
import { roomTag, type Logger } from '../logger.js';
import { sweepSeats } from '../room/seats.js';
import type { RoomStore } from '../store/room-store.js';
import { LiveRoom } from './live-room.js';
import type { LiveRooms } from './live-rooms.js';
import type { NodeLease } from './node-lease.js';

/** How often a node sweeps the seats of its rooms. */
export const SWEEP_INTERVAL_MS = 2000;
/** Rooms swept at once (each sweep is a read and, rarely, a write). */
const SWEEP_CONCURRENCY = 8;
/** Lapsed rooms looked at per sweep. */
const LAPSED_PER_SWEEP = 100;

export interface SeatSweeperOptions {
  store: RoomStore;
  rooms: LiveRooms;
  lease: NodeLease;
  graceMs: number;
  /** Let go of people still at the entry agreement this long after arriving. */
  agreementIdleMs?: number;
  /** The connections open on this node now (see SweepOptions.local). */
  connections: () => ReadonlySet<string>;
  log: Logger;
  intervalMs?: number;
}

/**
 * Every few seconds a node sweeps the seats of the rooms it is home to, and only those: the
 * rooms the store says it holds, and the rooms whose home's lease lapsed, which it takes up
 * (once it has had the store for a whole lease period itself, see NodeLease.steady). In a room
 * homed here every seat is served here: seats away longer than the grace period are freed,
 * seats held through another node (which died, or served the room before this one took it)
 * are marked away, and so are seats this node serves through a connection that closed without
 * the seat being marked away (the store was unreachable then). A room found ended but not yet
 * recorded as such is finished. Every write is fenced: a sweep decided before another node
 * took the room is refused, never applied over the new home's state.
 */
export class SeatSweeper {
  readonly #options: SeatSweeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #failing = false;

  constructor(options: SeatSweeperOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => void this.sweep(), this.#options.intervalMs ?? SWEEP_INTERVAL_MS);
    this.#timer.unref();
  }

  /** One sweep (one at a time; a call while one runs waits for it). */
  sweep(now?: number): Promise<void> {
    this.#running ??= this.#sweep(now).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sweep(at?: number): Promise<void> {
    const { store, rooms, lease, log } = this.#options;
    if (!lease.valid()) return;
    let held: string[];
    let lapsed: string[] = [];
    try {
      held = await store.heldRooms(rooms.nodeId);
      if (lease.steady()) lapsed = await store.lapsedRooms(LAPSED_PER_SWEEP);
      if (this.#failing) log.info('seat sweep resumed');
      this.#failing = false;
    } catch (error) {
      // The store is unreachable: nothing can be swept; say so once, not every few seconds.
      if (!this.#failing) log.warn('seat sweep skipped: store unreachable', { error: error instanceof Error ? error.message : String(error) });
      this.#failing = true;
      return;
    }
    // Rooms live here that the store no longer lists as this node's are asked about afresh (and let go).
    const listed = new Set([...held, ...lapsed]);
    const unlisted = [...rooms.values()].map((room) => room.id).filter((id) => !listed.has(id));
    const queue = [...[...listed].map((id) => ({ id, fresh: false })), ...unlisted.map((id) => ({ id, fresh: true }))];
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) await this.#sweepRoom(next.id, at ?? Date.now(), next.fresh);
    };
    await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, queue.length) }, worker));
  }

  async #sweepRoom(roomId: string, now: number, fresh: boolean): Promise<void> {
    const { store, rooms, graceMs, agreementIdleMs, connections, log } = this.#options;
    try {
      const room = await rooms.claim(roomId, { fresh });
      if (!(room instanceof LiveRoom)) return;
      const sweep = sweepSeats({
        now,
        graceMs,
        liveNodes: new Set([room.fence.node]),
        local: { node: room.fence.node, connections: connections() },
        ...(agreementIdleMs === undefined ? {} : { agreementIdleMs }),
      });
      // Most sweeps find nothing to do: look first, and queue a change only when there is one.
      const state = await store.get(roomId);
      if (!state) {
        // Expired (its session long over): nothing of it stays here.
        room.close('ended');
        return;
      }
      if (state.ended) {
        await room.run(async () => room.publish(state));
        return;
      }
      if (sweep(state) === state) return;
      await room.queued(sweep);
    } catch (error) {
      if (error instanceof ProtocolFailure && (error.code === 'NOT_FOUND' || error.code === 'UNAVAILABLE')) return;
      log.warn('seat sweep failed for a room', { room: roomTag(roomId), error: error instanceof Error ? error.message : String(error) });
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
