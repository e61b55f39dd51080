import { ProtocolFailure, type EventName, type EventPayload } from '@group-room/shared';
import type { Config } from '../config.js';
import { RoomQueue, type RunOptions } from './room-queue.js';
import { roomTag, type Logger } from '../logger.js';
import type { MediaTap } from '../media/media-tap.js';
import { RoomMedia } from '../media/room-media.js';
import { TalkTime } from '../media/talk-time.js';
import type { WorkerPool } from '../media/worker-pool.js';
import { clearAllProducers, reclaimSeat } from '../room/seats.js';
import { mediaPolicy, membersInOrder, type RoomChange, type RoomState } from '../room/state.js';
import { TurnTimers } from '../signaling/turn-timers.js';
import { LeaseLost, type Fence, type RoomStore } from '../store/room-store.js';
import { RoomSessions, type RoomSessionHandle } from './room-sessions.js';
import type { ViewBatcher } from './view-batcher.js';

export interface LiveRoomDeps {
  store: RoomStore;
  pool: WorkerPool;
  config: Pick<Config, 'ACK_RETENTION_SECONDS'>;
  log: Logger;
  batcher: ViewBatcher;
  /** Whether this node's lease is live now (NodeLease.valid). */
  leaseValid: () => boolean;
  /** Tests only (MEDIA_TAP_FILE): every producer's packets written down. */
  tap?: MediaTap;
}

/** Why a live room closed: its session ended, another node holds it now, or this node stops. */
export type CloseReason = 'ended' | 'released' | 'stopping';

const moved = () => new LeaseLost();

/**
 * One room as it lives on its home node: everything the room has here is this object's (its
 * queue, its people's connections, its router and media, its talk time, its turn timer, its
 * latest state and the fence it writes with), and `close()` undoes all of it in one place.
 * It exists from when this node takes the room (LiveRooms.claim) until the session ends, the
 * room is taken by another node, this node's lease lapses or the node stops.
 *
 * Every change goes through `run` (one at a time, in order) and `change` (a fenced write to
 * the store, then its effects here). Nothing is done once the lease cannot be proven: a task
 * starting then is refused, and the room closes itself.
 */
export class LiveRoom {
  readonly id: string;
  readonly fence: Fence;
  readonly queue = new RoomQueue();
  readonly sessions: RoomSessions;
  readonly #deps: LiveRoomDeps;
  readonly #timers: TurnTimers;
  /** Speaking time per member; outlives a router rebuilt after its worker died. */
  readonly talk: TalkTime;
  #media: RoomMedia | undefined;
  #latest: RoomState | undefined;
  #closed: CloseReason | undefined;
  #onClose: ((room: LiveRoom) => void) | undefined;

  private constructor(id: string, fence: Fence, talk: TalkTime, deps: LiveRoomDeps) {
    this.id = id;
    this.fence = fence;
    this.talk = talk;
    this.#deps = deps;
    this.sessions = new RoomSessions(deps.batcher);
    this.#timers = new TurnTimers((_roomId, change) => this.queued(change), deps.log);
  }

  /**
   * Take up a room this node has just claimed (with `fence`): its talk time goes on from what
   * the previous home saved, and a timed turn under way is timed from here.
   */
  static async open(id: string, fence: Fence, deps: LiveRoomDeps, onClose: (room: LiveRoom) => void): Promise<LiveRoom> {
    const [tally, state] = await Promise.all([deps.store.loadTalk(id).catch(() => null), deps.store.get(id)]);
    const room = new LiveRoom(id, fence, TalkTime.from(tally), deps);
    room.#onClose = onClose;
    if (state) {
      room.#latest = state;
      room.#timers.schedule(state);
    }
    return room;
  }

