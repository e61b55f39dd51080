import { isFacilitatorRole, ProtocolFailure, type Role } from '@group-room/shared';
import type { SeatConnection } from './seats.js';
import { facilitatorFits, lobbyFits } from './capacity.js';
import { facilitatorLinkGeneration, withMember, withoutMember, type RoomChange } from './state.js';

export interface Entrant {
  id: string;
  displayName: string;
  role: Role;
  inviteId: string | null;
  /** A facilitator link's generation (see RoomState.facilitatorLinkGeneration); 0 when left out. */
  linkGeneration?: number;
  /** The connection taking the new seat (tests of the rules may leave it out). */
  connection?: SeatConnection;
}

/**
 * Someone arrives with a verified link. Facilitators go straight in; members start at the
 * agreement, and see nobody until they have acknowledged it and been admitted.
 */
export const enter =
  (entrant: Entrant, now = Date.now()): RoomChange =>
  (state) => {
    if (state.ended) throw new ProtocolFailure('NOT_FOUND', 'This session has ended');
    if (state.members[entrant.id]) throw new ProtocolFailure('INVALID_STATE', 'Already in this room');
    const facilitator = isFacilitatorRole(entrant.role);
    if (entrant.role === 'facilitator' && (entrant.linkGeneration ?? 0) !== facilitatorLinkGeneration(state)) {
      throw new ProtocolFailure('FORBIDDEN', 'This facilitator link has been replaced');
    }
    if (!facilitator && state.locked) throw new ProtocolFailure('FORBIDDEN', 'The room is locked: nobody new can come in');
    if (entrant.inviteId && state.blockedInvites.includes(entrant.inviteId)) {
      throw new ProtocolFailure('FORBIDDEN', 'This link can no longer be used to join this session');
    }
    if (facilitator ? !facilitatorFits(state) : !lobbyFits(state)) {
      throw new ProtocolFailure('ROOM_FULL', facilitator ? `This room is full (${state.capacity} people)` : 'Too many people are on their way in right now: try again in a few minutes');
    }
    const { connection, linkGeneration: _generation, ...person } = entrant;
    return withMember(state, {
      ...person,
      connectionId: connection?.connectionId ?? entrant.id,
      node: connection?.node ?? null,
      offlineSince: null,
      resumeNonce: connection?.resumeNonce ?? '',
      previousNonce: null,
      stage: facilitator ? 'admitted' : 'agreement',
      acknowledgedVersion: null,
      enteredAt: now,
      producers: {},
      heldOff: [],
      asked: [],
    });
  };

/** Leaving (or disconnecting): the member is gone; their acknowledgements stay on record. */
export const leave =
  (memberId: string, now = Date.now()): RoomChange =>
  (state) =>
    withoutMember(state, memberId, now);
