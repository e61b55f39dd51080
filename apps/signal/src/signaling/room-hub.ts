import { isFacilitatorRole, type EventName, type EventPayload, type Stage } from '@group-room/shared';
import type { Config } from '../config.js';
import { roomTag, type Logger } from '../logger.js';
import type { RunOptions } from '../keyed-queue.js';
import type { RoomRegistry } from '../media/room-registry.js';
import { actorState } from '../room/authorisation.js';
import { clearAllProducers, reclaimSeat } from '../room/seats.js';
import { mediaPolicy, membersInOrder, type RoomChange, type RoomState } from '../room/state.js';
import type { RoomStore } from '../store/room-store.js';
import { TurnTimers } from './turn-timers.js';

/** Talk time is reported about once a second and saved beside the room every fifth time. */
const TALK_SAVE_EVERY = 5;

/** What the hub needs of a connected person. */
export interface RoomSessionHandle {
  /** The connection's id, as the seat in the room state records it. */
  readonly connectionId: string;
  /**
   * Hold this person's view (projection) of the new state until `flushView`; of several
   * states held in one turn of the event loop only the newest is sent.
   */
  sendView(state: RoomState): void;
  /** Send the view held by `sendView`, if any. Whatever else is sent to this person sends it first. */
  flushView(): void;
  /** Send this person one event (the hub decides who may receive it). */
  send<K extends EventName>(event: K, payload: EventPayload<K>): void;
  /**
   * The room is now served by another node: close this connection without touching the seat,
   * so the client connects again, is handed over to the room's home and resumes there.
   */
  moveAway(): void;
  /**
   * This connection no longer holds a seat: the person was removed, the session ended, or the
   * seat was resumed from another connection. Tell them, forget them.
   */
  terminate(reason: EventPayload<'room:ended'>['reason']): void;
}

/**
 * After every change to a room's state: each connected person on this node is sent their
 * own view, people who are no longer in the state are let go, the media policy derived
 * from the state is applied to the room's router, and a timed turn's timer is set. The one
 * place where state turns into effects; also the one that picks who receives what is for
 * facilitators only (talk time, private signals).
 */
