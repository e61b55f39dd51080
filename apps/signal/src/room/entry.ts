import { isFacilitatorRole, ProtocolFailure, type Role } from '@group-room/shared';
import type { SeatConnection } from './seats.js';
import { checkWayIn, facilitatorFits, lobbyFits, OPEN_WAY_IN, type EntryLimits } from './capacity.js';
import { facilitatorLinkGeneration, withMember, withoutMember, type RoomChange } from './state.js';

export interface Entrant {
  id: string;
  displayName: string;
  role: Role;
  inviteId: string | null;
  /** A facilitator link's generation (see RoomState.facilitatorLinkGeneration); 0 when left out. */
  linkGeneration?: number;
  /** A facilitator link with the room's owner key (verified): the seat is the owner's. */
  owner?: boolean;
  /** The key standing for the client's address (see SocketData), counted on the way in. */
  addressKey?: string;
  /** The connection taking the new seat (tests of the rules may leave it out). */
  connection?: SeatConnection;
}

/**
 * Someone arrives with a verified link. Facilitators go straight in; members start at the
 * agreement, and see nobody until they have acknowledged it and been admitted.
 */
export const enter =
  (entrant: Entrant, now = Date.now(), limits: EntryLimits = OPEN_WAY_IN): RoomChange =>
  (state) => {
    if (state.ended) throw new ProtocolFailure('NOT_FOUND', 'This session has ended');
    if (state.members[entrant.id]) throw new ProtocolFailure('INVALID_STATE', 'Already in this room');
    const facilitator = isFacilitatorRole(entrant.role);
    const owner = entrant.role === 'facilitator' && entrant.owner === true;
    // The owner's entry ignores generations: no rotation locks out the person who created the session.
    if (entrant.role === 'facilitator' && !owner && (entrant.linkGeneration ?? 0) !== facilitatorLinkGeneration(state)) {
      throw new ProtocolFailure('FORBIDDEN', 'This facilitator link has been replaced');
    }
    if (!facilitator && state.locked) throw new ProtocolFailure('FORBIDDEN', 'The room is locked: nobody new can come in');
    if (entrant.inviteId && state.blockedInvites.includes(entrant.inviteId)) {
      throw new ProtocolFailure('FORBIDDEN', 'This link can no longer be used to join this session');
    }
    if (facilitator ? !facilitatorFits(state, owner) : !lobbyFits(state)) {
      throw new ProtocolFailure('ROOM_FULL', facilitator ? `This room is full (${state.capacity} people)` : 'Too many people are on their way in right now: try again in a few minutes');
    }
    // Per address and per link, so no one holder of a link fills the way in (facilitators go straight in).
    if (!facilitator) checkWayIn(state, entrant.inviteId, entrant.addressKey, limits);
    const { connection, linkGeneration, owner: _owner, addressKey, ...person } = entrant;
    return withMember(state, {
      ...person,
      ...(!facilitator && addressKey !== undefined ? { addressKey } : {}),
      // What a rotation looks at (see rotateFacilitatorLink).
      ...(entrant.role === 'facilitator' ? { linkGeneration: linkGeneration ?? 0 } : {}),
      ...(owner ? { owner: true } : {}),
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
