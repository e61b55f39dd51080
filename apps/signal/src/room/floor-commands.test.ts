import { OPEN_FLOOR, type Command, type Role } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { applyCommand } from './commands.js';
import { enter, leave } from './entry.js';
import { expireTurn } from './floor-commands.js';
import { heldBy, maySend, mediaPolicy, newRoom, type RoomChange, type RoomState } from './state.js';
import { deepFreeze, expectRefused } from './rules.test-support.js';

/*
 * Turn-taking, through `applyCommand` as the server applies it: open floor, raised hands and
 * talking-stick rounds; who holds the floor; and who may send their microphone because of it.
 */

const T = 100_000;
const run = (state: RoomState, ...changes: RoomChange[]): RoomState => changes.reduce((s, change) => change(s), state);
const arrive = (id: string, role: Role = 'member', at = T): RoomChange => enter({ id, displayName: `Name of ${id}`, role, inviteId: role === 'member' ? `invite-${id}` : null }, at);
const by = (actor: string, command: Command, now = T): RoomChange => applyCommand(actor, command, now);
const acknowledge =
  (id: string): RoomChange =>
  (state) =>
    by(id, { type: 'agreement.acknowledge', version: state.agreement.version, privateSpace: true })(state);
const admit = (id: string): RoomChange => by('host', { type: 'member.admit', memberId: id });
const inRoom = (id: string, at: number): RoomChange[] => [arrive(id, 'member', at), acknowledge(id), admit(id)];

const hands = (now = T) => by('host', { type: 'floor.setMode', mode: 'hands' }, now);
const open = (now = T) => by('host', { type: 'floor.setMode', mode: 'open' }, now);
const raise = (id: string) => by(id, { type: 'hand.raise' });
const grant = (memberId: string, now = T, actor = 'host') => by(actor, { type: 'floor.grant', memberId }, now);
const startRound = (order: string[] | null, turnSeconds: number | null = null, onTimeout: 'warn' | 'pass' = 'warn', now = T) =>
  by('host', { type: 'round.start', order, turnSeconds, onTimeout }, now);
const pass = (actor: string, now = T) => by(actor, { type: 'round.pass' }, now);

/** Who may send their microphone now, in entry order. */
const speaking = (state: RoomState): string[] => [...mediaPolicy(state).send.mic].sort();

/**
 * host (facilitator) and co (cofacilitator); a, b, c, d admitted members, entered in that
 * order (c before b by id, to check arrival order is by time); w waiting; g at the agreement.
 */
function room(): RoomState {
  const start = newRoom({ id: 'floor-room-01', capacity: 16, title: 'Group', agreement: 'Be kind.', startsAt: 0, durationMinutes: 90 }, 0);
  return deepFreeze(
    run(
      start,
      arrive('host', 'facilitator', 1),
      ...inRoom('co', 2),
      by('host', { type: 'member.setRole', memberId: 'co', role: 'cofacilitator' }),
      ...inRoom('a', 10),
      ...inRoom('c', 20),
      ...inRoom('b', 30),
      ...inRoom('d', 40),
      arrive('w', 'member', 50),
      acknowledge('w'),
      arrive('g', 'member', 60),
    ),
  );
}

const ALL = ['a', 'b', 'c', 'co', 'd', 'host'];
const FACILITATORS = ['co', 'host'];

describe('the open floor', () => {
  it('is where a room starts: everyone in the room may speak, nobody holds it', () => {
    const state = room();
    expect(state.floor).toEqual(OPEN_FLOOR);
    expect(speaking(state)).toEqual(ALL);
    expect(heldBy(state, state.members['a']!, 'mic')).toBeNull();
  });

  it('has no hands to raise, nobody to grant, no round to pass', () => {
    const state = room();
    expectRefused(state, raise('a'), 'INVALID_STATE', /Hands are raised/);
    expectRefused(state, grant('a'), 'INVALID_STATE');
    expectRefused(state, by('host', { type: 'floor.release' }), 'INVALID_STATE');
    expectRefused(state, pass('host'), 'INVALID_STATE', /no round/);
  });
});

