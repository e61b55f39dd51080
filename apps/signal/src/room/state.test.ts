import { ProtocolFailure, type ProducerView, type Role } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { applyCommand } from './commands.js';
import { enter, leave } from './entry.js';
import { putProducer, removeProducer, setProducerPaused } from './producers.js';
import {
  agreementVersion,
  asideOf,
  checkoutOf,
  makeAgreement,
  maySend,
  mediaAllowed,
  mediaPolicy,
  memberCount,
  membersInOrder,
  membersWithMedia,
  mustAcknowledge,
  newRoom,
  requireMember,
  shareOf,
  withMember,
  withoutMember,
  type MemberState,
  type RoomChange,
  type RoomState,
} from './state.js';

const ROOM = 'room-state-test-1';
const TEXT = 'What is said here stays here.';

const run = (state: RoomState, ...changes: RoomChange[]): RoomState => changes.reduce((s, change) => change(s), state);
const room = (capacity = 16, now = 1234) => newRoom({ id: ROOM, capacity, title: 'Group', agreement: TEXT, startsAt: 10_000, durationMinutes: 90 }, now);
const arrive = (id: string, role: Role = 'member', at = 100): RoomChange => enter({ id, displayName: `Name of ${id}`, role, inviteId: role === 'member' ? `invite-${id}` : null }, at);
const acknowledge =
  (id: string): RoomChange =>
  (state) =>
    applyCommand(id, { type: 'agreement.acknowledge', version: state.agreement.version, privateSpace: true })(state);
const admit = (id: string): RoomChange => applyCommand('host', { type: 'member.admit', memberId: id });

function expectFailure(fn: () => unknown, code: string, message?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ProtocolFailure);
  expect((thrown as ProtocolFailure).code).toBe(code);
  if (message) expect((thrown as ProtocolFailure).message).toMatch(message);
}

const mic: ProducerView = { id: 'prod-mic', kind: 'audio', source: 'mic', paused: false };
const cam: ProducerView = { id: 'prod-cam', kind: 'video', source: 'camera', paused: true };

describe('newRoom', () => {
  it('starts empty, unlocked, without auto-admit, at version 0', () => {
    expect(room(16, 1234)).toEqual({
      id: ROOM,
      version: 0,
      createdAt: 1234,
      capacity: 16,
      title: 'Group',
      agreement: { text: TEXT, version: agreementVersion(TEXT), updatedAt: 1234 },
      session: { startsAt: 10_000, endsAt: 10_000 + 90 * 60_000, warnMinutes: 5 },
      locked: false,
      autoAdmit: false,
      ended: false,
      blockedInvites: [],
      sharedInviteId: null,
      facilitatorLinkGeneration: 0,
      acknowledgements: [],
      members: {},
      floor: { mode: 'open', holder: null, hands: [], round: null, turn: 0, turnStartedAt: null, turnEndsAt: null, turnPausedMs: null },
    });
    expect(memberCount(room())).toBe(0);
  });

  it('takes the warning time when given', () => {
    const state = newRoom({ id: ROOM, capacity: 4, title: '', agreement: TEXT, startsAt: 0, durationMinutes: 15, warnMinutes: 2 }, 0);
    expect(state.session).toEqual({ startsAt: 0, endsAt: 15 * 60_000, warnMinutes: 2 });
  });

  it('survives JSON (what the Redis store does to it)', () => {
    const state = run(room(), arrive('host', 'facilitator'), arrive('a'), acknowledge('a'), putProducer('host', mic));
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });
});

describe('agreement versions', () => {
  it('are a 16-hex-digit digest of the text', () => {
    expect(agreementVersion(TEXT)).toMatch(/^[0-9a-f]{16}$/);
    expect(agreementVersion(TEXT)).toBe(agreementVersion(TEXT));
    expect(agreementVersion(TEXT)).not.toBe(agreementVersion(`${TEXT} `));
    expect(agreementVersion('a')).not.toBe(agreementVersion('b'));
  });

  it('makeAgreement stamps the text with its version and the time', () => {
    expect(makeAgreement('Be kind.', 42)).toEqual({ text: 'Be kind.', version: agreementVersion('Be kind.'), updatedAt: 42 });
  });
});

