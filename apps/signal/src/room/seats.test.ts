import { describe, expect, it } from 'vitest';
import { applyCommand } from './commands.js';
import { enter } from './entry.js';
import { expireTurn } from './floor-commands.js';
import { viewFor } from './projection.js';
import { deepFreeze, expectRefused } from './rules.test-support.js';
import { clearAllProducers, confirmSeat, disconnectSeat, dropSeat, reclaimSeat, resumeSeat, sweepSeats, type SeatConnection } from './seats.js';
import { heldBy, newRoom, type RoomChange, type RoomState } from './state.js';
import { putProducer } from './producers.js';

const T = 1_700_000_000_000;
const GRACE = 120_000;
const run = (state: RoomState, ...changes: RoomChange[]): RoomState => changes.reduce((s, change) => change(s), state);
const conn = (id: string, n = 0, node = 'node-a'): SeatConnection => ({ connectionId: `${id}@${n}`, node, resumeNonce: `${id}#${n}` });
const arrive = (id: string, role: 'facilitator' | 'member' = 'member'): RoomChange =>
  enter({ id, displayName: `Name of ${id}`, role, inviteId: role === 'member' ? 'invite' : null, connection: conn(id) }, T);
const by = (actor: string, command: Parameters<typeof applyCommand>[1], now = T): RoomChange => applyCommand(actor, command, now);
const admitted = (id: string): RoomChange[] => [
  arrive(id),
  (s) => by(id, { type: 'agreement.acknowledge', version: s.agreement.version, privateSpace: true })(s),
  by('host', { type: 'member.admit', memberId: id }),
];

/** A facilitator and three members in the room, on raised hands: b then c in the queue. */
function room(): RoomState {
  const start = newRoom({ id: 'seats-room', capacity: 8, title: 'Group', agreement: 'Be kind.', startsAt: T, durationMinutes: 90 }, T);
  return deepFreeze(
    run(
      start,
      arrive('host', 'facilitator'),
      ...admitted('a'),
      ...admitted('b'),
      ...admitted('c'),
      by('host', { type: 'floor.setMode', mode: 'hands' }),
      by('b', { type: 'hand.raise' }),
      by('c', { type: 'hand.raise' }),
      by('host', { type: 'member.mute', memberId: 'b', source: 'mic' }),
    ),
  );
}

describe('a dropped connection', () => {
  it('keeps the seat: same place in the queue, the hold stays, others see "reconnecting"', () => {
    const before = room();
    const after = disconnectSeat('b', 'b@0', T + 5000)(before);
    expect(after.members['b']).toEqual({ ...before.members['b'], connectionId: null, offlineSince: T + 5000 });
    expect(after.floor).toEqual(before.floor);
    expect(heldBy(after, after.members['b']!, 'mic')).toBe('facilitator');
    expect(viewFor(after, 'a')!.members!.find((m) => m.id === 'b')!.connection).toBe('reconnecting');
    expect(viewFor(after, 'host')!.facilitation!.everyone.find((m) => m.id === 'b')!.connection).toBe('reconnecting');
    expect(viewFor(before, 'a')!.members!.find((m) => m.id === 'b')!.connection).toBe('online');
  });

  it('from a connection that no longer holds the seat changes nothing (a resume won the race)', () => {
    const before = room();
    expect(disconnectSeat('b', 'b@old', T + 5000)(before)).toBe(before);
    expect(disconnectSeat('nobody', 'x', T)(before)).toBe(before);
  });
});