describe('floor.setMode', () => {
  it('raised hands: members fall silent until given the floor, facilitators may always speak', () => {
    const state = hands(T + 5)(room());
    expect(state.floor).toEqual({ ...OPEN_FLOOR, mode: 'hands', turn: 1 });
    expect(speaking(state)).toEqual(FACILITATORS);
    expect(heldBy(state, state.members['a']!, 'mic')).toBe('floor');
    expect(heldBy(state, state.members['a']!, 'camera')).toBeNull(); // the floor is about voices
    expect(maySend(state, 'a', 'camera')).toBe(true);
    expect(heldBy(state, state.members['co']!, 'mic')).toBeNull();
  });

  it('is a no-op when the mode is already set (no write)', () => {
    const state = room();
    expect(open()(state)).toBe(state);
    const raised = deepFreeze(run(state, hands(), raise('a')));
    expect(hands()(raised)).toBe(raised);
  });

  it('back to open drops the queue and the holder: everyone may speak again', () => {
    const held = run(room(), hands(), raise('a'), raise('b'), grant('c'));
    const state = open(T + 9)(deepFreeze(held));
    expect(state.floor).toEqual({ ...OPEN_FLOOR, turn: held.floor.turn + 1 });
    expect(speaking(state)).toEqual(ALL);
  });

  it('switching mode ends a round and returns the floor', () => {
    const inRound = deepFreeze(run(room(), startRound(null, 60, 'pass')));
    expect(inRound.floor.mode).toBe('round');
    const toHands = hands(T + 7)(inRound);
    expect(toHands.floor).toEqual({ ...OPEN_FLOOR, mode: 'hands', turn: inRound.floor.turn + 1 });
    expect(speaking(toHands)).toEqual(FACILITATORS);
    const toOpen = open(T + 7)(inRound);
    expect(toOpen.floor).toEqual({ ...OPEN_FLOOR, turn: inRound.floor.turn + 1 });
  });

  it('is for facilitators only', () => {
    expectRefused(room(), by('a', { type: 'floor.setMode', mode: 'hands' }), 'FORBIDDEN');
  });
});

