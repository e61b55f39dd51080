import { isFacilitatorRole, type EventName, type EventPayload } from '@group-room/shared';
import { actorState } from '../room/authorisation.js';
import type { RoomState } from '../room/state.js';
import type { ViewBatcher } from './view-batcher.js';

/** What a live room needs of a connected person. */
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
  /** Send this person one event (the room decides who may receive it). */
  send<K extends EventName>(event: K, payload: EventPayload<K>): void;
  /**
   * This node no longer serves the room: close this connection without touching the seat, so
   * the client connects again, is handed over to the room's home and resumes there.
   */
  moveAway(): void;
  /**
   * This connection no longer holds a seat: the person was removed, the session ended, or the
   * seat was resumed from another connection. Tell them, forget them.
   */
  terminate(reason: EventPayload<'room:ended'>['reason']): void;
}

/**
 * The connections of one room's people on its home, by member id: who is sent each new view,
 * who is let go when their seat goes, and the facilitators' feed (what only facilitators in
 * the room receive: talk time, private signals).
 */
export class RoomSessions {
  readonly #sessions = new Map<string, RoomSessionHandle>();
  readonly #batcher: ViewBatcher;

  constructor(batcher: ViewBatcher) {
    this.#batcher = batcher;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** The connection now serving a person's seat; one it replaces is let go. */
  register(memberId: string, session: RoomSessionHandle): void {
    const previous = this.#sessions.get(memberId);
    this.#sessions.set(memberId, session);
    if (previous && previous !== session) previous.terminate('replaced');
  }

  /** Forget this connection (only if it is still the one registered for that seat). */
  unregister(memberId: string, session: RoomSessionHandle): void {
    if (this.#sessions.get(memberId) === session) this.#sessions.delete(memberId);
  }

  get(memberId: string): RoomSessionHandle | undefined {
    return this.#sessions.get(memberId);
  }

  /**
   * Follow a new state: people no longer in it are let go, seats taken from another connection
   * let this one go, everyone else is sent their view. Returns the people whose seat is marked
   * away although their connection is here (the store was briefly unreachable when it was).
   */
  follow(state: RoomState): [string, RoomSessionHandle][] {
    const reclaim: [string, RoomSessionHandle][] = [];
    for (const [memberId, session] of [...this.#sessions]) {
      const member = state.members[memberId];
      if (!member) {
        this.#sessions.delete(memberId);
        // Cleared off the way in (lobby.clear): they may come in again with their link.
        session.terminate(state.cleared?.includes(memberId) ? 'cleared' : 'removed');
      } else if (member.connectionId !== null && member.connectionId !== session.connectionId) {
        this.#sessions.delete(memberId);
        session.terminate('replaced');
      } else {
        if (member.connectionId === null) reclaim.push([memberId, session]);
        session.sendView(state);
        this.#batcher.hold(session);
      }
    }
    return reclaim;
  }

  /** Send an event to the room's facilitators in the room, and nobody else; how many got it. */
  toFacilitators<K extends EventName>(state: RoomState | undefined, event: K, payload: EventPayload<K>): number {
    return this.toFacilitatorsEach(state, event, () => payload);
  }

  /**
   * Send each facilitator in the room their own payload (`payloadFor` their member id; null:
   * nothing for them), and nobody else; how many got one.
   */
  toFacilitatorsEach<K extends EventName>(state: RoomState | undefined, event: K, payloadFor: (memberId: string) => EventPayload<K> | null): number {
    let sent = 0;
    for (const memberId of this.facilitatorsHere(state)) {
      const payload = payloadFor(memberId);
      if (payload === null) continue;
      this.#sessions.get(memberId)?.send(event, payload);
      sent++;
    }
    return sent;
  }

  /** The facilitators in the room connected here now: whom the facilitators' feed reaches. */
  facilitatorsHere(state: RoomState | undefined): string[] {
    if (!state) return [];
    return [...this.#sessions.keys()].filter((memberId) => {
      const member = state.members[memberId];
      return member !== undefined && isFacilitatorRole(member.role) && actorState(state, memberId) === 'admitted';
    });
  }

  /** Send one person an event on the connection holding their seat here now; false when there is none. */
  toMember<K extends EventName>(memberId: string, event: K, payload: EventPayload<K>): boolean {
    const session = this.#sessions.get(memberId);
    if (!session) return false;
    session.send(event, payload);
    return true;
  }

  /** Everyone gets this event (e.g. media:reset). */
  toEveryone<K extends EventName>(event: K, payload: EventPayload<K>): void {
    for (const session of this.#sessions.values()) session.send(event, payload);
  }

  /** Let everyone go: `terminate` with a reason (the session ended), or `moveAway` (the room moved). */
  clear(how: { terminate: EventPayload<'room:ended'>['reason'] } | 'moveAway'): void {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const session of sessions) {
      if (how === 'moveAway') session.moveAway();
      else session.terminate(how.terminate);
    }
  }
}
