import { isFacilitatorRole, ProtocolFailure } from '@group-room/shared';
import type { Handlers } from './handler.js';
import { membersInOrder, mustAcknowledge, passFloor, requireMember, roundAt, type RoomState } from './state.js';

/*
 * Turn-taking rules. Who may send what follows from the floor in state.ts (heldBy), so these
 * only move the floor; the media layer pauses and resumes audio to match.
 */

type FloorCommand =
  | 'floor.setMode'
  | 'floor.grant'
  | 'floor.release'
  | 'hand.raise'
  | 'hand.lower'
  | 'hands.move'
  | 'hands.clear'
  | 'round.start'
  | 'round.pass'
  | 'round.end';

const isFacilitator = (state: RoomState, actorId: string) => {
  const actor = state.members[actorId];
  return Boolean(actor && isFacilitatorRole(actor.role));
};

/** Someone who can take the floor: a member in the room with the current agreement accepted. */
function requireSpeaker(state: RoomState, memberId: string) {
  const member = requireMember(state, memberId);
  if (member.stage !== 'admitted' || mustAcknowledge(state, member)) {
    throw new ProtocolFailure('INVALID_STATE', 'They are not in the room');
  }
  if (isFacilitatorRole(member.role)) throw new ProtocolFailure('INVALID_STATE', 'Facilitators may always speak');
  return member;
}

function requireMode(state: RoomState, mode: RoomState['floor']['mode'], message: string): void {
  if (state.floor.mode !== mode) throw new ProtocolFailure('INVALID_STATE', message);
}

const withFloor = (state: RoomState, floor: RoomState['floor']): RoomState => ({ ...state, floor });

export const floorHandlers: Handlers<FloorCommand> = {
  'floor.setMode': (state, _actorId, { mode }, now) => {
    if (state.floor.mode === mode) return state;
    // Leaving a round or raised hands returns the floor; open floor keeps no queue.
    const released = passFloor({ ...state.floor, round: null }, null, now);
    return withFloor(state, { ...released, mode, hands: mode === 'open' ? [] : state.floor.hands });
  },

  'floor.grant': (state, _actorId, { memberId }, now) => {
    requireMode(state, 'hands', 'The floor is given in raised-hands mode');
    requireSpeaker(state, memberId);
    if (state.floor.holder === memberId) return state;
    const hands = state.floor.hands.filter((id) => id !== memberId);
    return withFloor(state, passFloor({ ...state.floor, hands }, memberId, now));
  },

  'floor.release': (state, actorId, _command, now) => {
    requireMode(state, 'hands', 'In a round, pass the turn instead');
    if (!isFacilitator(state, actorId) && state.floor.holder !== actorId) {
      throw new ProtocolFailure('FORBIDDEN', 'Only whoever holds the floor can hand it back');
    }
    if (state.floor.holder === null) return state;
    return withFloor(state, passFloor(state.floor, null, now));
  },

  'hand.raise': (state, actorId) => {
    requireMode(state, 'hands', 'Hands are raised when the facilitator asks for them');
    const { hands, holder } = state.floor;
    if (hands.includes(actorId) || holder === actorId) return state;
    return withFloor(state, { ...state.floor, hands: [...hands, actorId] });
  },

  'hand.lower': (state, actorId, { memberId }) => {
    const whose = memberId ?? actorId;
    if (whose !== actorId && !isFacilitator(state, actorId)) throw new ProtocolFailure('FORBIDDEN', 'You can lower only your own hand');
    if (!state.floor.hands.includes(whose)) return state;
    return withFloor(state, { ...state.floor, hands: state.floor.hands.filter((id) => id !== whose) });
  },

  'hands.move': (state, _actorId, { memberId, to }) => {
    const { hands } = state.floor;
    const from = hands.indexOf(memberId);
    if (from === -1) throw new ProtocolFailure('NOT_FOUND', 'Their hand is not raised');
    const rest = hands.filter((id) => id !== memberId);
    const at = Math.min(to, rest.length);
    if (at === from) return state;
    return withFloor(state, { ...state.floor, hands: [...rest.slice(0, at), memberId, ...rest.slice(at)] });
  },

  'hands.clear': (state) => (state.floor.hands.length === 0 ? state : withFloor(state, { ...state.floor, hands: [] })),

  'round.start': (state, _actorId, { order, turnSeconds, onTimeout }, now) => {
    let ids: string[];
    if (order) {
      if (new Set(order).size !== order.length) throw new ProtocolFailure('BAD_REQUEST', 'Someone is in the order twice');
      for (const id of order) requireSpeaker(state, id);
      ids = order;
    } else {
      ids = membersInOrder(state)
        .filter((m) => m.role === 'member' && m.stage === 'admitted' && !mustAcknowledge(state, m))
        .map((m) => m.id);
    }
    if (ids.length === 0) throw new ProtocolFailure('INVALID_STATE', 'There is nobody to take a turn');
    const floor = { ...state.floor, mode: 'round' as const, hands: [], round: { order: ids, position: 0, turnSeconds, onTimeout } };
    return withFloor(state, roundAt(floor, 0, now));
  },

  'round.pass': (state, actorId, _command, now) => {
    const { round, holder } = state.floor;
    if (state.floor.mode !== 'round' || !round) throw new ProtocolFailure('INVALID_STATE', 'There is no round going on');
    if (holder !== actorId && !isFacilitator(state, actorId)) throw new ProtocolFailure('FORBIDDEN', 'You can pass only your own turn');
    return withFloor(state, roundAt(state.floor, round.position + 1, now));
  },

  'round.end': (state, _actorId, _command, now) => {
    const { round } = state.floor;
    if (!round) return state;
    return withFloor(state, roundAt(state.floor, round.order.length, now));
  },
};

/**
 * A round turn's time ran out (run by the server's timer, not by anyone): with "pass", the
 * stick moves on. Nothing changes if that turn has already ended.
 */
export const expireTurn =
  (turn: number, now = Date.now()) =>
  (state: RoomState): RoomState => {
    const { floor } = state;
    if (state.ended || floor.mode !== 'round' || !floor.round || floor.turn !== turn) return state;
    if (floor.round.onTimeout !== 'pass' || floor.turnEndsAt === null || floor.turnEndsAt > now) return state;
    return withFloor(state, roundAt(floor, floor.round.position + 1, now));
  };