describe('raised hands', () => {
  const inHands = () => deepFreeze(hands()(room()));

  it('hand.raise queues members first come, first served; twice is a no-op', () => {
    const state = run(inHands(), raise('b'), raise('a'), raise('d'));
    expect(state.floor.hands).toEqual(['b', 'a', 'd']);
    expect(raise('a')(deepFreeze(state))).toBe(state);
    expect(speaking(state)).toEqual(FACILITATORS); // a raised hand is not the floor
  });

  it('hand.raise is for members in the room only', () => {
    const state = inHands();
    expectRefused(state, raise('host'), 'FORBIDDEN');
    expectRefused(state, raise('co'), 'FORBIDDEN');
    expectRefused(state, raise('w'), 'FORBIDDEN');
    expectRefused(state, raise('g'), 'FORBIDDEN');
    expectRefused(state, raise('ghost'), 'FORBIDDEN', /not in this room/);
  });

  it('whoever holds the floor does not queue again', () => {
    const state = deepFreeze(run(inHands(), grant('a')));
    expect(raise('a')(state)).toBe(state);
  });

  it('hand.lower: one’s own hand, or anyone’s by a facilitator; never someone else’s by a member', () => {
    const state = deepFreeze(run(inHands(), raise('a'), raise('b'), raise('c')));
    expect(by('b', { type: 'hand.lower' })(state).floor.hands).toEqual(['a', 'c']);
    expect(by('b', { type: 'hand.lower', memberId: 'b' })(state).floor.hands).toEqual(['a', 'c']);
    expect(by('co', { type: 'hand.lower', memberId: 'c' })(state).floor.hands).toEqual(['a', 'b']);
    expectRefused(state, by('a', { type: 'hand.lower', memberId: 'b' }), 'FORBIDDEN', /your own hand/);
    expect(by('d', { type: 'hand.lower' })(state)).toBe(state); // not raised: nothing to do
    expect(by('host', { type: 'hand.lower', memberId: 'd' })(state)).toBe(state);
  });

  describe('floor.grant', () => {
    const queued = () => deepFreeze(run(inHands(), raise('a'), raise('b'), raise('c')));

    it('to the first in line: they hold the floor and leave the queue; only they (and facilitators) may speak', () => {
      const before = queued();
      const state = grant('a', T + 50)(before);
      expect(state.floor).toEqual({ ...before.floor, holder: 'a', hands: ['b', 'c'], turn: before.floor.turn + 1, turnStartedAt: T + 50, turnEndsAt: null , turnPausedMs: null});
      expect(speaking(state)).toEqual(['a', ...FACILITATORS]);
      expect(heldBy(state, state.members['a']!, 'mic')).toBeNull();
      expect(heldBy(state, state.members['b']!, 'mic')).toBe('floor');
    });

    it('to anyone in the room, raised hand or not', () => {
      const before = queued();
      const toLast = grant('c')(before);
      expect(toLast.floor).toMatchObject({ holder: 'c', hands: ['a', 'b'] });
      const toUnraised = grant('d')(before);
      expect(toUnraised.floor).toMatchObject({ holder: 'd', hands: ['a', 'b', 'c'] });
      expect(speaking(toUnraised)).toEqual(['co', 'd', 'host']);
    });

    it('moves the floor: the previous holder falls silent and is not queued again', () => {
      const first = grant('a', T + 1)(queued());
      const second = grant('b', T + 2)(deepFreeze(first));
      expect(second.floor).toMatchObject({ holder: 'b', hands: ['c'], turn: first.floor.turn + 1, turnStartedAt: T + 2 });
      expect(speaking(second)).toEqual(['b', ...FACILITATORS]);
    });

    it('to the holder again is a no-op', () => {
      const state = deepFreeze(grant('a')(queued()));
      expect(grant('a', T + 9)(state)).toBe(state);
    });

    it('only to a member in the room with the current agreement', () => {
      const state = queued();
      expectRefused(state, grant('w'), 'INVALID_STATE', /not in the room/);
      expectRefused(state, grant('g'), 'INVALID_STATE', /not in the room/);
      expectRefused(state, grant('co'), 'INVALID_STATE', /always speak/);
      expectRefused(state, grant('host'), 'INVALID_STATE', /always speak/);
      expectRefused(state, grant('nobody'), 'NOT_FOUND');
      const changed = by('host', { type: 'agreement.set', text: 'Be very kind.' })(state);
      expectRefused(changed, grant('a'), 'INVALID_STATE', /not in the room/);
    });

    it('is for facilitators, and only in raised-hands mode', () => {
      expectRefused(queued(), grant('a', T, 'b'), 'FORBIDDEN');
      expectRefused(room(), grant('a'), 'INVALID_STATE', /raised-hands/);
      expectRefused(startRound(null)(room()), grant('a'), 'INVALID_STATE');
    });
  });

  describe('floor.release', () => {
    const held = () => deepFreeze(run(inHands(), raise('a'), raise('b'), grant('a')));

    it('by the holder: nobody holds the floor, the queue stays', () => {
      const before = held();
      const state = by('a', { type: 'floor.release' }, T + 3)(before);
      expect(state.floor).toEqual({ ...before.floor, holder: null, turn: before.floor.turn + 1, turnStartedAt: null, turnEndsAt: null , turnPausedMs: null});
      expect(speaking(state)).toEqual(FACILITATORS);
    });

    it('by a facilitator taking it back', () => {
      expect(by('co', { type: 'floor.release' })(held()).floor.holder).toBeNull();
      expect(by('host', { type: 'floor.release' })(held()).floor.holder).toBeNull();
    });

    it('not by another member', () => {
      expectRefused(held(), by('b', { type: 'floor.release' }), 'FORBIDDEN', /whoever holds the floor/);
    });

    it('with nobody holding it is a no-op for a facilitator', () => {
      const state = inHands();
      expect(by('host', { type: 'floor.release' })(state)).toBe(state);
    });

    it('in a round, the turn is passed instead', () => {
      expectRefused(startRound(['a', 'b'])(room()), by('a', { type: 'floor.release' }), 'INVALID_STATE', /pass the turn/);
    });
  });

  describe('hands.move', () => {
    const queued = () => deepFreeze(run(inHands(), raise('a'), raise('b'), raise('c'), raise('d')));
    const move = (memberId: string, to: number) => by('host', { type: 'hands.move', memberId, to });

    it('reorders the queue', () => {
      expect(move('c', 0)(queued()).floor.hands).toEqual(['c', 'a', 'b', 'd']);
      expect(move('a', 2)(queued()).floor.hands).toEqual(['b', 'c', 'a', 'd']);
      expect(move('d', 1)(queued()).floor.hands).toEqual(['a', 'd', 'b', 'c']);
    });

    it('past the end skips someone: they go last', () => {
      expect(move('a', 3)(queued()).floor.hands).toEqual(['b', 'c', 'd', 'a']);
      expect(move('a', 1000)(queued()).floor.hands).toEqual(['b', 'c', 'd', 'a']);
    });

    it('to where they are already is a no-op', () => {
      const state = queued();
      expect(move('b', 1)(state)).toBe(state);
      expect(move('d', 3)(state)).toBe(state);
      expect(move('d', 50)(state)).toBe(state);
    });

    it('needs their hand raised', () => {
      expectRefused(queued(), move('host', 0), 'NOT_FOUND', /not raised/);
      expectRefused(queued(), move('nobody', 0), 'NOT_FOUND');
    });

    it('is for facilitators', () => {
      expectRefused(queued(), by('a', { type: 'hands.move', memberId: 'a', to: 0 }), 'FORBIDDEN');
    });
  });

  describe('hands.clear', () => {
    it('lowers every hand; whoever holds the floor keeps it', () => {
      const state = run(inHands(), raise('a'), raise('b'), raise('c'), grant('a'), by('host', { type: 'hands.clear' }));
      expect(state.floor).toMatchObject({ holder: 'a', hands: [] });
    });

    it('with no hands raised is a no-op', () => {
      const state = inHands();
      expect(by('host', { type: 'hands.clear' })(state)).toBe(state);
    });

    it('is for facilitators', () => {
      expectRefused(run(inHands(), raise('a')), by('a', { type: 'hands.clear' }), 'FORBIDDEN');
    });
  });
});

