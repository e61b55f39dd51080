import { ProtocolFailure, type Command, type CommandType, type Role } from '@group-room/shared';
import { mayShare, mustAcknowledge, type MemberState, type RoomState } from './state.js';

/**
 * Where the actor stands, for authorisation: still to acknowledge the current agreement,
 * in the waiting room, admitted, or not in the room at all (left or removed).
 */
export type ActorState = 'unacknowledged' | 'waiting' | 'admitted' | 'absent';

export function actorState(state: RoomState, actorId: string): ActorState {
  const member = state.members[actorId];
  if (!member) return 'absent';
  if (mustAcknowledge(state, member)) return 'unacknowledged';
  return member.stage === 'admitted' ? 'admitted' : 'waiting';
}

interface Grant {
  roles: readonly Role[];
  states: readonly ActorState[];
}

const FACILITATORS = ['facilitator', 'cofacilitator'] as const;
const facilitatorsInRoom: Grant = { roles: FACILITATORS, states: ['admitted'] };
const membersInRoom: Grant = { roles: ['member'], states: ['admitted'] };
/**
 * Anyone in the room, the handler then letting a member act only on their own hand or turn.
 * Letting go (lowering one's hand, handing back the floor, passing one's turn) is open to
 * unacknowledged members too, for one paused to re-read a changed agreement; someone still at
 * the entry agreement holds no hand or turn, so for them these change nothing or are refused.
 */
const lettingGo: Grant = { roles: [...FACILITATORS, 'member'], states: ['admitted', 'unacknowledged'] };

/**
 * Publishing a screen (`media:produce` with source `screen`) is not a command, but it is
 * authorised in the same table: this pseudo-command's row, then the grant (see authoriseScreen).
 */
export type ScreenPublish = 'screen.publish';
export type Authorised = CommandType | ScreenPublish;

/**
 * The one authorisation table: command × role × actor state. A command not allowed here is
 * refused with FORBIDDEN before its handler runs, so it changes nothing.
 */
export const authorisation: Record<Authorised, Grant> = {
  'agreement.acknowledge': { roles: ['member'], states: ['unacknowledged'] },
  'agreement.set': facilitatorsInRoom,
  'member.admit': facilitatorsInRoom,
  'member.admitAll': facilitatorsInRoom,
  'member.remove': facilitatorsInRoom,
  'member.setRole': facilitatorsInRoom,
  'room.setAutoAdmit': facilitatorsInRoom,
  'room.setLocked': facilitatorsInRoom,
  'lobby.clear': facilitatorsInRoom,
  'session.end': facilitatorsInRoom,
  'floor.setMode': facilitatorsInRoom,
  'floor.grant': facilitatorsInRoom,
  'floor.release': lettingGo,
  'hand.raise': membersInRoom,
  'hand.lower': lettingGo,
  'hands.move': facilitatorsInRoom,
  'hands.clear': facilitatorsInRoom,
  'round.start': facilitatorsInRoom,
  'round.pass': lettingGo,
  'round.end': facilitatorsInRoom,
  'member.mute': facilitatorsInRoom,
  'member.muteAll': facilitatorsInRoom,
  'member.ask': facilitatorsInRoom,
  'ask.answer': membersInRoom,
  'share.ask': membersInRoom,
  'share.grant': facilitatorsInRoom,
  'share.revoke': facilitatorsInRoom,
  'share.stop': facilitatorsInRoom,
  'share.setPolicy': facilitatorsInRoom,
  'screen.publish': { roles: [...FACILITATORS, 'member'], states: ['admitted'] },
  'checkout.start': facilitatorsInRoom,
  'checkout.end': facilitatorsInRoom,
  'aside.start': facilitatorsInRoom,
  // Either of the two may end it (the handler keeps a member to their own aside), a member who
  // was sent back to re-read a changed agreement included.
  'aside.end': lettingGo,
};

export function isAllowed(state: RoomState, actorId: string, type: Authorised): boolean {
  const member = state.members[actorId];
  const grant = authorisation[type];
  return Boolean(member && grant.roles.includes(member.role) && grant.states.includes(actorState(state, actorId)));
}

export function authorise(state: RoomState, actorId: string, type: Authorised): void {
  if (!isAllowed(state, actorId, type)) {
    const where = actorState(state, actorId);
    throw new ProtocolFailure('FORBIDDEN', where === 'absent' ? 'You are not in this room' : 'You may not do that here');
  }
}

/** A screen: the table's row for 'screen.publish', then a member needs a facilitator's grant. */
export function authoriseScreen(state: RoomState, actorId: string): void {
  authorise(state, actorId, 'screen.publish');
  const actor = state.members[actorId];
  if (!actor || !mayShare(state, actor)) throw new ProtocolFailure('FORBIDDEN', 'A facilitator has not let you share your screen');
}

/** The session's owner, in the room (away or connected), if they hold a seat. */
export function ownerSeat(state: RoomState): MemberState | undefined {
  return Object.values(state.members).find((m) => m.owner === true);
}

/** The person a command acts on, if it names one. */
function targetOf(command: Command): string | undefined {
  return 'memberId' in command ? command.memberId : undefined;
}

/**
 * The owner's rules, on top of the table: nobody who came in by a link acts against the person
 * who created the session. A command naming the owner (remove, block, role, mute, ask, floor,
 * hands) is refused to everyone else, and only the owner ends the session while they hold a
 * seat (away or connected), so a session whose owner never came can still be ended by its
 * facilitators. Pure, so both stores apply it inside the same atomic change.
 */
export function guardOwner(state: RoomState, actorId: string, command: Command): void {
  if (state.members[actorId]?.owner) return;
  const target = targetOf(command);
  if (target !== undefined && state.members[target]?.owner) {
    throw new ProtocolFailure('FORBIDDEN', 'Nobody can do that to the person who created the session');
  }
  if (command.type === 'session.end' && ownerSeat(state)) {
    throw new ProtocolFailure('FORBIDDEN', 'Only the person who created the session can end it while they are in it');
  }
}
