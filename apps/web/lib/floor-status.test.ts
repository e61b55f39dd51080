import { OPEN_FLOOR, type Floor, type RoomView } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { clock, countdown, ordinal } from './format';
import { memberDetail } from './member-detail.test-support';
import {
  answeredAsks,
  eligibleSpeakers,
  floorHoldHint,
  floorStatus,
  membersInRoom,
  ownSending,
  queuePlace,
  stillDeclined,
  turnClock,
  turnTimeLeft,
  turnsUntil,
  waitingForFloor,
} from './floor-status';

const NOW = 1_000_000;

function viewFor(selfId: string, floor: Floor | undefined, role: 'member' | 'facilitator' = 'member'): RoomView {
  const names: Record<string, string> = { ada: 'Ada', bea: 'Bea', cyd: 'Cyd', dan: 'Dan' };
  const member = (id: string) => ({
    id,
    displayName: names[id] ?? id,
    role: id === 'ada' ? ('facilitator' as const) : ('member' as const),
    connection: 'online' as const,
    producers: [],
    sending: { mic: false, camera: false, screen: false },
  });
  return {
    roomId: 'room-000000',
    title: '',
    session: { startsAt: 0, endsAt: NOW * 10, warnMinutes: 5 },
    agreement: { text: '', version: 'v1', updatedAt: 0 },
    locked: false,
    self: {
      id: selfId,
      displayName: names[selfId] ?? selfId,
      role,
      stage: 'admitted',
      inviteId: null,
      mustAcknowledge: false,
      media: true,
      held: { mic: null, camera: null },
      asked: [],
      share: { may: role !== 'member', asking: false },
      checkedOut: false,
    },
    members: Object.keys(names).map(member),
    ...(floor ? { floor } : {}),
  };
}

const hands = (holder: string | null, queue: string[]): Floor => ({ ...OPEN_FLOOR, mode: 'hands', holder, hands: queue });
const round = (order: string[], position: number, turnEndsAt: number | null): Floor => ({
  ...OPEN_FLOOR,
  mode: 'round',
  holder: order[position] ?? null,
  round: { order, position, turnSeconds: turnEndsAt === null ? null : 90, onTimeout: 'warn' },
  turn: 3,
  turnStartedAt: NOW,
  turnEndsAt,
});

describe('floorStatus', () => {
  it('is nothing outside the room', () => {
    expect(floorStatus(viewFor('bea', undefined), NOW)).toBeNull();
  });

  it('says the floor is open', () => {
    expect(floorStatus(viewFor('bea', OPEN_FLOOR), NOW)).toBe('Open floor: anyone may speak');
  });

  it('tells a member in raised-hands mode where they are', () => {
    expect(floorStatus(viewFor('bea', hands(null, [])), NOW)).toBe('Raised hands: raise your hand to speak');
    expect(floorStatus(viewFor('bea', hands(null, ['cyd', 'bea'])), NOW)).toBe('Raised hands: 2nd in queue');
    expect(floorStatus(viewFor('bea', hands('bea', ['cyd'])), NOW)).toBe('You have the floor');
  });

  it('counts down the holder’s round turn, or has no clock without a limit', () => {
    expect(floorStatus(viewFor('bea', round(['bea', 'cyd'], 0, NOW + 90_000)), NOW)).toBe('Your turn: 1:30 left');
    expect(floorStatus(viewFor('bea', round(['bea', 'cyd'], 0, NOW + 500)), NOW)).toBe('Your turn: 0:01 left');
    expect(floorStatus(viewFor('bea', round(['bea', 'cyd'], 0, NOW)), NOW)).toBe('Your turn: time is up');
    expect(floorStatus(viewFor('bea', round(['bea', 'cyd'], 0, null)), NOW)).toBe('Your turn');
  });

  it('tells the others in a round who speaks and how far away their turn is', () => {
    const floor = round(['bea', 'cyd', 'dan'], 0, null);
    expect(floorStatus(viewFor('cyd', floor), NOW)).toBe('Round: Bea is speaking, you are next');
    expect(floorStatus(viewFor('dan', floor), NOW)).toBe('Round: Bea is speaking, you are 2nd');
    expect(floorStatus(viewFor('bea', round(['bea', 'cyd', 'dan'], 1, null)), NOW)).toBe('Round: Cyd is speaking, you have spoken');
  });

  it('says a turn is paused while its holder reconnects, instead of counting down', () => {
    const timed = round(['bea', 'cyd', 'dan'], 0, NOW + 90_000);
    // Bea's connection dropped with 42 s left: the clock stops until she is back.
    const paused: Floor = { ...timed, turnEndsAt: null, turnPausedMs: 42_000 };
    expect(floorStatus(viewFor('cyd', paused), NOW)).toBe('Round: Bea’s turn is paused, you are next');
    expect(floorStatus(viewFor('dan', paused), NOW)).toBe('Round: Bea’s turn is paused, you are 2nd');
    expect(floorStatus(viewFor('ada', paused, 'facilitator'), NOW)).toBe('Round: Bea’s turn is paused');
    expect(floorStatus(viewFor('bea', paused), NOW)).toBe('Your turn: paused');
    expect(turnClock(paused, NOW + 60_000)).toBe('paused');
    expect(turnTimeLeft(paused, NOW + 60_000)).toBe(42_000);
  });

  it('shows facilitators what is going on, in words unlike the panel’s', () => {
    expect(floorStatus(viewFor('ada', hands('bea', ['cyd']), 'facilitator'), NOW)).toBe('Raised hands: Bea is speaking, 1 hand up');
    expect(floorStatus(viewFor('ada', round(['bea', 'cyd'], 1, NOW + 5_000), 'facilitator'), NOW)).toBe('Round: Cyd is speaking, 0:05 left');
  });
});

