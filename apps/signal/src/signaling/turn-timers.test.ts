import type { Command, Role } from '@group-room/shared';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../logger.js';
import { applyCommand } from '../room/commands.js';
import { enter } from '../room/entry.js';
import { newRoom, type RoomChange, type RoomState } from '../room/state.js';
import { TurnTimers } from './turn-timers.js';

/*
 * The server's timer for a timed round with "pass on time-out": set from the published
 * state, it applies expireTurn for that turn when the time is up. Fake timers and clock.
 */

const T = 1_700_000_000_000;
const run = (state: RoomState, ...changes: RoomChange[]): RoomState => changes.reduce((s, change) => change(s), state);
const by = (actor: string, command: Command, now = Date.now()): RoomChange => applyCommand(actor, command, now);
const arrive = (id: string, role: Role = 'member'): RoomChange => enter({ id, displayName: id, role, inviteId: null }, T);
const inRoom = (id: string): RoomChange[] => [
  arrive(id),
  (state) => by(id, { type: 'agreement.acknowledge', version: state.agreement.version, privateSpace: true })(state),
  by('host', { type: 'member.admit', memberId: id }),
];

function room(id = 'timer-room-01'): RoomState {
  const start = newRoom({ id, capacity: 8, title: '', agreement: 'Be kind.', startsAt: T, durationMinutes: 60 }, T);
  return run(start, arrive('host', 'facilitator'), ...inRoom('a'), ...inRoom('b'));
}

const startRound = (turnSeconds: number | null, onTimeout: 'warn' | 'pass'): RoomChange => by('host', { type: 'round.start', order: ['a', 'b'], turnSeconds, onTimeout });

interface Harness {
  timers: TurnTimers;
  /** The changes applied, per room, and the room's state after them. */
  applied: { roomId: string; change: RoomChange }[];
  warnings: string[];
}

function harness(states: Map<string, RoomState>, fail = false): Harness {
  const applied: Harness['applied'] = [];
  const warnings: string[] = [];
  const log: Logger = { debug: () => undefined, info: () => undefined, warn: (msg) => warnings.push(msg), error: () => undefined };
  const timers = new TurnTimers(async (roomId, change) => {
    applied.push({ roomId, change });
    if (fail) throw new Error('store unavailable');
    const next = change(states.get(roomId)!);
    states.set(roomId, next);
    return next;
  }, log);
  return { timers, applied, warnings };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('TurnTimers', () => {
  it('passes the stick when a timed turn with "pass" runs out, not before', async () => {
    const state = startRound(30, 'pass')(room());
    const states = new Map([[state.id, state]]);
    const { timers, applied } = harness(states);
    timers.schedule(state);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(applied).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(applied.map((a) => a.roomId)).toEqual([state.id]);
    expect(states.get(state.id)?.floor).toMatchObject({ holder: 'b', turn: state.floor.turn + 1 });
    timers.clearAll();
  });

  it('sets nothing for a round that only warns, an untimed round, or raised hands', async () => {
    const { timers, applied } = harness(new Map());
    timers.schedule(startRound(30, 'warn')(room()));
    timers.schedule(startRound(null, 'pass')(room('timer-room-02')));
    timers.schedule(run(room('timer-room-03'), by('host', { type: 'floor.setMode', mode: 'hands' }), by('host', { type: 'floor.grant', memberId: 'a' })));
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(applied).toHaveLength(0);
  });

  it('keeps one timer per turn however often the state is published', async () => {
    const state = startRound(30, 'pass')(room());
    const states = new Map([[state.id, state]]);
    const { timers, applied } = harness(states);
    timers.schedule(state);
    await vi.advanceTimersByTimeAsync(10_000);
    timers.schedule({ ...state, version: state.version + 1 }); // another change, same turn
    await vi.advanceTimersByTimeAsync(20_000);
    expect(applied).toHaveLength(1);
    timers.clearAll();
  });

  it('a new turn replaces the old timer; a turn passed by hand is not expired later', async () => {
    const state = startRound(30, 'pass')(room());
    const states = new Map([[state.id, state]]);
    const { timers, applied } = harness(states);
    timers.schedule(state);
    await vi.advanceTimersByTimeAsync(20_000);
    const passed = by('a', { type: 'round.pass' })(state); // b's turn, until 20s + 30s
    states.set(passed.id, passed);
    timers.schedule(passed);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(applied).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(applied).toHaveLength(1);
    expect(states.get(state.id)?.floor.mode).toBe('open'); // b's was the last turn
  });

  it('the round ending clears the timer', async () => {
    const state = startRound(30, 'pass')(room());
    const { timers, applied } = harness(new Map([[state.id, state]]));
    timers.schedule(state);
    timers.schedule(by('host', { type: 'round.end' })(state));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(applied).toHaveLength(0);
  });

  it('clear and clearAll stop the timers', async () => {
    const one = startRound(30, 'pass')(room('timer-room-01'));
    const two = startRound(30, 'pass')(room('timer-room-02'));
    const { timers, applied } = harness(new Map([[one.id, one], [two.id, two]]));
    timers.schedule(one);
    timers.schedule(two);
    timers.clear(one.id);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(applied.map((a) => a.roomId)).toEqual([two.id]);
    timers.schedule(startRound(30, 'pass')(room('timer-room-03')));
    timers.clearAll();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(applied).toHaveLength(1);
  });

  it('a time-out already due when scheduled runs at once', async () => {
    const state = startRound(30, 'pass')(room());
    vi.setSystemTime(T + 45_000); // e.g. published late by another node
    const states = new Map([[state.id, state]]);
    const { timers, applied } = harness(states);
    timers.schedule(state);
    await vi.advanceTimersByTimeAsync(0);
    expect(applied).toHaveLength(1);
    expect(states.get(state.id)?.floor.holder).toBe('b');
    timers.clearAll();
  });

  it('logs a time-out that could not be applied, and keeps going', async () => {
    const state = startRound(30, 'pass')(room());
    const { timers, applied, warnings } = harness(new Map([[state.id, state]]), true);
    timers.schedule(state);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(applied).toHaveLength(1);
    expect(warnings).toEqual(['turn time-out not applied']);
  });
});
