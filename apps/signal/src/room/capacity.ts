import { isFacilitatorRole, ProtocolFailure, type Acknowledgement } from '@group-room/shared';
import type { RoomState } from './state.js';

/*
 * How many people a room holds. Capacity counts the people in the room (admitted); those on
 * the way in (at the agreement or in the waiting room) are a separate line of the same size,
 * so people who never get past the agreement cannot fill the room. Members never take the
 * last seat: it is kept for a facilitator, so members can never lock them out.
 */

/** Entries kept in the acknowledgement record at most (one per person per agreement version). */
export const ACK_RECORD_MAX = 256;

const count = (state: RoomState, keep: (stage: string, facilitator: boolean) => boolean) =>
  Object.values(state.members).filter((m) => keep(m.stage, isFacilitatorRole(m.role))).length;

export const admittedCount = (state: RoomState): number => count(state, (stage) => stage === 'admitted');

/** People at the agreement or waiting to be let in. */
export const lobbyCount = (state: RoomState): number => count(state, (stage) => stage !== 'admitted');

/**
 * A facilitator may come in while the room has a seat; the session's owner (see
 * MemberState.owner) one more: whoever holds a leaked facilitator link can fill the room, but
 * never against the person who created the session.
 */
export const facilitatorFits = (state: RoomState, owner = false): boolean => admittedCount(state) < state.capacity + (owner ? 1 : 0);

/** One more member may be let in: a seat is free, and it is not the last one. */
export const memberFits = (state: RoomState): boolean =>
  admittedCount(state) < state.capacity && count(state, (stage, facilitator) => stage === 'admitted' && !facilitator) < state.capacity - 1;

/** Someone new may start on the way in. */
export const lobbyFits = (state: RoomState): boolean => lobbyCount(state) < state.capacity;

/*
 * The way in is shared by everyone holding a link, so no one source may fill it: one holder of
 * the shared invite link could otherwise keep it full (and the facilitator's only remedy,
 * blocking that link, would shut out the whole group). So places on the way in are limited
 * per client address (its key) and per invite link: a personal link is one person's; the
 * shared link may hold most of the way in, never all of it, so personal links (the
 * facilitator's way to let a group in past a squatter) always find a place. Counted in the
 * same pure change as the entry, so entries at once cannot race past a limit.
 */

/** The limits on the way in (ENTRY_PER_ADDRESS, ENTRY_PER_INVITE, ENTRY_RESERVED). */
export interface EntryLimits {
  /** People on the way in from one address (key) at once. */
  perAddress: number;
  /** People on the way in with one personal invite link at once. */
  perInvite: number;
  /** Places on the way in the shared link leaves to personal links (at most a quarter of the room's). */
  reserved: number;
}

/** No limit but the way in's size: for the rules' own tests; the server passes its settings. */
export const OPEN_WAY_IN: EntryLimits = { perAddress: Infinity, perInvite: Infinity, reserved: 0 };

/** How many the shared invite link may have on the way in: a small room keeps most of its line for it. */
export const sharedLinkBound = (state: RoomState, limits: EntryLimits): number =>
  state.capacity - Math.min(limits.reserved, Math.floor(state.capacity / 4));

const onTheWayIn = (state: RoomState) => Object.values(state.members).filter((m) => m.stage !== 'admitted');

/**
 * One more person may start on the way in with `inviteId` from `addressKey` (unknown: not
 * counted), or RATE_LIMITED says to try again later. A room that does not know its shared link
 * (stored before it was recorded) gives every link the shared link's bound.
 */
export function checkWayIn(state: RoomState, inviteId: string | null, addressKey: string | undefined, limits: EntryLimits): void {
  const lobby = onTheWayIn(state);
  if (addressKey !== undefined && lobby.filter((m) => m.addressKey === addressKey).length >= limits.perAddress) {
    throw new ProtocolFailure('RATE_LIMITED', 'Too many people from your network are on their way in to this session right now: try again in a few minutes');
  }
  if (inviteId === null) return;
  const shared = !state.sharedInviteId || inviteId === state.sharedInviteId;
  const withLink = lobby.filter((m) => m.inviteId === inviteId).length;
  if (shared && withLink >= sharedLinkBound(state, limits)) {
    throw new ProtocolFailure('RATE_LIMITED', 'Too many people are on their way in with this link right now: try again in a few minutes');
  }
  if (!shared && withLink >= limits.perInvite) {
    throw new ProtocolFailure('RATE_LIMITED', 'This invite link is already being used to come in: try again in a few minutes, or ask your facilitator for a link of your own');
  }
}

/**
 * The record with this acknowledgement: once per person and version, and at most
 * ACK_RECORD_MAX entries (past that, the oldest entries of people no longer here go first).
 */
export function recordAcknowledgement(state: RoomState, entry: Acknowledgement): Acknowledgement[] {
  const record = state.acknowledgements;
  if (record.some((a) => a.memberId === entry.memberId && a.version === entry.version)) return record;
  const next = [...record, entry];
  while (next.length > ACK_RECORD_MAX) {
    const gone = next.findIndex((a) => !state.members[a.memberId]);
    next.splice(gone === -1 ? 0 : gone, 1);
  }
  return next;
}
