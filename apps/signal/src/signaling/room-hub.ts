import { isFacilitatorRole, type EventName, type EventPayload } from '@group-room/shared';
import type { Config } from '../config.js';
import { roomTag, type Logger } from '../logger.js';
import type { RoomRegistry } from '../media/room-registry.js';
import { actorState } from '../room/authorisation.js';
import { mediaPolicy, membersInOrder, type RoomChange, type RoomState } from '../room/state.js';
import type { RoomStore } from '../store/room-store.js';
import { TurnTimers } from './turn-timers.js';

/** What the hub needs of a connected person. */
export interface RoomSessionHandle {
  /** Send this person their view (projection) of the new state. */
  sendView(state: RoomState): void;
  /** Send this person one event (the hub decides who may receive it). */
  send<K extends EventName>(event: K, payload: EventPayload<K>): void;
  /** The state no longer has this person (removed, or the session ended): tell them, forget them. */
  terminate(reason: 'removed' | 'session-ended'): void;
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
  /** The last state published per room on this node, to tell who is a facilitator. */
  readonly #latest = new Map<string, RoomState>();
  readonly #store: RoomStore;
  readonly #rooms: RoomRegistry;
  readonly #config: Pick<Config, 'ACK_RETENTION_SECONDS'>;
  readonly #log: Logger;
  readonly #timers: TurnTimers;

  constructor(store: RoomStore, rooms: RoomRegistry, config: Pick<Config, 'ACK_RETENTION_SECONDS'>, log: Logger) {
    this.#store = store;
    this.#rooms = rooms;
    this.#config = config;
    this.#log = log;
    this.#timers = new TurnTimers((roomId, change) => this.#rooms.queue.run(roomId, () => this.change(roomId, change)), log);
  }

  register(roomId: string, memberId: string, session: RoomSessionHandle): void {
    let sessions = this.#sessions.get(roomId);
    if (!sessions) this.#sessions.set(roomId, (sessions = new Map()));
    sessions.set(memberId, session);
  }

  unregister(roomId: string, memberId: string): void {
    const sessions = this.#sessions.get(roomId);
    sessions?.delete(memberId);
    if (sessions?.size === 0) {
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
    for (const [memberId, session] of sessions) {
      if (state.members[memberId]) session.sendView(state);
      else session.terminate('removed');
    }
    this.#timers.schedule(state);
    const media = this.#rooms.get(state.id);
    if (media) {
      for (const [memberId] of sessions) if (!state.members[memberId]) media.removePeer(memberId);
      await media.applyPolicy(mediaPolicy(state));
      this.#rooms.closeIfEmpty(state.id);
    }
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
    for (const [roomId, state] of this.#latest) {
      const media = this.#rooms.get(roomId);
      if (!media) continue;
      const speakers = membersInOrder(state).filter((m) => m.role === 'member' && m.stage === 'admitted');
      this.toFacilitators(roomId, 'talk:time', { at: now, members: media.talkTime.snapshot(speakers.map((m) => m.id)) });
    }
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
  }
}