describe('rounds (the talking stick)', () => {
  it('round.start with no order: every member in the room, in order of arrival; the first holds the stick', () => {
    const before = deepFreeze(run(room(), hands(), raise('b')));
    const state = startRound(null, null, 'warn', T + 100)(before);
    expect(state.floor).toEqual({
      mode: 'round',
      holder: 'a',
      hands: [],
      round: { order: ['a', 'c', 'b', 'd'], position: 0, turnSeconds: null, onTimeout: 'warn' },
      turn: before.floor.turn + 1,
      turnStartedAt: T + 100,
      turnEndsAt: null, turnPausedMs: null
    });
    expect(speaking(state)).toEqual(['a', ...FACILITATORS]);
  });

  it('leaves out whoever still has to acknowledge a changed agreement', () => {
    const changed = run(room(), by('host', { type: 'agreement.set', text: 'Be very kind.' }), acknowledge('c'), acknowledge('d'));
    expect(startRound(null)(changed).floor.round?.order).toEqual(['c', 'd']);
  });

  it('round.start with an order and a limit per turn', () => {
    const state = startRound(['d', 'a'], 90, 'pass', T + 5)(room());
    expect(state.floor).toMatchObject({
      mode: 'round',
      holder: 'd',
      round: { order: ['d', 'a'], position: 0, turnSeconds: 90, onTimeout: 'pass' },
      turnStartedAt: T + 5,
      turnEndsAt: T + 5 + 90_000, turnPausedMs: null
    });
  });

  it('round.start refuses a bad order', () => {
    const state = room();
    expectRefused(state, startRound(['a', 'b', 'a']), 'BAD_REQUEST', /twice/);
    expectRefused(state, startRound(['a', 'w']), 'INVALID_STATE', /not in the room/);
    expectRefused(state, startRound(['a', 'host']), 'INVALID_STATE', /always speak/);
    expectRefused(state, startRound(['a', 'nobody']), 'NOT_FOUND');
  });

  it('round.start with nobody to take a turn is INVALID_STATE', () => {
    const empty = run(newRoom({ id: 'floor-room-02', capacity: 4, title: '', agreement: 'Be kind.', startsAt: 0, durationMinutes: 30 }, 0), arrive('host', 'facilitator'), arrive('w'), acknowledge('w'));
    expectRefused(empty, startRound(null), 'INVALID_STATE', /nobody/);
  });

  it('round.start is for facilitators', () => {
    expectRefused(room(), by('a', { type: 'round.start', order: null, turnSeconds: null, onTimeout: 'warn' }), 'FORBIDDEN');
  });

  describe('round.pass', () => {
    const inRound = () => deepFreeze(startRound(['a', 'b', 'c'], 60, 'warn', T)(room()));

    it('by the holder: the next in order holds the stick, with a fresh limit', () => {
      const before = inRound();
      const state = pass('a', T + 20_000)(before);
      expect(state.floor).toMatchObject({
        holder: 'b',
        round: { position: 1 },
        turn: before.floor.turn + 1,
        turnStartedAt: T + 20_000,
        turnEndsAt: T + 20_000 + 60_000, turnPausedMs: null
      });
      expect(speaking(state)).toEqual(['b', ...FACILITATORS]);
    });

    it('by a facilitator moving the round on', () => {
      expect(pass('co')(inRound()).floor.holder).toBe('b');
      expect(pass('host', T)(pass('host', T)(inRound())).floor.holder).toBe('c');
    });

    it('not by anyone else', () => {
      expectRefused(inRound(), pass('b'), 'FORBIDDEN', /your own turn/);
      expectRefused(inRound(), pass('d'), 'FORBIDDEN');
      expectRefused(inRound(), pass('w'), 'FORBIDDEN');
    });

    it('past the last turn the round is over and the floor is open to all', () => {
      const last = run(inRound(), pass('a'), pass('b'));
      expect(last.floor.holder).toBe('c');
      const state = pass('c', T + 9)(deepFreeze(last));
      expect(state.floor).toEqual({ ...OPEN_FLOOR, turn: last.floor.turn + 1 });
      expect(speaking(state)).toEqual(ALL);
    });

    it('outside a round is INVALID_STATE', () => {
      expectRefused(hands()(room()), pass('host'), 'INVALID_STATE');
    });
  });

  describe('round.end', () => {
    it('ends the round at once: the floor is open', () => {
      const before = deepFreeze(run(room(), startRound(['a', 'b'], 30, 'pass')));
      const state = by('co', { type: 'round.end' }, T + 1)(before);
      expect(state.floor).toEqual({ ...OPEN_FLOOR, turn: before.floor.turn + 1 });
    });

    it('without a round is a no-op', () => {
      const open = room();
      expect(by('host', { type: 'round.end' })(open)).toBe(open);
      const raised = deepFreeze(run(open, hands(), raise('a')));
      expect(by('host', { type: 'round.end' })(raised)).toBe(raised);
    });

    it('is for facilitators', () => {
      expectRefused(startRound(['a'])(room()), by('a', { type: 'round.end' }), 'FORBIDDEN');
    });
  });
});

