import { ProtocolFailure, type Command, type CommandType } from '@group-room/shared';
import { authorise, guardOwner, isAllowed } from './authorisation.js';
import { memberFits, recordAcknowledgement } from './capacity.js';
import { asideHandlers } from './aside-commands.js';
import { checkoutHandlers } from './checkout-commands.js';
import { floorHandlers } from './floor-commands.js';
import type { Handler, Handlers } from './handler.js';
import { mutingHandlers } from './muting-commands.js';
import { sharesOf, withoutShares } from './producers.js';
import { shareHandlers } from './share-commands.js';
import {
  floorWithout,
  makeAgreement,
  membersInOrder,
  requireMember,
  withMember,
  withoutMember,
  withoutAsideOf,
  withoutShareLists,
  type MemberState,
  type RoomChange,
  type RoomState,
} from './state.js';

/** In the room: the key of the address they came from counted only on the way in, and goes. */
function admitted(member: MemberState): MemberState {
  const { addressKey: _key, ...rest } = member;
  return { ...rest, stage: 'admitted' };
}

/** Let in whoever waits, in order of arrival, while there is room (the rest keep waiting). */
function admitWaiting(state: RoomState): RoomState {
  let next = state;
  for (const member of membersInOrder(state)) {
    if (member.stage === 'waiting' && memberFits(next)) next = withMember(next, admitted(member));
  }
  return next;
}

/**
 * Seniority among facilitators: the owner outranks everyone and nobody outranks the owner;
 * otherwise only a facilitator link's holder who came in earlier.
 */
function outranks(actor: MemberState, target: MemberState): boolean {
  if (target.owner) return false;
  if (actor.owner) return true;
  return actor.role === 'facilitator' && actor.enteredAt < target.enteredAt;
}

type EntryCommand = Exclude<
  CommandType,
  keyof typeof floorHandlers | keyof typeof mutingHandlers | keyof typeof shareHandlers | keyof typeof checkoutHandlers | keyof typeof asideHandlers
>;

