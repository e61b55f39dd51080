import { ProtocolFailure, type Stage } from '@group-room/shared';
import { roomTag, type Logger } from '../logger.js';
import type { RoomMedia } from '../media/room-media.js';
import type { TalkTime } from '../media/talk-time.js';
import type { NodeIdentity, RoomStore } from '../store/room-store.js';
import { LiveRoom, type CloseReason, type LiveRoomDeps } from './live-room.js';
import type { NodeLease } from './node-lease.js';

/** Where a room is served: here (its live room), by another node (its name), or nowhere (no such room). */
export type Whereabouts = LiveRoom | { elsewhere: string; leaseLeftMs?: number } | 'missing';

/** Where a room is, as `locate` sees it without taking it: as Whereabouts, or `open` (this node may take it). */
export type Sighting = Whereabouts | 'open';

/** Talk time is reported about once a second and saved beside the room every fifth time. */
const TALK_SAVE_EVERY = 5;

const notServing = () => new ProtocolFailure('UNAVAILABLE', 'This server cannot reach the session data right now: reconnecting');

/**
 * The rooms this node is home to, one LiveRoom each. A room becomes live here by `claim`,
 * which takes the room's home in the store (atomically, with a new fence) unless another
 * node's lease holds it; it stops being live here through its own `close()`. `locate` only
 * looks.
 */
export class LiveRooms {
  readonly #rooms = new Map<string, LiveRoom>();
  /** Rooms being taken up now, so concurrent claims share one LiveRoom. */
  readonly #opening = new Map<string, Promise<Whereabouts>>();
  readonly #store: RoomStore;
  readonly #node: NodeIdentity;
  readonly #lease: NodeLease;
  readonly #deps: LiveRoomDeps;
  readonly #log: Logger;
  #talkReports = 0;

  constructor(store: RoomStore, node: NodeIdentity, lease: NodeLease, deps: LiveRoomDeps) {
    this.#store = store;
    this.#node = node;
    this.#lease = lease;
    this.#deps = deps;
    this.#log = deps.log;
  }

  get nodeId(): string {
    return this.#node.id;
  }

  /** Whether this node may serve rooms now (its lease is live). */
  get serving(): boolean {
    return this.#lease.valid();
  }

  get(roomId: string): LiveRoom | undefined {
    return this.#rooms.get(roomId);
  }

  values(): IterableIterator<LiveRoom> {
    return this.#rooms.values();
  }

  /** A room's media here, if it has any (tests and metrics). */
  media(roomId: string): RoomMedia | undefined {
    return this.#rooms.get(roomId)?.media;
  }

  talkTime(roomId: string): TalkTime | undefined {
    return this.#rooms.get(roomId)?.talk;
  }

  /** Rooms with a router on this node now. */
  get mediaCount(): number {
    let count = 0;
    for (const room of this.#rooms.values()) if (room.media) count++;
    return count;
  }

  /**
   * Serve the room here if nobody else does: a live room already here is returned as it is
   * (while this node's lease lives nobody else can take it); otherwise the store is asked.
   * A room whose home's lease lapsed is taken only once this node has had the store for a
   * whole lease period (`NodeLease.steady`); until then it is reported as still elsewhere.
   */
  async claim(roomId: string, options: { fresh?: boolean } = {}): Promise<Whereabouts> {
    if (!this.#lease.valid()) throw notServing();
    const live = this.#rooms.get(roomId);
    // `fresh`: ask the store even for a room live here (the sweep checks that it still is).
    if (live?.acting && !options.fresh) return live;
    let opening = this.#opening.get(roomId);
    if (!opening) {
      opening = this.#claim(roomId).finally(() => this.#opening.delete(roomId));
      this.#opening.set(roomId, opening);
    }
    return opening;
  }

  async #claim(roomId: string): Promise<Whereabouts> {
    const claim = await this.#store.claimHome(roomId, this.#node, { takeLapsed: this.#lease.steady() });
    switch (claim.kind) {
      case 'missing':
        this.#rooms.get(roomId)?.close('ended');
        return 'missing';
      case 'unleased':
        throw notServing();
      case 'elsewhere':
        this.#rooms.get(roomId)?.close('released');
        return { elsewhere: claim.name, leaseLeftMs: claim.leaseLeftMs };
      case 'lapsed':
        this.#rooms.get(roomId)?.close('released');
        return { elsewhere: claim.name };
      case 'here': {
        const existing = this.#rooms.get(roomId);
        if (existing?.acting && existing.fence.fence === claim.fence.fence) return existing;
        existing?.close('released');
        if (claim.taken) this.#log.info('room taken up here', { room: roomTag(roomId), fence: claim.fence.fence });
        const room = await LiveRoom.open(roomId, claim.fence, this.#deps, (closed) => {
          if (this.#rooms.get(roomId) === closed) this.#rooms.delete(roomId);
        });
        if (!this.#lease.valid()) {
          room.close('released');
          throw notServing();
        }
        this.#rooms.set(roomId, room);
        return room;
      }
    }
  }

  /**
   * Where a room is served, read only: nothing is claimed or written (a handshake asks this, and
   * a handshake is made before anything of the client's is checked). `open`: nobody holds the
   * room, or this node may take it (its home ran here, under this name, or its lease lapsed and
   * this node is steady), which the enter or resume then does through `home`.
   */
  async locate(roomId: string): Promise<Sighting> {
    if (!this.#lease.valid()) throw notServing();
    const live = this.#rooms.get(roomId);
    if (live?.acting) return live;
    const home = await this.#store.findHome(roomId);
    if (home.kind === 'missing') return 'missing';
    if (home.kind === 'none' || home.node === this.#node.id || home.name === this.#node.name) return 'open';
    if (home.leaseLeftMs > 0) return { elsewhere: home.name, leaseLeftMs: home.leaseLeftMs };
    return this.#lease.steady() ? 'open' : { elsewhere: home.name };
  }

  /** The room's live room here, taken if nobody else serves it; UNAVAILABLE if another node does. */
  async home(roomId: string): Promise<LiveRoom> {
    const where = await this.claim(roomId);
    if (where === 'missing') throw new ProtocolFailure('NOT_FOUND', 'This session has ended');
    if (!(where instanceof LiveRoom)) throw new ProtocolFailure('UNAVAILABLE', 'This session is served by another server: reconnecting');
    return where;
  }

  /** Rooms with someone connected on this node, and their people by stage (for metrics). */
  people(): { rooms: number; byStage: Record<Stage, number> } {
    const byStage: Record<Stage, number> = { agreement: 0, waiting: 0, admitted: 0 };
    let rooms = 0;
    for (const room of this.#rooms.values()) {
      const state = room.latest;
      if (!state || room.sessions.size === 0) continue;
      rooms++;
      for (const member of Object.values(state.members)) byStage[member.stage]++;
    }
    return { rooms, byStage };
  }

  /** Every room's talk time to its facilitators (called about once a second). */
  reportTalkTime(now = Date.now()): void {
    const save = ++this.#talkReports % TALK_SAVE_EVERY === 0;
    for (const room of this.#rooms.values()) room.reportTalkTime(now, save);
  }

  /** Close every live room here (the lease lapsed, or the node stops). */
  closeAll(reason: CloseReason): void {
    for (const room of [...this.#rooms.values()]) room.close(reason);
    this.#rooms.clear();
  }
}
