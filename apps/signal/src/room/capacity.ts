import { isFacilitatorRole, type Acknowledgement } from '@group-room/shared';
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

/** A facilitator may come in while the room has a seat. */
export const facilitatorFits = (state: RoomState): boolean => admittedCount(state) < state.capacity;

/** One more member may be let in: a seat is free, and it is not the last one. */
export const memberFits = (state: RoomState): boolean =>
  admittedCount(state) < state.capacity && count(state, (stage, facilitator) => stage === 'admitted' && !facilitator) < state.capacity - 1;

/** Someone new may start on the way in. */
export const lobbyFits = (state: RoomState): boolean => lobbyCount(state) < state.capacity;

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