  /** Whether this room may act now: not closed, and this node's lease is live. */
  get acting(): boolean {
    return this.#closed === undefined && this.#deps.leaseValid();
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  get latest(): RoomState | undefined {
    return this.#latest;
  }

  get media(): RoomMedia | undefined {
    return this.#media;
  }

  /** Run a task in the room's queue, in order with everything else for the room, while the room may act. */
  run<T>(task: () => Promise<T>, options: RunOptions = {}): Promise<T> {
    return this.queue.run(() => {
      if (!this.acting) {
        this.close('released');
        return Promise.reject(moved());
      }
      return task();
    }, options);
  }

  /** Apply a change in the room's queue, with its effects. */
  queued(change: RoomChange, options: RunOptions = {}): Promise<RoomState> {
    return this.run(() => this.change(change), options);
  }

  /** Apply one change (a fenced write), then its effects. Call inside `run`. */
  async change(change: RoomChange): Promise<RoomState> {
    if (!this.acting) throw moved();
    let state: RoomState;
    try {
      // The latest state here is what the store has unless another write came between (it then re-reads).
      state = await this.#deps.store.update(this.id, change, this.fence, this.#latest);
    } catch (error) {
      // Another node holds the room now (or this node's lease lapsed): nothing more is done here.
      if (error instanceof LeaseLost) this.close('released');
      throw error;
    }
    // An unchanged state is answered without the fence check: its effects too need the lease.
    if (!this.acting) throw moved();
    await this.publish(state);
    return state;
  }

  /** Turn a stored state into its effects here: views, who is let go, the media policy, the turn timer. */
  async publish(state: RoomState): Promise<void> {
    if (this.#closed) return;
    if (state.ended) return this.finishEnding(state);
    if (!this.#latest || this.#latest.version <= state.version) this.#latest = state;
    const reclaim = this.sessions.follow(state);
    this.#timers.schedule(state);
    const inRoom = (memberId: string) => Boolean(state.members[memberId]);
    this.talk.retain(inRoom);
    const media = this.#media;
    if (media) {
      // Media follows seats, not connections: a person away keeps theirs until the seat is freed.
      for (const peerId of media.peerIds()) if (!inRoom(peerId)) media.removePeer(peerId);
      await media.applyPolicy(mediaPolicy(state));
      this.closeMediaIfEmpty();
    }
    const node = this.fence.node;
    for (const [memberId, session] of reclaim) {
      void this.queued(reclaimSeat(memberId, { connectionId: session.connectionId, node })).catch(() => undefined);
    }
  }

  register(memberId: string, session: RoomSessionHandle): void {
    this.sessions.register(memberId, session);
  }

  unregister(memberId: string, session: RoomSessionHandle): void {
    this.sessions.unregister(memberId, session);
  }

  /** The room's router, made when the first person starts media. Call inside `run`. */
  async openMedia(): Promise<RoomMedia> {
    if (this.#media && !this.#media.closed) return this.#media;
    if (!this.acting) throw moved();
    const media = await RoomMedia.create(this.#deps.pool, this.talk, () => {
      if (this.#media !== media) return;
      this.#media = undefined;
      void this.#mediaLost();
    }, { mayAct: () => this.acting, log: this.#deps.log, tap: this.#deps.tap });
    if (this.#closed) {
      media.close();
      throw moved();
    }
    this.#media = media;
    return media;
  }

  /** Close the router once nobody's media is in it. Call inside `run`. */
  closeMediaIfEmpty(): void {
    if (this.#media && this.#media.size === 0) {
      this.#media.close();
      this.#media = undefined;
    }
  }

  /**
   * The router died with its worker: nobody's producers exist any more, and everyone's client
   * is told to start media again (on a new router, made by their next `media:join`).
   */
  async #mediaLost(): Promise<void> {
    this.#deps.log.warn('room media lost with its worker; members rebuild it', { room: roomTag(this.id) });
    try {
      await this.queued(clearAllProducers);
    } catch (error) {
      this.#deps.log.warn('could not clear producers after a worker died', { room: roomTag(this.id), error: error instanceof Error ? error.message : String(error) });
    }
    if (!this.#closed) this.sessions.toEveryone('media:reset', {});
  }

  toFacilitators<K extends EventName>(event: K, payload: EventPayload<K>): number {
    return this.sessions.toFacilitators(this.#latest, event, payload);
  }

  /** Each facilitator in the room their own payload (null: nothing for them); how many got one. */
  toFacilitatorsEach<K extends EventName>(event: K, payloadFor: (memberId: string) => EventPayload<K> | null): number {
    return this.sessions.toFacilitatorsEach(this.#latest, event, payloadFor);
  }

  /** The facilitators in the room connected here now (see RoomSessions.facilitatorsHere). */
  facilitatorsHere(): string[] {
    return this.sessions.facilitatorsHere(this.#latest);
  }

  /**
   * One person, on the connection holding their seat here now (a room's connections are all
   * on its home); false when they have none (away, or gone).
   */
  toMember<K extends EventName>(memberId: string, event: K, payload: EventPayload<K>): boolean {
    return this.sessions.toMember(memberId, event, payload);
  }

  /** The facilitators' talk-time bars; every `save`-th report also saves the tallies (fenced). */
  reportTalkTime(now: number, save: boolean): void {
    const state = this.#latest;
    // Nothing to report before anyone's media started (or after it all stopped, with nothing counted).
    if (!state || !this.acting || this.sessions.size === 0 || (!this.#media && this.talk.size === 0)) return;
    if (save) this.saveTalk();
    const speakers = membersInOrder(state).filter((m) => m.role === 'member' && m.stage === 'admitted');
    this.toFacilitators('talk:time', { at: now, members: this.talk.snapshot(speakers.map((m) => m.id)) });
  }

  /** Save the talk time beside the room (best effort; only while this node holds the room). */
  saveTalk(): Promise<void> {
    const tally = this.talk.tally();
    if (!tally || !this.acting) return Promise.resolve();
    return this.#deps.store.saveTalk(this.id, tally, this.fence).catch((error: unknown) => {
      if (error instanceof LeaseLost) this.close('released');
    });
  }

  /**
   * End for all: tell everyone and close the media first, then record the end (only the
   * acknowledgements are kept). If recording fails the room stays `ended` in the store, and a
   * retry of the end or this node's next sweep finishes it.
   */
  async finishEnding(state: RoomState): Promise<void> {
    this.#timers.clearAll();
    this.sessions.clear({ terminate: 'session-ended' });
    this.#media?.close();
    this.#media = undefined;
    try {
      await this.#deps.store.end(this.id, this.#deps.config.ACK_RETENTION_SECONDS, this.fence);
    } catch (error) {
      this.#deps.log.warn('session end not recorded yet; the next sweep finishes it', { room: roomTag(this.id), error: error instanceof Error ? error.message : String(error) });
      this.close(error instanceof LeaseLost ? 'released' : 'ended');
      throw error;
    }
    this.#deps.log.info('session ended', { room: roomTag(this.id), acknowledgements: state.acknowledgements.length });
    this.close('ended');
  }

  /**
   * Undo everything the room has here: timers stop, tasks still waiting are refused, people's
   * connections are let go (they follow the room to its home and resume there; the store is
   * not touched, since this node may no longer write to it) and the media closes.
   */
  close(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = reason;
    if (reason === 'released') this.#deps.log.warn('letting go of a room served here', { room: roomTag(this.id) });
    this.#timers.clearAll();
    this.queue.close(reason === 'ended' ? () => new ProtocolFailure('NOT_FOUND', 'This session has ended') : moved);
    this.sessions.clear(reason === 'ended' ? { terminate: 'session-ended' } : 'moveAway');
    this.#media?.close();
    this.#media = undefined;
    this.#onClose?.(this);
  }
}
