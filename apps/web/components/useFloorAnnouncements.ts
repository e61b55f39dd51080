'use client';

import { isFacilitatorRole, type MediaSource, type RoomView } from '@group-room/shared';
import { useEffect, useRef } from 'react';
import { playChime } from '@/lib/chime';
import { duration } from '@/lib/format';
import { ANSWER_SETTLE_MS, answeredAsks, device, nameOf, stillDeclined, turnsUntil } from '@/lib/floor-status';
import { useAnnounce } from './Announcer';
import type { Clock } from './useNow';

/*
 * What changed on the floor, said through the page's one live region. The words differ on
 * purpose from the status line and the panel's text, so each is found once on the page.
 */

/** What a member hears: their turn, being muted or asked, the mode changing. */
function forMember(before: RoomView, view: RoomView): string[] {
  const was = before.floor;
  const floor = view.floor;
  if (!was || !floor) return [];
  const me = view.self.id;
  const messages: string[] = [];

  if (was.mode !== floor.mode) {
    if (floor.mode === 'open') messages.push(was.mode === 'round' ? 'The round is over: the floor is open.' : 'The floor is open: anyone may unmute.');
    if (floor.mode === 'hands') messages.push('The facilitator asks for raised hands: press Raise hand, or H, to speak.');
    if (floor.mode === 'round') messages.push('A round has started.');
  }

  const nowHolding = floor.holder === me;
  const wasHolding = was.holder === me && was.turn === floor.turn;
  if (nowHolding && (was.holder !== me || was.turn !== floor.turn)) {
    if (floor.mode === 'round') {
      const limit = floor.round?.turnSeconds;
      messages.push(`The round has come to you: you may speak now${limit ? `, for up to ${limit < 60 ? `${limit} seconds` : duration(limit * 1000)}` : ''}.`);
    } else {
      messages.push('The facilitator gave you the floor: you may speak now.');
    }
  } else if (was.holder === me && !nowHolding && floor.mode === 'hands') {
    messages.push('You no longer have the floor.');
  } else if (!wasHolding && !nowHolding && turnsUntil(floor, me) === 1 && turnsUntil(was, me) !== 1) {
    messages.push('You are next in the round.');
  }

  for (const source of ['mic', 'camera'] as const) {
    if (view.self.held[source] === 'facilitator' && before.self.held[source] !== 'facilitator') {
      messages.push(`The facilitator turned your ${device[source]} off.`);
    }
    if (view.self.asked.includes(source) && !before.self.asked.includes(source)) {
      messages.push(`The facilitator is asking you to turn your ${device[source]} back on: answer below.`);
    }
  }
  return messages;
}

/** "Bea declined to unmute." */
const declined = (view: RoomView, memberId: string, source: MediaSource) =>
  `${nameOf(view, memberId)} declined to ${source === 'mic' ? 'unmute' : 'start video'}.`;

/** What a facilitator hears: hands going up and the round moving on (their own clicks say the rest). */
function forFacilitator(before: RoomView, view: RoomView): string[] {
  const was = before.floor;
  const floor = view.floor;
  if (!was || !floor) return [];
  const messages: string[] = [];
  const raised = floor.hands.filter((id) => !was.hands.includes(id));
  if (raised.length > 0) {
    const names = raised.map((id) => nameOf(view, id));
    messages.push(`${names.join(', ')} raised ${names.length === 1 ? 'a hand' : 'their hands'}.`);
  }
  if (floor.mode === 'round' && was.mode === 'round' && floor.turn !== was.turn && floor.holder) {
    messages.push(`The round moved on to ${nameOf(view, floor.holder)}.`);
  }
  if (floor.mode === 'round' && was.mode !== 'round' && floor.holder) {
    messages.push(`A round has started with ${nameOf(view, floor.holder)}.`);
  }
  if (floor.mode === 'open' && was.mode === 'round') messages.push('The round is over: the floor is open.');
  return messages;
}

/**
 * Announce floor changes for this person, and the time running out on a limited turn: ten
 * seconds before, and (when the facilitator chose a gentle warning) a chime at the end.
 * `clock` is the server's (turns end at a server time).
 */
export function useFloorAnnouncements(view: RoomView, clock: Clock = Date.now): void {
  const announce = useAnnounce();
  const previous = useRef<RoomView | null>(null);
  const facilitating = isFacilitatorRole(view.self.role);
  const settling = useRef(new Set<ReturnType<typeof setTimeout>>());

  useEffect(() => {
    const before = previous.current;
    previous.current = view;
    if (!before) return; // what is already so when one arrives is in the status line
    const messages = facilitating ? forFacilitator(before, view) : forMember(before, view);
    if (facilitating) {
      for (const { memberId, source, outcome } of answeredAsks(before, view)) {
        if (outcome === 'declined') {
          messages.push(declined(view, memberId, source));
          continue;
        }
        const timer = setTimeout(() => {
          settling.current.delete(timer);
          const latest = previous.current;
          if (latest && isFacilitatorRole(latest.self.role) && stillDeclined(latest, memberId, source)) announce(declined(latest, memberId, source));
        }, ANSWER_SETTLE_MS);
        settling.current.add(timer);
      }
    }
    if (messages.length > 0) announce(messages.join(' '));
  }, [view, facilitating, announce]);

  useEffect(() => {
    const timers = settling.current;
    return () => timers.forEach(clearTimeout);
  }, []);

  // A limited turn: warnings for whoever holds it, and a gentle "time is up" for facilitators.
  const floor = view.floor;
  const holding = floor?.holder === view.self.id;
  const endsAt = floor?.mode === 'round' ? floor.turnEndsAt : null;
  const gentle = floor?.round?.onTimeout === 'warn';
  const holderName = floor?.holder ? nameOf(view, floor.holder) : null;
  useEffect(() => {
    if (endsAt === null || (!holding && !facilitating)) return;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const at = (when: number, action: () => void) => {
      const delay = when - clock();
      if (delay > 0) timers.push(setTimeout(action, delay));
    };
    if (holding) {
      if (endsAt - clock() > 20_000) at(endsAt - 10_000, () => announce('10 seconds left.'));
      if (gentle) {
        at(endsAt, () => {
          playChime();
          announce('Your time is up: please bring it to a close.');
        });
      }
    } else if (gentle && holderName) {
      at(endsAt, () => announce(`${holderName}’s time is up.`));
    }
    return () => timers.forEach(clearTimeout);
  }, [endsAt, holding, facilitating, gentle, holderName, announce, clock]);
}