describe('helpers', () => {
  it('places people in the queue and the round', () => {
    expect(queuePlace(hands(null, ['cyd', 'bea']), 'bea')).toBe(2);
    expect(queuePlace(hands(null, []), 'bea')).toBeNull();
    expect(turnsUntil(round(['bea', 'cyd', 'dan'], 0, null), 'dan')).toBe(2);
    expect(turnsUntil(round(['bea', 'cyd', 'dan'], 2, null), 'bea')).toBeNull();
  });

  it('formats clocks and ordinals', () => {
    expect(clock(62_500)).toBe('1:02');
    expect(clock(3_723_000)).toBe('1:02:03');
    expect(countdown(1)).toBe('0:01');
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 101].map(ordinal)).toEqual(['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd', '101st']);
  });
});

describe('a microphone the floor holds', () => {
  const held = (view: RoomView, mic: 'floor' | 'facilitator' | null, sending = false): RoomView => ({
    ...view,
    self: { ...view.self, held: { mic, camera: null } },
    members: view.members?.map((m) => (m.id === view.self.id ? { ...m, sending: { mic: sending, camera: false, screen: false } } : m)),
  });

  it('says what one’s own switch means while waiting for the floor', () => {
    expect(floorHoldHint(hands(null, []), true)).toBe('Your microphone is on: the group hears you when you have the floor.');
    expect(floorHoldHint(hands(null, []), false)).toBe('Your microphone is off: unmute now and you will be heard when you have the floor.');
    expect(floorHoldHint(round(['cyd', 'bea'], 0, null), true)).toBe('Your microphone is on: the group hears you when the round comes to you.');
  });

  it('shows on one’s own tile what the group receives, as the server says', () => {
    const view = held(viewFor('bea', hands('cyd', [])), 'floor');
    expect(ownSending(view, { micOn: true, camOn: true })).toEqual({ mic: false, camera: false });
    expect(waitingForFloor(view, true, false)).toBe(true);
    expect(waitingForFloor(view, false, false)).toBe(false); // off by one's own choice: "Muted"
    expect(waitingForFloor(held(view, 'facilitator'), true, false)).toBe(false);
    expect(waitingForFloor(held(view, null, true), true, true)).toBe(false);
    // Before the view lists anyone: one's own switches, less what the server holds.
    const early = { ...view, members: undefined };
    expect(ownSending(early, { micOn: true, camOn: true })).toEqual({ mic: false, camera: true });
  });
});

type Detail = NonNullable<RoomView['facilitation']>['everyone'][number];
const person = memberDetail;

describe('answers to a facilitator’s ask', () => {
  const bea = (patch: Partial<Detail>): Detail =>
    person('bea', { displayName: 'Bea', producers: [{ id: 'p1', kind: 'audio', source: 'mic', paused: true }], ...patch });
  const seen = (detail: Detail): RoomView => ({
    ...viewFor('ada', OPEN_FLOOR, 'facilitator'),
    facilitation: { autoAdmit: false, everyone: [detail], acknowledgements: [], checkedOut: [] },
  });

  it('a hold kept after the ask is gone is a "Not now"; a lifted hold is a yes', () => {
    const asked = seen(bea({ heldOff: ['mic'], asked: ['mic'] }));
    expect(answeredAsks(asked, seen(bea({ heldOff: ['mic'] })))).toEqual([{ memberId: 'bea', source: 'mic', outcome: 'declined' }]);
    expect(answeredAsks(asked, seen(bea({})))).toEqual([]);
    expect(answeredAsks(asked, asked)).toEqual([]);
  });

  it('without a hold, only a switch still off after a moment says no', () => {
    const asked = seen(bea({ asked: ['mic'] }));
    const answered = seen(bea({}));
    expect(answeredAsks(asked, answered)).toEqual([{ memberId: 'bea', source: 'mic', outcome: 'unclear' }]);
    expect(stillDeclined(answered, 'bea', 'mic')).toBe(true);
    expect(stillDeclined(seen(bea({ producers: [{ id: 'p1', kind: 'audio', source: 'mic', paused: false }] })), 'bea', 'mic')).toBe(false);
    expect(stillDeclined(seen(bea({ heldOff: ['mic'] })), 'bea', 'mic')).toBe(false); // muted since
    expect(stillDeclined(viewFor('ada', OPEN_FLOOR, 'facilitator'), 'bea', 'mic')).toBe(false); // gone
  });
});

describe('who is in the room and who can speak', () => {
  const view: RoomView = {
    ...viewFor('ada', OPEN_FLOOR, 'facilitator'),
    facilitation: {
      autoAdmit: false,
      everyone: [
        person('ada', { role: 'facilitator' }),
        person('bea'),
        person('cyd', { acknowledgedVersion: 'v0' }),
        person('dan', { stage: 'waiting' }),
        person('eve', { role: 'cofacilitator' }),
      ],
      acknowledgements: [],
      checkedOut: [],
    },
  };

  it('members in the room leave out facilitators and the waiting room; speakers also need the current agreement', () => {
    expect(membersInRoom(view).map((m) => m.id)).toEqual(['bea', 'cyd']);
    expect(eligibleSpeakers(view).map((m) => m.id)).toEqual(['bea']);
    expect(membersInRoom(viewFor('bea', OPEN_FLOOR))).toEqual([]);
  });
});