describe('member helpers', () => {
  const state = run(room(), arrive('host', 'facilitator', 300), arrive('b', 'member', 200), arrive('a', 'member', 200));

  it('memberCount counts everyone present', () => {
    expect(memberCount(state)).toBe(3);
  });

  it('requireMember returns the member or throws NOT_FOUND', () => {
    expect(requireMember(state, 'a').displayName).toBe('Name of a');
    expectFailure(() => requireMember(state, 'nobody'), 'NOT_FOUND', /No such member/);
    expectFailure(() => requireMember(state, 'nobody', 'Gone'), 'NOT_FOUND', /^Gone$/);
  });

  it('withMember adds or replaces without mutating', () => {
    const before = structuredClone(state);
    const member: MemberState = { ...state.members['a']!, displayName: 'Renamed' };
    const next = withMember(state, member);
    expect(next.members['a']?.displayName).toBe('Renamed');
    expect(state).toEqual(before);
  });

  it('withoutMember removes, and returns the same object when absent', () => {
    const next = withoutMember(state, 'a');
    expect(Object.keys(next.members).sort()).toEqual(['b', 'host']);
    expect(state.members['a']).toBeDefined();
    expect(withoutMember(next, 'a')).toBe(next);
  });

  it('membersInOrder sorts by entry time, then id', () => {
    expect(membersInOrder(state).map((m) => m.id)).toEqual(['a', 'b', 'host']);
  });
});

describe('media follows state', () => {
  const state = run(
    room(),
    arrive('host', 'facilitator'),
    arrive('g'),
    arrive('w'),
    acknowledge('w'),
    arrive('a'),
    acknowledge('a'),
    admit('a'),
    arrive('c'),
    acknowledge('c'),
    admit('c'),
    applyCommand('host', { type: 'member.setRole', memberId: 'c', role: 'cofacilitator' }),
  );

  it('mustAcknowledge: members without the current version; never facilitators', () => {
    expect(mustAcknowledge(state, state.members['g']!)).toBe(true);
    expect(mustAcknowledge(state, state.members['w']!)).toBe(false);
    expect(mustAcknowledge(state, state.members['a']!)).toBe(false);
    expect(mustAcknowledge(state, state.members['host']!)).toBe(false);
    const changed = applyCommand('host', { type: 'agreement.set', text: 'New.' })(state);
    expect(mustAcknowledge(changed, changed.members['a']!)).toBe(true);
    expect(mustAcknowledge(changed, changed.members['c']!)).toBe(false);
    expect(mustAcknowledge(changed, changed.members['host']!)).toBe(false);
  });

  it('mediaAllowed: admitted and acknowledged, or a facilitator; never someone absent', () => {
    expect([...membersWithMedia(state)].sort()).toEqual(['a', 'c', 'host']);
    expect(mediaAllowed(state, 'g')).toBe(false);
    expect(mediaAllowed(state, 'w')).toBe(false);
    expect(mediaAllowed(state, 'nobody')).toBe(false);
    expect(mediaAllowed(leave('a')(state), 'a')).toBe(false);
  });

  it('a changed agreement takes media from members until they acknowledge again', () => {
    const changed = applyCommand('host', { type: 'agreement.set', text: 'New.' })(state);
    expect([...membersWithMedia(changed)].sort()).toEqual(['c', 'host']);
    expect([...membersWithMedia(acknowledge('a')(changed))].sort()).toEqual(['a', 'c', 'host']);
  });
});

