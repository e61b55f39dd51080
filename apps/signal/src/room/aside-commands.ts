import { isFacilitatorRole, ProtocolFailure } from '@group-room/shared';
import { actorState } from './authorisation.js';
import type { Handlers } from './handler.js';
import { asideOf, requireMember } from './state.js';

/*
 * Taking one member aside: a facilitator and that member hear and see only each other (the
 * media layer stops forwarding between them and the group: see MediaPolicy.apart) while a
 * co-facilitator holds the group. Their places (hand queue, round) stay as they were.
 */

type AsideCommand = 'aside.start' | 'aside.end';

export const asideHandlers: Handlers<AsideCommand> = {
  'aside.start': (state, actorId, { memberId }, now) => {
    if (asideOf(state)) throw new ProtocolFailure('INVALID_STATE', 'Someone is aside already: return to the group first');
    if (memberId === actorId) throw new ProtocolFailure('INVALID_STATE', 'Take a member aside, not yourself');
    const member = requireMember(state, memberId);
    if (isFacilitatorRole(member.role)) throw new ProtocolFailure('INVALID_STATE', 'Only a member can be taken aside');
    if (actorState(state, memberId) !== 'admitted') throw new ProtocolFailure('INVALID_STATE', 'They are not in the room');
    return { ...state, aside: { facilitatorId: actorId, memberId, startedAt: now } };
  },

  'aside.end': (state, actorId) => {
    const aside = asideOf(state);
    if (!aside) throw new ProtocolFailure('INVALID_STATE', 'Nobody is aside');
    const actor = requireMember(state, actorId);
    // A member ends only the aside they are in; any facilitator may bring the two back, the
    // owner's aside included: ending one takes nothing from anyone (both are back in the group),
    // so it is not an act against the owner (guardOwner is about commands naming a member).
    if (!isFacilitatorRole(actor.role) && aside.memberId !== actorId) throw new ProtocolFailure('FORBIDDEN', 'You may not do that here');
    return { ...state, aside: null };
  },
};