/** The agreement, the waiting room, membership and the session. */
const entryHandlers: Handlers<EntryCommand> = {
  'agreement.acknowledge': (state, actorId, { version }, now) => {
    if (version !== state.agreement.version) {
      throw new ProtocolFailure('INVALID_STATE', 'The agreement has changed: please read the new version');
    }
    const member = requireMember(state, actorId);
    const stage = member.stage !== 'agreement' ? member.stage : state.autoAdmit && !state.locked && memberFits(state) ? 'admitted' : 'waiting';
    const acknowledged = { ...member, acknowledgedVersion: version };
    return {
      ...withMember(state, stage === 'admitted' ? admitted(acknowledged) : { ...acknowledged, stage }),
      acknowledgements: recordAcknowledgement(state, { memberId: member.id, displayName: member.displayName, version, at: now }),
    };
  },

  'agreement.set': (state, _actorId, { text }, now) => {
    const agreement = makeAgreement(text, now);
    if (agreement.version === state.agreement.version) return state;
    // Someone waiting agreed to the old text: they read the new one before coming in.
    let next: RoomState = { ...state, agreement };
    for (const member of membersInOrder(state)) {
      if (member.stage === 'waiting') next = withMember(next, { ...member, stage: 'agreement' });
    }
    return next;
  },

  'member.admit': (state, _actorId, { memberId }) => {
    const member = requireMember(state, memberId);
    if (member.stage !== 'waiting') throw new ProtocolFailure('INVALID_STATE', 'Only someone in the waiting room can be admitted');
    if (state.locked) throw new ProtocolFailure('INVALID_STATE', 'The room is locked: unlock it to admit');
    if (!memberFits(state)) throw new ProtocolFailure('ROOM_FULL', `The room is full (${state.capacity} people, one seat kept for a facilitator)`);
    return withMember(state, admitted(member));
  },

  'member.admitAll': (state) => {
    if (state.locked) throw new ProtocolFailure('INVALID_STATE', 'The room is locked: unlock it to admit');
    return admitWaiting(state);
  },

  'member.remove': (state, actorId, { memberId, block }, now) => {
    const member = requireMember(state, memberId);
    const actor = requireMember(state, actorId);
    if (member.id === actorId) throw new ProtocolFailure('INVALID_STATE', 'Use Leave to leave the room');
    // A facilitator can remove only a facilitator who came in after them (a leaked link's late
    // arrival), never one who was there first; the owner removes any, and nobody the owner.
    if (member.role === 'facilitator' && !outranks(actor, member)) {
      throw new ProtocolFailure('FORBIDDEN', 'Only a facilitator who came in earlier can remove a facilitator');
    }
    let next = withoutMember(state, memberId, now);
    const inviteId = member.inviteId;
    if (!block || !inviteId) return next;
    if (!next.blockedInvites.includes(inviteId)) next = { ...next, blockedInvites: [...next.blockedInvites, inviteId] };
    // A personal link is one person's: whoever else is inside with it goes too. The shared
    // invite link is the whole group's: blocking it only keeps newcomers out.
    if (inviteId === (state.sharedInviteId ?? null)) return next;
    for (const holder of membersInOrder(next)) {
      if (holder.inviteId === inviteId && holder.id !== actorId) next = withoutMember(next, holder.id, now);
    }
    return next;
  },

  'member.setRole': (state, _actorId, { memberId, role }, now) => {
    const member = requireMember(state, memberId);
    if (member.role === 'facilitator') throw new ProtocolFailure('FORBIDDEN', "The facilitator's role cannot be changed");
    if (member.stage !== 'admitted') throw new ProtocolFailure('INVALID_STATE', 'Admit them first');
    if (member.role === role) return state;
    const changed = withMember(state, { ...member, role });
    if (role === 'member') {
      // Back to a member: a share needs a grant again (so theirs closes), and an aside they
      // led ends (a member leads none).
      return withoutAsideOf(withoutShares(changed, sharesOf(changed, memberId)), memberId);
    }
    // Facilitators may always speak, so a new co-facilitator leaves the queue, the floor and
    // any round. A hold on them stays on record (moot while they facilitate) until they accept.
    // They need no grant to share, and an aside they were taken into ends.
    return withoutAsideOf(withoutShareLists({ ...changed, floor: floorWithout(state.floor, memberId, now) }, memberId), memberId);
  },

  /**
   * Clear the way in without closing the link (people squatting on it): everyone at the
   * agreement, and with `waiting` the waiting room too. Their links keep working; `cleared`
   * tells their connections so (room:ended 'cleared'). Nobody there: no change.
   */
  'lobby.clear': (state, _actorId, { waiting }, now) => {
    const cleared = membersInOrder(state).filter((m) => m.stage === 'agreement' || (waiting && m.stage === 'waiting'));
    if (cleared.length === 0) return state;
    const next = cleared.reduce((s, m) => withoutMember(s, m.id, now), state);
    return { ...next, cleared: cleared.map((m) => m.id) };
  },

  'room.setAutoAdmit': (state, _actorId, { enabled }) => {
    const next = { ...state, autoAdmit: enabled };
    return enabled && !state.locked ? admitWaiting(next) : next;
  },

  'room.setLocked': (state, _actorId, { locked }) => {
    if (state.locked === locked) return state;
    const next = { ...state, locked };
    // Auto-admit was held back by the lock: unlocking lets in whoever waited meanwhile.
    return !locked && state.autoAdmit ? admitWaiting(next) : next;
  },

  'session.end': (state) => ({ ...state, ended: true }),
};

/** One handler per command; each runs only after the authorisation table allowed it. */
const handlers: Handlers<CommandType> = { ...entryHandlers, ...floorHandlers, ...mutingHandlers, ...shareHandlers, ...checkoutHandlers, ...asideHandlers };

/** Authorise, then apply: the whole command as one pure change for the store's atomic update. */
export const applyCommand =
  (actorId: string, command: Command, now = Date.now()): RoomChange =>
  (state) => {
    if (state.ended) {
      // Ending again is how an ending that was recorded but not carried out (its answer was
      // lost, or the node failed right after) is finished: unchanged, and published again.
      if (command.type === 'session.end' && isAllowed(state, actorId, command.type)) return state;
      throw new ProtocolFailure('NOT_FOUND', 'This session has ended');
    }
    authorise(state, actorId, command.type);
    guardOwner(state, actorId, command);
    const handler = handlers[command.type] as Handler<CommandType>;
    return handler(state, actorId, command, now);
  };