describe('resuming a seat', () => {
  it('with the current nonce: back online, with a new nonce and connection, the rest untouched', () => {
    const away = disconnectSeat('b', 'b@0', T + 5000)(room());
    const back = resumeSeat('b', 'b#0', conn('b', 1, 'node-b'), T + 9000)(deepFreeze(away));
    expect(back.members['b']).toEqual({ ...away.members['b'], connectionId: 'b@1', node: 'node-b', resumeNonce: 'b#1', previousNonce: 'b#0', offlineSince: null });
    expect(back.floor).toEqual(away.floor);
  });

  it('with the credential before, while away: the answer with the newer one was lost with its connection', () => {
    const lost = run(room(), resumeSeat('b', 'b#0', conn('b', 1), T), disconnectSeat('b', 'b@1', T + 1));
    const back = resumeSeat('b', 'b#0', conn('b', 2), T + 2)(lost);
    expect(back.members['b']).toMatchObject({ connectionId: 'b@2', resumeNonce: 'b#2', previousNonce: 'b#0' });
    // Lost again: that same old credential still works, and the one never delivered no longer does.
    const again = disconnectSeat('b', 'b@2', T + 3)(back);
    expect(resumeSeat('b', 'b#0', conn('b', 3), T + 4)(again).members['b']!.connectionId).toBe('b@3');
    expectRefused(again, resumeSeat('b', 'b#1', conn('b', 3), T + 4), 'FORBIDDEN');
    // While the seat is held, only the current credential works.
    expectRefused(back, resumeSeat('b', 'b#0', conn('b', 3), T + 4), 'FORBIDDEN');
  });

  it('once the page confirms the new credential, the one before is refused even while away', () => {
    const resumed = run(room(), resumeSeat('b', 'b#0', conn('b', 1), T));
    const confirmed = confirmSeat('b', 'b#1', 'b@1')(deepFreeze(resumed));
    expect(confirmed.members['b']).toEqual({ ...resumed.members['b'], previousNonce: null });
    // Confirming again changes nothing (no write).
    expect(confirmSeat('b', 'b#1', 'b@1')(confirmed)).toBe(confirmed);
    const away = disconnectSeat('b', 'b@1', T + 1)(confirmed);
    expectRefused(away, resumeSeat('b', 'b#0', conn('b', 2), T + 2), 'FORBIDDEN');
    expect(resumeSeat('b', 'b#1', conn('b', 2), T + 2)(away).members['b']).toMatchObject({ connectionId: 'b@2', resumeNonce: 'b#2', previousNonce: 'b#1' });
  });

  it('only the connection holding the seat confirms, and only its current nonce', () => {
    const resumed = deepFreeze(run(room(), resumeSeat('b', 'b#0', conn('b', 1), T)));
    expectRefused(resumed, confirmSeat('b', 'b#0', 'b@1'), 'FORBIDDEN'); // the old nonce
    expectRefused(resumed, confirmSeat('b', 'b#1', 'b@0'), 'FORBIDDEN'); // another connection
    expectRefused(resumed, confirmSeat('b', '', 'b@1'), 'FORBIDDEN');
    expectRefused(resumed, confirmSeat('gone', 'b#1', 'b@1'), 'FORBIDDEN');
    expectRefused(disconnectSeat('b', 'b@1', T + 1)(resumed), confirmSeat('b', 'b#1', 'b@1'), 'FORBIDDEN'); // away
    expectRefused({ ...resumed, ended: true }, confirmSeat('b', 'b#1', 'b@1'), 'NOT_FOUND');
  });

  it('also while the old connection still holds it (a second tab with the credential takes over)', () => {
    const back = resumeSeat('b', 'b#0', conn('b', 1), T)(room());
    expect(back.members['b']!.connectionId).toBe('b@1');
  });

  it('refuses a used or forged credential, and a freed seat, changing nothing', () => {
    const resumed = resumeSeat('b', 'b#0', conn('b', 1), T)(room());
    expectRefused(resumed, resumeSeat('b', 'b#0', conn('b', 2), T), 'FORBIDDEN', /not kept/);
    expectRefused(resumed, resumeSeat('b', '', conn('b', 2), T), 'FORBIDDEN');
    expectRefused(resumed, resumeSeat('gone', 'gone#0', conn('gone', 2), T), 'FORBIDDEN');
    expectRefused({ ...resumed, ended: true }, resumeSeat('b', 'b#1', conn('b', 2), T), 'NOT_FOUND');
  });

  it('reclaim: a live connection marked away takes its seat back, keeping its nonce', () => {
    const away = disconnectSeat('b', 'b@0', T)(room());
    const back = reclaimSeat('b', { connectionId: 'b@0', node: 'node-a' }, T + 1)(away);
    expect(back.members['b']).toEqual(room().members['b']);
    expect(back.members['b']!.previousNonce).toBeNull();
    const online = room();
    expect(reclaimSeat('b', { connectionId: 'b@9', node: 'node-a' }, T)(online)).toBe(online);
  });
});