describe('someone leaving (or removed) takes themselves off the floor', () => {
  const gone: [string, (id: string) => RoomChange][] = [
    ['leaves', (id) => leave(id, T + 500)],
    ['is removed', (id) => by('host', { type: 'member.remove', memberId: id, block: false }, T + 500)],
  ];

  describe.each(gone)('who %s', (_label, go) => {
    it('holding the floor: nobody holds it, the queue stays', () => {
      const before = deepFreeze(run(room(), hands(), raise('a'), raise('b'), grant('c')));
      const state = go('c')(before);
      expect(state.floor).toEqual({ ...before.floor, holder: null, turn: before.floor.turn + 1, turnStartedAt: null });
    });

    it('in the queue: out of it, the holder keeps the floor', () => {
      const before = deepFreeze(run(room(), hands(), raise('a'), raise('b'), raise('d'), grant('c')));
      const state = go('b')(before);
      expect(state.floor).toEqual({ ...before.floor, hands: ['a', 'd'] });
    });

    it('holding the stick: the next in order takes the turn', () => {
      const before = deepFreeze(run(room(), startRound(['a', 'b', 'c'], 60, 'pass'), pass('a')));
      expect(before.floor.holder).toBe('b');
      const state = go('b')(before);
      expect(state.floor).toMatchObject({
        holder: 'c',
        round: { order: ['a', 'c'], position: 1 },
        turn: before.floor.turn + 1,
        turnStartedAt: T + 500,
        turnEndsAt: T + 500 + 60_000, turnPausedMs: null
      });
    });

    it('earlier in the round: the holder keeps the stick', () => {
      const before = deepFreeze(run(room(), startRound(['a', 'b', 'c']), pass('a')));
      const state = go('a')(before);
      expect(state.floor).toEqual({ ...before.floor, round: { ...before.floor.round!, order: ['b', 'c'], position: 0 } });
    });

    it('later in the round: they are skipped, the holder keeps the stick', () => {
      const before = deepFreeze(run(room(), startRound(['a', 'b', 'c'])));
      const state = go('b')(before);
      expect(state.floor).toEqual({ ...before.floor, round: { ...before.floor.round!, order: ['a', 'c'] } });
      expect(pass('a')(state).floor.holder).toBe('c');
    });

    it('holding the last turn: the round is over', () => {
      const before = deepFreeze(run(room(), startRound(['a', 'b']), pass('a')));
      const state = go('b')(before);
      expect(state.floor).toEqual({ ...OPEN_FLOOR, turn: before.floor.turn + 1 });
    });
  });

  it('a facilitator leaving changes nothing on the floor', () => {
    const before = deepFreeze(run(room(), startRound(['a', 'b'])));
    expect(leave('co')(before).floor).toEqual(before.floor);
  });
});

