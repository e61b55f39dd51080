import { isFacilitatorRole, ProtocolFailure, type DeviceSource } from '@group-room/shared';
import type { Handlers } from './handler.js';
import { requireMember, withMember, type MemberState, type RoomState } from './state.js';

/*
 * Muting the server enforces: a facilitator can turn a member's microphone or camera off
 * (the server pauses that producer), never on. Turning it back on takes the member's consent:
 * the facilitator asks, the member accepts (lifting the hold) or declines.
 */

type MutingCommand = 'member.mute' | 'member.muteAll' | 'member.ask' | 'ask.answer';

const adding = (list: DeviceSource[], source: DeviceSource) => (list.includes(source) ? list : [...list, source].sort());
const removing = (list: DeviceSource[], source: DeviceSource) => list.filter((s) => s !== source);

function requireMutable(state: RoomState, memberId: string): MemberState {
  const member = requireMember(state, memberId);
  if (isFacilitatorRole(member.role)) throw new ProtocolFailure('FORBIDDEN', 'Facilitators may always speak');
  return member;
}

function hold(state: RoomState, member: MemberState, source: DeviceSource): RoomState {
  if (member.heldOff.includes(source) && !member.asked.includes(source)) return state;
  return withMember(state, { ...member, heldOff: adding(member.heldOff, source), asked: removing(member.asked, source) });
}

export const mutingHandlers: Handlers<MutingCommand> = {
  'member.mute': (state, _actorId, { memberId, source }) => hold(state, requireMutable(state, memberId), source),

  'member.muteAll': (state, _actorId, { except }) => {
    // The one spared must be in the room (a facilitator is accepted: they are never held anyway).
    if (except !== null) {
      const spared = requireMember(state, except, 'The member to leave unmuted is not in the room');
      if (!isFacilitatorRole(spared.role) && spared.stage !== 'admitted') {
        throw new ProtocolFailure('INVALID_STATE', 'The member to leave unmuted has not been admitted yet');
      }
    }
    let next = state;
    for (const member of Object.values(state.members)) {
      // Those in the room: someone still waiting comes in under the mode's own rule.
      if (isFacilitatorRole(member.role) || member.stage !== 'admitted') continue;
      if (member.id === except) continue;
      next = hold(next, member, 'mic');
    }
    return next;
  },

  'member.ask': (state, _actorId, { memberId, source }) => {
    const member = requireMutable(state, memberId);
    if (member.asked.includes(source)) return state;
    return withMember(state, { ...member, asked: adding(member.asked, source) });
  },

  'ask.answer': (state, actorId, { source, accept }) => {
    const member = requireMember(state, actorId);
    if (!member.asked.includes(source)) throw new ProtocolFailure('INVALID_STATE', 'Nobody has asked you to turn that on');
    const asked = removing(member.asked, source);
    return withMember(state, { ...member, asked, heldOff: accept ? removing(member.heldOff, source) : member.heldOff });
  },
};
