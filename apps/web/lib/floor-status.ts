import { isFacilitatorRole, type Floor, type RoomView } from '@group-room/shared';
import { countdown, ordinal } from './format';

/*
 * Where someone stands on the floor, in words: pure functions of the view and the time, so
 * the same text is shown, tested and announced. Times come from the server's clock (which is
 * close enough to this one for a countdown in seconds).
 */

/** A member's display name from the view (self included), or a neutral word if unknown. */
export function nameOf(view: RoomView, memberId: string | null | undefined): string {
  if (!memberId) return 'Nobody';
  if (memberId === view.self.id) return view.self.displayName;
  const found = view.members?.find((m) => m.id === memberId) ?? view.facilitation?.everyone.find((m) => m.id === memberId);
  return found?.displayName ?? 'Someone';
}

/** Milliseconds left in the current limited turn, or null if the turn has no limit. */
export function turnTimeLeft(floor: Floor, now: number): number | null {
  return floor.turnEndsAt === null ? null : Math.max(0, floor.turnEndsAt - now);
}

/** "1:30 left" or "time is up" for a limited turn; null without a limit. */
export function turnClock(floor: Floor, now: number): string | null {
  const left = turnTimeLeft(floor, now);
  if (left === null) return null;
  return left > 0 ? `${countdown(left)} left` : 'time is up';
}

/** How many turns until this member's in the round: 1 = next; null if not waiting for one. */
export function turnsUntil(floor: Floor, memberId: string): number | null {
  const round = floor.round;
  if (floor.mode !== 'round' || !round) return null;
  const at = round.order.indexOf(memberId);
  return at > round.position ? at - round.position : null;
}

/** Ordinal place in the raised-hand queue (1 = first), or null if their hand is not up. */
export function queuePlace(floor: Floor, memberId: string): number | null {
  const at = floor.hands.indexOf(memberId);
  return at === -1 ? null : at + 1;
}

const handsUp = (n: number) => (n === 0 ? 'no hands up' : n === 1 ? '1 hand up' : `${n} hands up`);

/**
 * The one line telling this person where they stand, e.g. "Open floor: anyone may speak",
 * "Raised hands: 2nd in queue", "You have the floor", "Your turn: 1:30 left",
 * "Round: Bea is speaking, you are next". Null outside the room (no floor in the view).
 * Facilitators (who may always speak) read what is going on instead.
 */
export function floorStatus(view: RoomView, now: number): string | null {
  const floor = view.floor;
  if (!floor) return null;
  const me = view.self.id;
  const facilitating = isFacilitatorRole(view.self.role);
  const speaking = floor.holder ? `${nameOf(view, floor.holder)} is speaking` : null;

  switch (floor.mode) {
    case 'open':
      return 'Open floor: anyone may speak';

    case 'hands': {
      if (facilitating) return `Raised hands: ${speaking ? `${speaking}, ` : ''}${handsUp(floor.hands.length)}`;
      if (floor.holder === me) return 'You have the floor';
      const place = queuePlace(floor, me);
      return place === null ? 'Raised hands: raise your hand to speak' : `Raised hands: ${ordinal(place)} in queue`;
    }

    case 'round': {
      const left = turnClock(floor, now);
      if (floor.holder === me) return left ? `Your turn: ${left}` : 'Your turn';
      const current = speaking ?? 'nobody is speaking';
      if (facilitating) return `Round: ${current}${left ? `, ${left}` : ''}`;
      const until = turnsUntil(floor, me);
      if (until !== null) return `Round: ${current}, you are ${until === 1 ? 'next' : ordinal(until)}`;
      const inOrder = floor.round?.order.includes(me) ?? false;
      return `Round: ${current}${inOrder ? ', you have spoken' : ''}`;
    }
  }
}

/** Why a held microphone is off, for the hint under the status (never the facilitator's words). */
export function floorHoldHint(floor: Floor | undefined): string {
  if (floor?.mode === 'round') return 'Your microphone opens when the round comes to you.';
  return 'Your microphone opens when the facilitator gives you the floor.';
}