describe('producers', () => {
  const joined = run(room(), arrive('a', 'facilitator'), arrive('b', 'facilitator'));

  it('putProducer adds and replaces a producer of a member', () => {
    const state = run(joined, putProducer('a', mic), putProducer('a', cam));
    expect(state.members['a']?.producers).toEqual({ [mic.id]: mic, [cam.id]: cam });
    expect(state.members['b']?.producers).toEqual({});
    const replaced = putProducer('a', { ...mic, paused: true })(state);
    expect(replaced.members['a']?.producers[mic.id]?.paused).toBe(true);
    expect(joined.members['a']?.producers).toEqual({}); // input untouched
  });

  it('putProducer for a non-member is NOT_FOUND', () => {
    expectFailure(() => putProducer('ghost', mic)(joined), 'NOT_FOUND');
  });

  it('setProducerPaused toggles paused, and returns the same object when unchanged', () => {
    const state = putProducer('a', mic)(joined);
    const paused = setProducerPaused('a', mic.id, true)(state);
    expect(paused.members['a']?.producers[mic.id]).toEqual({ ...mic, paused: true });
    const resumed = setProducerPaused('a', mic.id, false)(paused);
    expect(resumed.members['a']?.producers[mic.id]).toEqual(mic);
    expect(state.members['a']?.producers[mic.id]?.paused).toBe(false); // input untouched
    expect(setProducerPaused('a', mic.id, false)(state)).toBe(state);
  });

  it('setProducerPaused on an unknown producer or member is NOT_FOUND', () => {
    const state = putProducer('a', mic)(joined);
    expectFailure(() => setProducerPaused('a', 'nope', true)(state), 'NOT_FOUND', /producer/);
    expectFailure(() => setProducerPaused('b', mic.id, true)(state), 'NOT_FOUND'); // someone else's producer
    expectFailure(() => setProducerPaused('ghost', mic.id, true)(state), 'NOT_FOUND');
  });

  it('removeProducer removes it and is idempotent', () => {
    const state = run(joined, putProducer('a', mic), putProducer('a', cam));
    const removed = removeProducer('a', mic.id)(state);
    expect(removed.members['a']?.producers).toEqual({ [cam.id]: cam });
    expect(removeProducer('a', mic.id)(removed)).toBe(removed);
    expect(removeProducer('ghost', mic.id)(removed)).toBe(removed);
    expect(removeProducer('b', cam.id)(removed)).toBe(removed); // not b's producer
  });

  it('producers leave with their member', () => {
    const state = run(joined, putProducer('a', mic), leave('a'));
    expect(state.members['a']).toBeUndefined();
    expect(memberCount(state)).toBe(1);
  });
});

describe('the therapist’s tools in a room stored before them', () => {
  // A room written before share, check-out and aside existed has none of the three fields.
  const stored = (): RoomState => {
    const state = run(room(), arrive('host', 'facilitator'), arrive('a'), acknowledge('a'), admit('a'));
    const { share: _share, checkout: _checkout, aside: _aside, ...old } = state;
    return JSON.parse(JSON.stringify(old)) as RoomState;
  };

  it('reads as the defaults: one share at a time, no whole screen, nobody granted, no check-out, nobody aside', () => {
    const state = stored();
    expect(shareOf(state)).toEqual({ maxShares: 1, allowWholeScreen: false, granted: [], asking: [] });
    expect(checkoutOf(state)).toBeNull();
    expect(asideOf(state)).toBeNull();
    const policy = mediaPolicy(state);
    expect([...policy.send.screen]).toEqual(['host']);
    expect(policy.apart.size).toBe(0);
    expect(policy.shares.size).toBe(0);
  });

  it('and takes the new commands', () => {
    const state = run(
      stored(),
      applyCommand('host', { type: 'share.grant', memberId: 'a' }),
      applyCommand('host', { type: 'checkout.start' }, 5),
      applyCommand('host', { type: 'aside.start', memberId: 'a' }, 6),
    );
    expect(maySend(state, 'a', 'screen')).toBe(true);
    expect(checkoutOf(state)).toMatchObject({ startedAt: 5, done: [] });
    expect(asideOf(state)).toEqual({ facilitatorId: 'host', memberId: 'a', startedAt: 6 });
  });
});
