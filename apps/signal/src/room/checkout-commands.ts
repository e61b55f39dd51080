import { ProtocolFailure } from '@group-room/shared';
import { actorState } from './authorisation.js';
import type { Handlers } from './handler.js';
import { checkoutOf, requireMember, type RoomChange } from './state.js';

/*
 * The check-out at the end of a session. The state holds only that one is open and who has
 * answered: the answers go sealed from each member's browser to the facilitators' browsers
 * (the 'checkout:answer' request), and never touch the state or the store.
 */

type CheckoutCommand = 'checkout.start' | 'checkout.end';

export const checkoutHandlers: Handlers<CheckoutCommand> = {
  'checkout.start': (state, _actorId, _command, now) => {
    if (checkoutOf(state)) throw new ProtocolFailure('INVALID_STATE', 'A check-out is open already');
    // A fresh id from the rules' own inputs (they stay pure): no two changes share a version.
    return { ...state, checkout: { id: `co-${now.toString(36)}-${state.version}`, startedAt: now, done: [] } };
  },

  'checkout.end': (state) => (checkoutOf(state) ? { ...state, checkout: null } : state),
};

/**
 * A member answered the open check-out (their sealed answer is delivered beside this change,
 * never kept): recorded as done, once. Only a member in the room with the current agreement
 * acknowledged answers; facilitators do not.
 */
export const markCheckedOut =
  (memberId: string, checkoutId: string): RoomChange =>
  (state) => {
    if (state.ended) throw new ProtocolFailure('NOT_FOUND', 'This session has ended');
    const member = requireMember(state, memberId, 'You are not in this room');
    if (member.role !== 'member' || actorState(state, memberId) !== 'admitted') {
      throw new ProtocolFailure('FORBIDDEN', 'Only a member in the room answers the check-out');
    }
    const checkout = checkoutOf(state);
    if (!checkout || checkout.id !== checkoutId) throw new ProtocolFailure('INVALID_STATE', 'That check-out is not open');
    if (checkout.done.includes(memberId)) throw new ProtocolFailure('INVALID_STATE', 'You have answered already');
    return { ...state, checkout: { ...checkout, done: [...checkout.done, memberId] } };
  };

/**
 * Take back a member's "answered" for this check-out: their answer reached no facilitator
 * after all (every one it was for went while it was being recorded), so they may send it
 * again. Unchanged state when that check-out is closed or they are not on its list.
 */
export const unmarkCheckedOut =
  (memberId: string, checkoutId: string): RoomChange =>
  (state) => {
    const checkout = checkoutOf(state);
    if (checkout?.id !== checkoutId || !checkout.done.includes(memberId)) return state;
    return { ...state, checkout: { ...checkout, done: checkout.done.filter((id) => id !== memberId) } };
  };
