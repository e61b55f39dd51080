import { ProtocolFailure, type Floor } from '@group-room/shared';
import { withMember, withoutMember, type MemberState, type RoomChange, type RoomState } from './state.js';

/*
 * A person's seat outlives their connection. When a connection closes without "Leave" the
 * seat stays, marked away, for a grace period: role, stage, acknowledgement, place in the
 * queue, the floor or a round turn (its timer paused), a facilitator's holds. A resume with
 * the seat's credential gives it back; when the grace period is over the seat is freed. All
 * pure changes, so both stores apply them atomically.
 */

/** The connection that holds a seat: its id, the node serving it, and the resume nonce. */
export interface SeatConnection {
  connectionId: string;
  /** The signalling node serving it (null only in tests of the rules). */
  node: string | null;
  resumeNonce: string;
}

export const SEAT_GONE = 'Your place in this session was not kept';

/** A turn with a time limit stops its clock while its holder is away... */
function pauseTurn(floor: Floor, memberId: string, now: number): Floor {
  if (floor.holder !== memberId || floor.turnEndsAt === null) return floor;
  return { ...floor, turnEndsAt: null, turnPausedMs: Math.max(0, floor.turnEndsAt - now) };
}

/** ...and goes on with the time it had left when they are back. */
function resumeTurn(floor: Floor, memberId: string, now: number): Floor {
  if (floor.holder !== memberId || floor.turnPausedMs === null) return floor;
  return { ...floor, turnEndsAt: now + floor.turnPausedMs, turnPausedMs: null };
}

function connected(state: RoomState, member: MemberState, connection: SeatConnection, now: number): RoomState {
  const next = withMember(state, { ...member, ...connection, offlineSince: null });
  return { ...next, floor: resumeTurn(next.floor, member.id, now) };
}

/**
 * Take a seat back with its credential's nonce. FORBIDDEN unless the seat is still there and
 * the nonce is its current one (a credential works once; an older one, or another tab's
 * guess, is refused) or, while the seat is away and the page has not confirmed the newer one
 * (confirmSeat), the one before: the answer with the newer credential can be lost with the
 * connection that asked, and that must not cost the seat.
 */
export const resumeSeat =
  (memberId: string, nonce: string, connection: SeatConnection, now = Date.now()): RoomChange =>
  (state) => {
    if (state.ended) throw new ProtocolFailure('NOT_FOUND', 'This session has ended');
    const member = state.members[memberId];
    if (!member || !nonce) throw new ProtocolFailure('FORBIDDEN', SEAT_GONE);
    const current = member.resumeNonce === nonce;
    const lostAnswer = member.previousNonce === nonce && member.connectionId === null;
    if (!current && !lostAnswer) throw new ProtocolFailure('FORBIDDEN', SEAT_GONE);
    // The nonce the person may still hold stays good (for another lost answer), nothing older.
    return connected(state, { ...member, previousNonce: current ? member.resumeNonce : member.previousNonce }, connection, now);
  };

/**
 * The page holding the seat on `connectionId` has stored the credential with the seat's
 * current nonce (`room:confirmResume`): the nonce before it stops working now, so a credential
 * works once even while the seat is away (a copied or stolen older one is refused). Anything
 * but the current nonce on the connection holding the seat is refused and changes nothing.
 */
export const confirmSeat =
  (memberId: string, nonce: string, connectionId: string): RoomChange =>
  (state) => {
    if (state.ended) throw new ProtocolFailure('NOT_FOUND', 'This session has ended');
    const member = state.members[memberId];
    if (!member || !nonce || member.connectionId !== connectionId || member.resumeNonce !== nonce) {
      throw new ProtocolFailure('FORBIDDEN', 'That is not the credential of the seat this connection holds');
    }
    if (member.previousNonce === null) return state;
    return withMember(state, { ...member, previousNonce: null });
  };

/**
 * A live connection claims its seat again without a new nonce: the seat was marked away
 * while this connection was in fact still there (its node was briefly cut off from the store).
 */
export const reclaimSeat =
  (memberId: string, connection: Omit<SeatConnection, 'resumeNonce'>, now = Date.now()): RoomChange =>
  (state) => {
    const member = state.members[memberId];
    if (!member || member.connectionId !== null) return state;
    return connected(state, member, { ...connection, resumeNonce: member.resumeNonce }, now);
  };

