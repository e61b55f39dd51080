import { ProtocolFailure } from '@group-room/shared';
import { roomTag, type Logger } from '../logger.js';
import { sweepSeats } from '../room/seats.js';
import type { RoomState } from '../room/state.js';
import type { RoomStore } from '../store/room-store.js';

/** How often a node renews its heartbeat and sweeps seats. */
export const SWEEP_INTERVAL_MS = 2000;
/** A node that has not renewed its heartbeat for this long is taken for dead. */
export const NODE_TTL_MS = 10_000;

export interface SeatSweeperOptions {
  store: RoomStore;
  nodeId: string;
  graceMs: number;
  /** Let go of people still at the entry agreement this long after arriving. */
  agreementIdleMs?: number;
  /** The connections open on this node now (see SweepOptions.local). */
  connections: () => ReadonlySet<string>;
  /** Applies a change to a room in its queue, with its effects (RoomHub.queued). */
  apply: (roomId: string, change: (state: RoomState) => RoomState) => Promise<unknown>;
  log: Logger;
  intervalMs?: number;
}

/**
 * Every node says it is alive (a key with a TTL in the store) and, every few seconds, sweeps
 * every room's seats: seats away longer than the grace period are freed, seats held
 * through a node that stopped renewing its key are marked away (that node died, taking its
 * connections and media with it), and so are seats this node serves through a connection
 * that closed without the seat being marked away (the store was unreachable then). Any live node may sweep any room: the change is pure and
 * applied atomically, so two nodes sweeping at once agree.
 */
export class SeatSweeper {
  readonly #options: SeatSweeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #failing = false;

  constructor(options: SeatSweeperOptions) {
    this.#options = options;
  }

  /** Renew the heartbeat at once (so this node counts as live before it serves anyone), then sweep periodically. */
  async start(): Promise<void> {
    await this.#options.store.heartbeat(this.#options.nodeId, NODE_TTL_MS);
    this.#timer = setInterval(() => void this.sweep(), this.#options.intervalMs ?? SWEEP_INTERVAL_MS);
    this.#timer.unref();
  }

  /** One heartbeat and sweep (one at a time; a call while one runs waits for it). */
  sweep(now?: number): Promise<void> {
    this.#running ??= this.#sweep(now).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sweep(at?: number): Promise<void> {
    const { store, nodeId, graceMs, agreementIdleMs, apply, log, connections } = this.#options;
    let liveNodes: Set<string>;
    let roomIds: string[];
    try {
      await store.heartbeat(nodeId, NODE_TTL_MS);
      liveNodes = await store.liveNodes();
      liveNodes.add(nodeId);
      roomIds = await store.roomIds();
      if (this.#failing) log.info('seat sweep resumed');
      this.#failing = false;
    } catch (error) {
      // The store is unreachable: nothing can be swept; say so once, not every few seconds.
      if (!this.#failing) log.warn('seat sweep skipped: store unreachable', { error: error instanceof Error ? error.message : String(error) });
      this.#failing = true;
      return;
    }
    const now = at ?? Date.now();
    const sweep = sweepSeats({ now, graceMs, liveNodes, local: { node: nodeId, connections: connections() }, ...(agreementIdleMs === undefined ? {} : { agreementIdleMs }) });
    for (const roomId of roomIds) {
      try {
        // Most sweeps find nothing to do: look first, and queue a change only when there is one.
        const state = await store.get(roomId);
        if (!state || sweep(state) === state) continue;
        await apply(roomId, sweep);
      } catch (error) {
        if (error instanceof ProtocolFailure && error.code === 'NOT_FOUND') continue; // ended meanwhile
        log.warn('seat sweep failed for a room', { room: roomTag(roomId), error: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  /** Stop, and (leaving cleanly) let the other nodes know at once that this one is gone. */
  async stop(options: { forget: boolean }): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
    if (options.forget) await this.#options.store.forgetNode(this.#options.nodeId).catch(() => undefined);
  }
}
