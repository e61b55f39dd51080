import { isFacilitatorRole, type Floor, type DeviceSource, type MemberDetail, type MemberSummary, type RoomView } from '@group-room/shared';
import { countdown, ordinal } from './format';

/*
 * Where someone stands on the floor, in words: pure functions of the view and the time, so
 * the same text is shown, tested and announced. Times are the server's: pass `now` from
 * RoomClient.serverNow (this browser's clock corrected by the offset the views tell).
 */

/** A member's display name from the view (self included), or a neutral word if unknown. */
export function nameOf(view: RoomView, memberId: string | null | undefined): string {
  if (!memberId) return 'Nobody';
  if (memberId === view.self.id) return view.self.displayName;
  const found = view.members?.find((m) => m.id === memberId) ?? view.facilitation?.everyone.find((m) => m.id === memberId);
  return found?.displayName ?? 'Someone';
}

/** What a source is called in a sentence: "turn your microphone on". */
export const device: Record<DeviceSource, string> = { mic: 'microphone', camera: 'camera' };

/** Facilitators: the members (not facilitators) in the room now, in room order. */
export function membersInRoom(view: RoomView): MemberDetail[] {
  return (view.facilitation?.everyone ?? []).filter((m) => m.role === 'member' && m.stage === 'admitted');
}

/** Facilitators: the members who can speak now (take the floor or a turn): in the room, with the current agreement accepted. */
export function eligibleSpeakers(view: RoomView): MemberDetail[] {
  return membersInRoom(view).filter((m) => m.acknowledgedVersion === view.agreement.version);
}

/** Milliseconds left in the current limited turn (held while it is paused), or null if the turn has no limit. */
export function turnTimeLeft(floor: Floor, now: number): number | null {
  if (floor.turnPausedMs !== null) return Math.max(0, floor.turnPausedMs);
  return floor.turnEndsAt === null ? null : Math.max(0, floor.turnEndsAt - now);
}

/** Whether the current turn's clock is stopped because its holder's connection dropped. */
export const turnPaused = (floor: Floor): boolean => floor.turnPausedMs !== null;

/** "1:30 left" or "time is up" for a limited turn, "paused" while its holder reconnects; null without a limit. */
export function turnClock(floor: Floor, now: number): string | null {
  if (turnPaused(floor)) return 'paused';
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
      // A holder whose connection dropped is not speaking: their turn waits for them.
      if (turnPaused(floor) && floor.holder) {
        const paused = `Round: ${nameOf(view, floor.holder)}’s turn is paused`;
        if (facilitating) return paused;
        const until = turnsUntil(floor, me);
        return until === null ? paused : `${paused}, you are ${until === 1 ? 'next' : ordinal(until)}`;
      }
      const current = speaking ?? 'nobody is speaking';
      if (facilitating) return `Round: ${current}${left ? `, ${left}` : ''}`;
      const until = turnsUntil(floor, me);
      if (until !== null) return `Round: ${current}, you are ${until === 1 ? 'next' : ordinal(until)}`;
      const inOrder = floor.round?.order.includes(me) ?? false;
      return `Round: ${current}${inOrder ? ', you have spoken' : ''}`;
    }
  }
}

/** When a member the floor holds is heard again: "you have the floor", "the round comes to you". */
export const floorComes = (floor: Floor | undefined): string => (floor?.mode === 'round' ? 'the round comes to you' : 'you have the floor');

/**
 * While the floor holds a member's microphone, what their own switch means: on, the group hears
 * them as soon as the floor comes to them; off, they stay silent until they unmute.
 */
export function floorHoldHint(floor: Floor | undefined, micOn: boolean): string {
  return micOn
    ? `Your microphone is on: the group hears you when ${floorComes(floor)}.`
    : `Your microphone is off: unmute now and you will be heard when ${floorComes(floor)}.`;
}

/** Whether the group receives this person's microphone and camera now, as the server says. */
export function ownSending(view: RoomView, mine: { micOn: boolean; camOn: boolean }): { mic: boolean; camera: boolean } {
  const sending = view.members?.find((m) => m.id === view.self.id)?.sending;
  if (sending) return { mic: sending.mic, camera: sending.camera };
  const { held } = view.self;
  return { mic: mine.micOn && !held.mic, camera: mine.camOn && !held.camera };
}

/** One's own microphone is on but the group does not hear it only because it is not one's turn. */
export function waitingForFloor(view: RoomView, micOn: boolean, sending: boolean): boolean {
  return !sending && micOn && view.self.held.mic === 'floor';
}

// Asks a facilitator made: a member's "Not now" is only seen as an ask gone with nothing turned on.

/** Whether they have switched this off themselves (null without that device). */
const switchedOff = (m: MemberSummary, source: DeviceSource): boolean | null => m.producers.find((p) => p.source === source)?.paused ?? null;

/** How long an accepted ask takes to turn the member's microphone or camera on, at most. */
export const ANSWER_SETTLE_MS = 3000;

/**
 * Asks answered between two views: `declined` when the facilitator's hold stayed on (accepting
 * lifts it); `unclear` when there was no hold and their own switch is still off (accepting turns
 * it on a moment later, so look again after ANSWER_SETTLE_MS with stillDeclined).
 */
export function answeredAsks(before: RoomView, view: RoomView): { memberId: string; source: DeviceSource; outcome: 'declined' | 'unclear' }[] {
  const was = new Map((before.facilitation?.everyone ?? []).map((m) => [m.id, m]));
  const answers: ReturnType<typeof answeredAsks> = [];
  for (const m of view.facilitation?.everyone ?? []) {
    const b = was.get(m.id);
    if (!b || m.stage !== 'admitted') continue;
    for (const source of ['mic', 'camera'] as const) {
      if (!b.asked.includes(source) || m.asked.includes(source)) continue;
      const heldBefore = b.heldOff.includes(source);
      const heldNow = m.heldOff.includes(source);
      if (heldBefore && heldNow) answers.push({ memberId: m.id, source, outcome: 'declined' });
      else if (!heldBefore && !heldNow && switchedOff(m, source) === true) answers.push({ memberId: m.id, source, outcome: 'unclear' });
    }
  }
  return answers;
}

/** After an unclear answer settled: still there, not asked or held again, and still switched off. */
export function stillDeclined(view: RoomView, memberId: string, source: DeviceSource): boolean {
  const m = view.facilitation?.everyone.find((e) => e.id === memberId);
  return Boolean(m && m.stage === 'admitted' && !m.asked.includes(source) && !m.heldOff.includes(source) && switchedOff(m, source) === true);
}