/**
 * The connection holding the seat closed without leaving: the seat waits, away. Nothing
 * changes if another connection has taken the seat meanwhile (a resume won the race).
 */
export const disconnectSeat =
  (memberId: string, connectionId: string, now = Date.now()): RoomChange =>
  (state) => {
    const member = state.members[memberId];
    if (!member || member.connectionId !== connectionId) return state;
    const next = withMember(state, { ...member, connectionId: null, offlineSince: now });
    return { ...next, floor: pauseTurn(next.floor, memberId, now) };
  };

/**
 * Someone still reading the entry agreement: nothing acknowledged, no place in the room. Their
 * seat holds nothing worth keeping for them, only a place on the way in.
 */
export const atEntryAgreement = (member: MemberState): boolean => member.stage === 'agreement' && member.acknowledgedVersion === null;

/**
 * The connection holding the seat closed without leaving: a seat at the entry agreement is
 * freed at once (kept, it would be a place on the way in held by nobody; a reload starts again
 * with the link), any other waits, away, for the grace period (disconnectSeat).
 */
export const dropSeat =
  (memberId: string, connectionId: string, now = Date.now()): RoomChange =>
  (state) => {
    const member = state.members[memberId];
    if (!member || member.connectionId !== connectionId) return state;
    return atEntryAgreement(member) ? withoutMember(state, memberId, now) : disconnectSeat(memberId, connectionId, now)(state);
  };

export interface SweepOptions {
  now: number;
  graceMs: number;
  /** Nodes known to be alive; a seat held through any other node has lost its connection. */
  liveNodes: ReadonlySet<string>;
  /**
   * The sweeping node and the connections open on it now: a seat it serves through a
   * connection that is gone lost it without being marked away (the store was unreachable
   * when it closed), and is marked away now, so no seat stays "online" with nobody there.
   */
  local?: { node: string; connections: ReadonlySet<string> };
  /**
   * Someone who entered this long ago and has still not accepted the agreement is let go
   * (they hold a place in the line on the way in). Undefined: nobody is.
   */
  agreementIdleMs?: number;
}

/**
 * Free the seats away for longer than the grace period (out of the members, the queue and
 * the round: no ghost stays), and those still at the entry agreement for too long; mark away
 * the seats held through a node that has died, whose media died with it (their producers
 * are gone).
 */
export const sweepSeats =
  ({ now, graceMs, liveNodes, local, agreementIdleMs }: SweepOptions): RoomChange =>
  (state) => {
    let next = state;
    for (const member of Object.values(state.members)) {
      const idle = agreementIdleMs !== undefined && atEntryAgreement(member) && now - member.enteredAt >= agreementIdleMs;
      if (idle) {
        next = withoutMember(next, member.id, now);
      } else if (member.offlineSince !== null) {
        if (now - member.offlineSince >= graceMs) next = withoutMember(next, member.id, now);
      } else if (member.connectionId !== null && local && member.node === local.node && !local.connections.has(member.connectionId)) {
        // Its connection closed here while the store was unreachable: as if it had been seen to.
        next = dropSeat(member.id, member.connectionId, now)(next);
      } else if (member.connectionId !== null && member.node !== null && !liveNodes.has(member.node)) {
        next = disconnectSeat(member.id, member.connectionId, now)(next);
        const away = next.members[member.id];
        if (away && Object.keys(away.producers).length > 0) next = withMember(next, { ...away, producers: {} });
      }
    }
    return next;
  };

/** The person's media starts afresh (a reload, or a new router): their old producers are gone. */
export const clearProducers =
  (memberId: string): RoomChange =>
  (state) => {
    const member = state.members[memberId];
    if (!member || Object.keys(member.producers).length === 0) return state;
    return withMember(state, { ...member, producers: {} });
  };

/** The room's media was lost (its worker died): nobody's producers exist any more. */
export const clearAllProducers: RoomChange = (state) => {
  let next = state;
  for (const memberId of Object.keys(state.members)) next = clearProducers(memberId)(next);
  return next;
};