describe('a timed round turn', () => {
  const roundOn = (): RoomState => run(room(), by('host', { type: 'round.start', order: ['a', 'b'], turnSeconds: 60, onTimeout: 'pass' }, T + 1000));

  it('pauses while its holder is away and goes on with the time it had left', () => {
    const started = roundOn();
    expect(started.floor).toMatchObject({ holder: 'a', turnEndsAt: T + 61_000, turnPausedMs: null });
    const away = disconnectSeat('a', 'a@0', T + 21_000)(started);
    expect(away.floor).toMatchObject({ holder: 'a', turnEndsAt: null, turnPausedMs: 40_000 });
    // A time-out for that turn does nothing while it is paused.
    expect(expireTurn(away.floor.turn, T + 90_000)(away)).toBe(away);
    const back = resumeSeat('a', 'a#0', conn('a', 1), T + 50_000)(away);
    expect(back.floor).toMatchObject({ holder: 'a', turn: started.floor.turn, turnEndsAt: T + 90_000, turnPausedMs: null });
  });

  it('a facilitator can pass a paused turn on; the next turn runs its own clock', () => {
    const away = disconnectSeat('a', 'a@0', T + 21_000)(roundOn());
    const passed = by('host', { type: 'round.pass' }, T + 22_000)(away);
    expect(passed.floor).toMatchObject({ holder: 'b', turnEndsAt: T + 82_000, turnPausedMs: null });
  });
});

describe('the seat sweep', () => {
  it('frees seats away for the grace period: out of the members, the queue, the round, nothing left behind', () => {
    const away = run(room(), disconnectSeat('b', 'b@0', T + 1000), disconnectSeat('a', 'a@0', T + 60_000));
    const early = sweepSeats({ now: T + 1000 + GRACE - 1, graceMs: GRACE, liveNodes: new Set(['node-a']) })(away);
    expect(early).toBe(away);
    const swept = sweepSeats({ now: T + 1000 + GRACE, graceMs: GRACE, liveNodes: new Set(['node-a']) })(away);
    expect(Object.keys(swept.members).sort()).toEqual(['a', 'c', 'host']);
    expect(swept.floor.hands).toEqual(['c']);
    const view = viewFor(swept, 'host')!;
    expect([...view.members!, ...view.facilitation!.everyone].map((m) => m.id)).not.toContain('b');
  });

  it('frees the holder of a paused round turn and moves the stick on', () => {
    const started = run(room(), by('host', { type: 'round.start', order: ['a', 'b', 'c'], turnSeconds: 60, onTimeout: 'pass' }, T));
    const away = disconnectSeat('a', 'a@0', T + 1000)(started);
    const swept = sweepSeats({ now: T + 1000 + GRACE, graceMs: GRACE, liveNodes: new Set(['node-a']) })(away);
    expect(swept.floor).toMatchObject({ holder: 'b', round: { order: ['b', 'c'], position: 0 }, turnPausedMs: null });
    expect(swept.floor.turnEndsAt).toBe(T + 1000 + GRACE + 60_000);
  });

  it('marks away the seats held through a dead node, from now, and forgets their producers', () => {
    const sending = run(room(), putProducer('a', { id: 'pa', kind: 'audio', source: 'mic', paused: false }));
    const moved = resumeSeat('c', 'c#0', conn('c', 1, 'node-b'), T)(sending);
    const swept = sweepSeats({ now: T + 7000, graceMs: GRACE, liveNodes: new Set(['node-b']) })(moved);
    for (const id of ['host', 'a', 'b']) expect(swept.members[id]).toMatchObject({ connectionId: null, offlineSince: T + 7000, producers: {} });
    expect(swept.members['c']).toEqual(moved.members['c']);
    // Their seats are then kept for the grace period like any other.
    expect(Object.keys(sweepSeats({ now: T + 7000 + GRACE - 1, graceMs: GRACE, liveNodes: new Set(['node-b']) })(swept).members)).toHaveLength(4);
  });

  it('marks away a seat this node serves through a connection no longer open here (its disconnect was never stored)', () => {
    const state = room();
    const open = new Set(['host@0', 'a@0', 'c@0']);
    const swept = sweepSeats({ now: T + 5, graceMs: GRACE, liveNodes: new Set(['node-a']), local: { node: 'node-a', connections: open } })(state);
    expect(swept.members['b']).toMatchObject({ connectionId: null, offlineSince: T + 5 });
    for (const id of ['host', 'a', 'c']) expect(swept.members[id]).toEqual(state.members[id]);
    // Another node's seats are that node's business.
    expect(sweepSeats({ now: T + 5, graceMs: GRACE, liveNodes: new Set(['node-a', 'node-b']), local: { node: 'node-b', connections: new Set() } })(state)).toBe(state);
  });

  it('clearAllProducers: a room whose media died has nobody sending', () => {
    const sending = run(room(), putProducer('a', { id: 'pa', kind: 'audio', source: 'mic', paused: false }));
    expect(Object.values(clearAllProducers(sending).members).every((m) => Object.keys(m.producers).length === 0)).toBe(true);
    const silent = room();
    expect(clearAllProducers(silent)).toBe(silent);
  });
});