describe('expireTurn (a round turn’s time runs out)', () => {
  const timed = (onTimeout: 'warn' | 'pass', turnSeconds: number | null = 30) => deepFreeze(startRound(['a', 'b'], turnSeconds, onTimeout, T)(room()));

  it('with "pass": once the time is up, the stick moves on with a fresh limit', () => {
    const before = timed('pass');
    const state = expireTurn(before.floor.turn, T + 30_000)(before);
    expect(state.floor).toMatchObject({
      holder: 'b',
      round: { position: 1 },
      turn: before.floor.turn + 1,
      turnStartedAt: T + 30_000,
      turnEndsAt: T + 60_000, turnPausedMs: null
    });
    expect(expireTurn(state.floor.turn, T + 61_000)(state).floor).toEqual({ ...OPEN_FLOOR, turn: state.floor.turn + 1 });
  });

  it('not before the time is up', () => {
    const before = timed('pass');
    expect(expireTurn(before.floor.turn, T + 29_999)(before)).toBe(before);
  });

  it('with "warn": never moves the stick (the facilitator decides)', () => {
    const before = timed('warn');
    expect(before.floor.turnEndsAt).toBe(T + 30_000);
    expect(expireTurn(before.floor.turn, T + 3_600_000)(before)).toBe(before);
  });

  it('ignores a turn that has already ended (a stale timer)', () => {
    const start = timed('pass');
    const passed = deepFreeze(pass('a', T + 10_000)(start));
    expect(passed.floor.holder).toBe('b');
    expect(expireTurn(start.floor.turn, T + 40_000)(passed)).toBe(passed);
    expect(expireTurn(passed.floor.turn + 1, T + 90_000)(passed)).toBe(passed);
  });

  it('does nothing without a limit, without a round, or once the session has ended', () => {
    const untimed = timed('pass', null);
    expect(expireTurn(untimed.floor.turn, T + 3_600_000)(untimed)).toBe(untimed);
    const inHands = deepFreeze(run(room(), hands(), grant('a')));
    expect(expireTurn(inHands.floor.turn, T + 3_600_000)(inHands)).toBe(inHands);
    const ended = deepFreeze(by('host', { type: 'session.end' })(timed('pass')));
    expect(expireTurn(ended.floor.turn, T + 3_600_000)(ended)).toBe(ended);
  });
});

describe('people whose place changes', () => {
  it('a member made co-facilitator leaves the queue, the floor and the round (facilitators may always speak)', () => {
    const queued = run(room(), hands(), raise('a'), raise('b'), grant('c'));
    const promoted = by('host', { type: 'member.setRole', memberId: 'a', role: 'cofacilitator' })(queued);
    expect(promoted.floor.hands).toEqual(['b']);
    const holding = by('host', { type: 'member.setRole', memberId: 'c', role: 'cofacilitator' })(queued);
    expect(holding.floor.holder).toBeNull();
    expect(holding.floor.turn).toBeGreaterThan(queued.floor.turn);
    const round = run(room(), startRound(['a', 'b']));
    const next = by('host', { type: 'member.setRole', memberId: 'a', role: 'cofacilitator' })(round);
    expect(next.floor.holder).toBe('b');
    expect(next.floor.round?.order).toEqual(['b']);
  });

  it('a member re-reading a changed agreement can still let go: lower a hand, hand back the floor, pass a turn', () => {
    const changed = (state: RoomState) => by('host', { type: 'agreement.set', text: 'A changed agreement.' })(state);
    const queued = run(room(), hands(), raise('a'), raise('b'), grant('b'), changed);
    expect(run(queued, by('a', { type: 'hand.lower' })).floor.hands).toEqual([]);
    expect(run(queued, by('b', { type: 'floor.release' })).floor.holder).toBeNull();
    // But not take the floor: raising a hand waits for the new acknowledgement.
    expectRefused(run(queued, by('a', { type: 'hand.lower' })), raise('a'), 'FORBIDDEN');
    const round = run(room(), startRound(['a', 'b']), changed);
    expect(run(round, pass('a')).floor.holder).toBe('b');
  });
});