export class RoomHub {
  readonly #sessions = new Map<string, Map<string, RoomSessionHandle>>();
  /** Talk-time reports so far; every TALK_SAVE_EVERY-th also saves the tallies. */
  #talkReports = 0;
  /** The last state published per room on this node, to tell who is a facilitator. */
  readonly #latest = new Map<string, RoomState>();
  readonly #store: RoomStore;
  readonly #rooms: RoomRegistry;
  readonly #config: Pick<Config, 'ACK_RETENTION_SECONDS'>;
  readonly #log: Logger;
  readonly #timers: TurnTimers;
  /** This signalling node, as seats record it. */
  readonly #nodeId: string;
  /** Sessions holding a view, sent together once the current turn of the event loop is over. */
  readonly #unsent = new Set<RoomSessionHandle>();
  /** Settles when the held views have been sent; undefined while none are held. */
  #viewsSent: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(store: RoomStore, rooms: RoomRegistry, config: Pick<Config, 'ACK_RETENTION_SECONDS'>, log: Logger, nodeId: string) {
    this.#store = store;
    this.#rooms = rooms;
    this.#config = config;
    this.#log = log;
    this.#nodeId = nodeId;
    this.#timers = new TurnTimers((roomId, change) => this.queued(roomId, change), log);
    rooms.onLost = (roomId) => void this.#mediaLost(roomId);
  }

  /** Whether this node holds anything for the room: a connection, its media or its talk time. */
  serving(roomId: string): boolean {
    return (this.#sessions.get(roomId)?.size ?? 0) > 0 || this.#rooms.get(roomId) !== undefined || this.#rooms.talkTime(roomId) !== undefined;
  }

  /**
   * Another node took the room over (this one's heartbeat lapsed for a while): stop its timers,
   * let its connections go (they follow the room to its home and resume there) and close its
   * media here.
   */
  release(roomId: string): void {
    this.#log.warn('room served by another node now; letting go of it here', { room: roomTag(roomId) });
    this.#timers.clear(roomId);
    this.#saveTalk(roomId);
    for (const session of [...(this.#sessions.get(roomId)?.values() ?? [])]) session.moveAway();
    this.#sessions.delete(roomId);
    this.#latest.delete(roomId);
    this.#rooms.close(roomId);
  }

  /** This node just took the room over from a node that died: run its timed turn from here. */
  adopt(state: RoomState): void {
    this.#log.info('room taken over from a node that stopped', { room: roomTag(state.id) });
    this.#timers.schedule(state);
  }

  /** Rooms with someone connected on this node, and their people by stage (for metrics). */
  people(): { rooms: number; byStage: Record<Stage, number> } {
    const byStage: Record<Stage, number> = { agreement: 0, waiting: 0, admitted: 0 };
    let rooms = 0;
    for (const [roomId, sessions] of this.#sessions) {
      const state = this.#latest.get(roomId);
      if (!state || sessions.size === 0) continue;
      rooms++;
      for (const member of Object.values(state.members)) byStage[member.stage]++;
    }
    return { rooms, byStage };
  }

  /** Apply a change in the room's queue, in order with everything else for that room. */
  queued(roomId: string, change: RoomChange, options: RunOptions = {}): Promise<RoomState> {
    return this.#rooms.queue.run(roomId, () => this.change(roomId, change), options);
  }

  /** The connection now serving a person's seat on this node; one it replaces is let go. */
  register(roomId: string, memberId: string, session: RoomSessionHandle): void {
    let sessions = this.#sessions.get(roomId);
    if (!sessions) this.#sessions.set(roomId, (sessions = new Map()));
    const previous = sessions.get(memberId);
    sessions.set(memberId, session);
    if (previous && previous !== session) previous.terminate('replaced');
  }

  /** Forget this connection (only if it is still the one registered for that seat). */
  unregister(roomId: string, memberId: string, session: RoomSessionHandle): void {
    const sessions = this.#sessions.get(roomId);
    if (sessions?.get(memberId) !== session) return;
    sessions.delete(memberId);
    if (sessions.size === 0) {
      this.#sessions.delete(roomId);
      this.#latest.delete(roomId);
    }
  }

  /** Apply one change atomically, then its effects. Call inside the room's queue. */
  async change(roomId: string, change: RoomChange): Promise<RoomState> {
    const state = await this.#store.update(roomId, change);
    await this.publish(state);
    return state;
  }

  async publish(state: RoomState): Promise<void> {
    if (state.ended) return this.#end(state);
    const sessions = [...(this.#sessions.get(state.id) ?? [])];
    if (sessions.length > 0) this.#latest.set(state.id, state);
    const reclaim: [string, RoomSessionHandle][] = [];
    for (const [memberId, session] of sessions) {
      const member = state.members[memberId];
      if (!member) session.terminate('removed');
      else if (member.connectionId !== null && member.connectionId !== session.connectionId) session.terminate('replaced');
      else {
        // Marked away while still connected here (this node was cut off from the store for a while).
        if (member.connectionId === null) reclaim.push([memberId, session]);
        session.sendView(state);
        this.#holdView(session);
      }
    }
    this.#timers.schedule(state);
    const inRoom = (memberId: string) => Boolean(state.members[memberId]);
    this.#rooms.forgetTalk(state.id, inRoom);
    const media = this.#rooms.get(state.id);
    if (media) {
      // Media follows seats, not connections: a person away keeps theirs until the seat is freed.
      for (const peerId of media.peerIds()) if (!inRoom(peerId)) media.removePeer(peerId);
      await media.applyPolicy(mediaPolicy(state));
      this.#rooms.closeIfEmpty(state.id);
    }
    // Only the room's home takes seats back: a node that just lost the room must not undo the
    // new home's marking them away.
    if (state.home && state.home.node !== this.#nodeId) reclaim.length = 0;
    for (const [memberId, session] of reclaim) {
      void this.queued(state.id, reclaimSeat(memberId, { connectionId: session.connectionId, node: this.#nodeId })).catch(() => undefined);
    }
  }

  /**
   * With the in-memory store a burst of changes (people arriving together, commands queued
   * behind each other) runs in one turn of the event loop: each person is then sent only the
   * view of the last, once, after it. (With Redis each change waits for its round trips, so
   * the views still go out one change at a time.)
   */
  #holdView(session: RoomSessionHandle): void {
    this.#unsent.add(session);
    if (this.#viewsSent) return;
    let resolve = () => {};
    const promise = new Promise<void>((done) => (resolve = done));
    this.#viewsSent = { promise, resolve };
    setImmediate(() => this.flushViews());
  }

  /** Send every held view now. */
  flushViews(): void {
    const sessions = [...this.#unsent];
    const sent = this.#viewsSent;
    this.#unsent.clear();
    this.#viewsSent = undefined;
    for (const session of sessions) {
      try {
        session.flushView();
      } catch (error) {
        // One person's view failing must not hold back the others' views or anyone's answers.
        this.#log.error('could not send a view', { error: error instanceof Error ? error.message : String(error) });
      }
    }
    sent?.resolve();
  }

  /**
   * Settles once the views held now have been sent; undefined when none are held. A request's
   * answer waits for it, so it never arrives before the view of the change it made.
   */
  viewsSent(): Promise<void> | undefined {
    return this.#viewsSent?.promise;
  }

  /**
   * A room's router died with its worker: nobody's producers exist any more, and everyone's
   * client is told to start media again (on a new router, made by their next `media:join`).
   */
  async #mediaLost(roomId: string): Promise<void> {
    this.#log.warn('room media lost with its worker; members rebuild it', { room: roomTag(roomId) });
    try {
      await this.queued(roomId, clearAllProducers);
    } catch (error) {
      this.#log.warn('could not clear producers after a worker died', { room: roomTag(roomId), error: error instanceof Error ? error.message : String(error) });
    }
    for (const session of this.#sessions.get(roomId)?.values() ?? []) session.send('media:reset', {});
  }

  /** Send an event to the room's facilitators in the room on this node, and nobody else. */
  toFacilitators<K extends EventName>(roomId: string, event: K, payload: EventPayload<K>): number {
    const state = this.#latest.get(roomId);
    if (!state) return 0;
    let sent = 0;
    for (const [memberId, session] of this.#sessions.get(roomId) ?? []) {
      const member = state.members[memberId];
      if (member && isFacilitatorRole(member.role) && actorState(state, memberId) === 'admitted') {
        session.send(event, payload);
        sent++;
      }
    }
    return sent;
  }

  /** Every room's talk time to its facilitators (called about once a second). */
  reportTalkTime(now = Date.now()): void {
    const save = ++this.#talkReports % TALK_SAVE_EVERY === 0;
    for (const [roomId, state] of this.#latest) {
      const talk = this.#rooms.talkTime(roomId);
      if (!talk) continue;
      if (save) this.#saveTalk(roomId);
      const speakers = membersInOrder(state).filter((m) => m.role === 'member' && m.stage === 'admitted');
      this.toFacilitators(roomId, 'talk:time', { at: now, members: talk.snapshot(speakers.map((m) => m.id)) });
    }
  }

  /** Save a room's talk time if it changed (best effort: the next save catches up). */
  #saveTalk(roomId: string): void {
    const tally = this.#rooms.talkTime(roomId)?.tally();
    if (tally) void this.#store.saveTalk(roomId, tally).catch(() => undefined);
  }

  /** End for all: keep only the acknowledgement record, let everyone go, close the media. */
  async #end(state: RoomState): Promise<void> {
    this.#timers.clear(state.id);
    await this.#store.end(state.id, this.#config.ACK_RETENTION_SECONDS);
    for (const session of [...(this.#sessions.get(state.id)?.values() ?? [])]) session.terminate('session-ended');
    this.#sessions.delete(state.id);
    this.#latest.delete(state.id);
    this.#rooms.close(state.id);
    this.#log.info('session ended', { room: roomTag(state.id), acknowledgements: state.acknowledgements.length });
  }

  close(): void {
    this.#timers.clearAll();
    this.flushViews();
  }
}