describe('a dropped connection at the entry agreement', () => {
  const acknowledge = (id: string): RoomChange => (s) => by(id, { type: 'agreement.acknowledge', version: s.agreement.version, privateSpace: true })(s);

  it('frees the seat at once: it holds only a place on the way in', () => {
    const state = deepFreeze(run(room(), arrive('r')));
    const next = dropSeat('r', 'r@0', T + 1)(state);
    expect(next.members['r']).toBeUndefined();
    expect(Object.keys(next.members)).toEqual(Object.keys(room().members));
    // Its credential finds nothing: the page starts again with its link.
    expectRefused(next, resumeSeat('r', 'r#0', conn('r', 1), T + 2), 'FORBIDDEN');
  });

  it('keeps every other seat, away, for the grace period: waiting, sent back to re-read, in the room', () => {
    const waiting = deepFreeze(run(room(), arrive('w'), acknowledge('w')));
    expect(dropSeat('w', 'w@0', T + 1)(waiting).members['w']).toMatchObject({ stage: 'waiting', connectionId: null, offlineSince: T + 1 });
    // Sent back from the waiting room to read a changed text: they had agreed, and kept their place in line.
    const sentBack = deepFreeze(by('host', { type: 'agreement.set', text: 'Be kinder.' })(waiting));
    expect(sentBack.members['w']!.stage).toBe('agreement');
    expect(dropSeat('w', 'w@0', T + 1)(sentBack).members['w']).toMatchObject({ connectionId: null, offlineSince: T + 1 });
    expect(dropSeat('a', 'a@0', T + 1)(sentBack).members['a']).toMatchObject({ stage: 'admitted', connectionId: null });
  });

  it('changes nothing when another connection holds the seat now (a resume won the race)', () => {
    const resumed = deepFreeze(run(room(), arrive('r'), resumeSeat('r', 'r#0', conn('r', 1), T)));
    expect(dropSeat('r', 'r@0', T + 1)(resumed)).toBe(resumed);
    expect(dropSeat('gone', 'gone@0', T + 1)(resumed)).toBe(resumed);
  });

  it('is what a sweep does for a seat whose connection closed here unseen', () => {
    const state = deepFreeze(run(room(), arrive('r'), arrive('w'), acknowledge('w')));
    const swept = sweepSeats({ now: T + 1, graceMs: GRACE, liveNodes: new Set(['node-a']), local: { node: 'node-a', connections: new Set(['host@0', 'a@0', 'b@0', 'c@0']) } })(state);
    expect(swept.members['r']).toBeUndefined();
    expect(swept.members['w']).toMatchObject({ connectionId: null, offlineSince: T + 1 });
  });
});
