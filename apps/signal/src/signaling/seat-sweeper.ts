import { ProtocolFailure } from '@group-room/shared';
import { roomTag, type Logger } from '../logger.js';
import { claimHome, homeOf } from '../room/homes.js';
import { sweepSeats } from '../room/seats.js';
import type { RoomState } from '../room/state.js';
import type { RoomStore } from '../store/room-store.js';

/** How often a node renews its heartbeat and sweeps seats. */
export const SWEEP_INTERVAL_MS = 2000;
/** A node that has not renewed its heartbeat for this long is taken for dead. */
export const NODE_TTL_MS = 6000;

export interface SeatSweeperOptions {
  store: RoomStore;
  nodeId: string;
  /** This node's routing name (NODE_NAME), recorded when it takes a room over. */
  nodeName?: string;
  /** Whether this node serves someone in the room now (RoomHub.serving). */
  serving?: (roomId: string) => boolean;
  /** The room is another live node's now: let go of it here (RoomHub.release). */
  release?: (roomId: string) => void;
  /** This node just took the room over from a dead one (RoomHub.adopt). */
  adopt?: (state: RoomState) => void;
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
 * the seats of the rooms it is home to: seats away longer than the grace period are freed,
 * seats held through another node are marked away (that node died, taking its connections and
 * media with it, or it served the room before this one took it over), and so are seats this
 * node serves through a connection that closed without the seat being marked away (the store
 * was unreachable then). A room whose home died is taken over here (its timed turn goes on
 * from here); a room another live node holds is left to it, and any connection this node
 * still serves in it is let go. Rooms nobody has connected to yet (no home) are swept by
 * every node: the change is pure and applied atomically, so two nodes sweeping at once agree.
 */
export class SeatSweeper {
  readonly #options: SeatSweeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #beat: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #failing = false;

  constructor(options: SeatSweeperOptions) {
    this.#options = options;
  }

  /**
   * Renew the heartbeat at once (so this node counts as live before it serves anyone), then
   * on a timer of its own (a slow sweep must never let a healthy node's heartbeat lapse, or
   * other nodes would take its rooms), and sweep periodically.
   */
  async start(): Promise<void> {
    const { store, nodeId } = this.#options;
    await store.heartbeat(nodeId, NODE_TTL_MS);
    const every = this.#options.intervalMs ?? SWEEP_INTERVAL_MS;
    this.#beat = setInterval(() => void store.heartbeat(nodeId, NODE_TTL_MS).catch(() => undefined), every);
    this.#beat.unref();
    this.#timer = setInterval(() => void this.sweep(), every);
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
    const sweeping = (nodes: ReadonlySet<string>) =>
      sweepSeats({ now, graceMs, liveNodes: nodes, local: { node: nodeId, connections: connections() }, ...(agreementIdleMs === undefined ? {} : { agreementIdleMs }) });
    const sweepUnhomed = sweeping(liveNodes);
    // In a room homed here, every seat is served here: one held through another node is stale.
    const sweepHomed = sweeping(new Set([nodeId]));
    for (const roomId of roomIds) {
      try {
        // Most sweeps find nothing to do: look first, and queue a change only when there is one.
        let state = await store.get(roomId);
        if (!state) continue;
        const where = homeOf(state, nodeId, liveNodes);
        if (typeof where === 'object') {
          if (this.#options.serving?.(roomId)) this.#options.release?.(roomId);
          continue;
        }
        if (where === 'orphaned' && state.home) {
          // Liveness read afresh: the sweep's own list may be seconds old by now.
          const fresh = await store.liveNodes();
          fresh.add(nodeId);
          state = await store.update(roomId, claimHome({ id: nodeId, name: this.#options.nodeName ?? nodeId }, fresh));
          if (homeOf(state, nodeId, liveNodes) !== 'here') continue;
          this.#options.adopt?.(state);
        }
        const sweep = state.home ? sweepHomed : sweepUnhomed;
        if (sweep(state) === state) continue;
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
    clearInterval(this.#beat);
    await this.#running;
    if (options.forget) await this.#options.store.forgetNode(this.#options.nodeId).catch(() => undefined);
  }
}
