import { commandTypes, ProtocolFailure, Role, type Command, type CommandType } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { actorState, authorisation, authorise, isAllowed, type ActorState } from './authorisation.js';
import { applyCommand } from './commands.js';
import { enter, leave } from './entry.js';
import { newRoom, withMember, type RoomChange, type RoomState } from './state.js';

/*
 * The authorisation table, exhaustively: every command × role × actor state, with a real
 * state holding such an actor, checked through `applyCommand` (the path the server uses).
 */

/**
 * The expected table, as people read it. Columns: for each role, the actor states
 * U = unacknowledged (at the agreement, or admitted with an old acknowledgement),
 * W = waiting, A = admitted, X = absent (left, removed or never entered).
 * Y = allowed, . = refused with FORBIDDEN. Changing the table means changing this.
 */
const EXPECTED = `
                          facilitator   cofacilitator   member
                          U W A X       U W A X         U W A X
  agreement.acknowledge   . . . .       . . . .         Y . . .
  agreement.set           . . Y .       . . Y .         . . . .
  member.admit            . . Y .       . . Y .         . . . .
  member.admitAll         . . Y .       . . Y .         . . . .
  member.remove           . . Y .       . . Y .         . . . .
  member.setRole          . . Y .       . . Y .         . . . .
  room.setAutoAdmit       . . Y .       . . Y .         . . . .
  room.setLocked          . . Y .       . . Y .         . . . .
  session.end             . . Y .       . . Y .         . . . .
`;

const ROLES = Role.options;
const STATES: readonly ActorState[] = ['unacknowledged', 'waiting', 'admitted', 'absent'];

function parseExpected(text: string): Map<CommandType, Map<Role, Set<ActorState>>> {
  const rows = text
    .trim()
    .split('\n')
    .slice(2)
    .map((line) => line.trim().split(/\s+/));
  const table = new Map<CommandType, Map<Role, Set<ActorState>>>();
  for (const [type, ...cells] of rows) {
    expect(cells, `row ${type}`).toHaveLength(ROLES.length * STATES.length);
    const byRole = new Map<Role, Set<ActorState>>();
    ROLES.forEach((role, r) => {
      byRole.set(role, new Set(STATES.filter((_, s) => cells[r * STATES.length + s] === 'Y')));
    });
    table.set(type as CommandType, byRole);
  }
  return table;
}

const expected = parseExpected(EXPECTED);
const expectAllowed = (type: CommandType, role: Role, where: ActorState): boolean => expected.get(type)!.get(role)!.has(where);

// ---------------------------------------------------------------------------------------
// Building a state with the actor in a given place.

const ACTOR = 'actor';
const HOST = 'host'; // the facilitator who runs the room, always present
const WAITER = 'waiter'; // a member in the waiting room: the target of member.admit
const INROOM = 'inroom'; // an admitted member: the target of member.remove and member.setRole
const T = 10_000;

const run = (state: RoomState, ...changes: RoomChange[]): RoomState => changes.reduce((s, change) => change(s), state);
const arrive = (id: string, role: Role): RoomChange =>
  enter({ id, displayName: `Name of ${id}`, role, inviteId: role === 'member' ? `invite-${id}` : null }, T);
const acknowledge =
  (id: string): RoomChange =>
  (state) =>
    applyCommand(id, { type: 'agreement.acknowledge', version: state.agreement.version, privateSpace: true }, T)(state);
const byHost = (command: Command): RoomChange => applyCommand(HOST, command, T);

/** A hand-made actor, for places the rules never put someone of this role. */
const placed =
  (role: Role, stage: 'agreement' | 'waiting' | 'admitted', acknowledgedVersion: string | null): RoomChange =>
  (state) =>
    withMember(state, {
      id: ACTOR,
      displayName: 'Name of actor',
      role,
      stage,
      acknowledgedVersion,
      inviteId: null,
      enteredAt: T,
      producers: {},
    });

const promoted = (): RoomChange[] => [arrive(ACTOR, 'member'), acknowledge(ACTOR), byHost({ type: 'member.admit', memberId: ACTOR }), byHost({ type: 'member.setRole', memberId: ACTOR, role: 'cofacilitator' })];

interface Scenario {
  role: Role;
  /** How the actor got where they are. */
  place: string;
  /** The actor state the table sees. */
  where: ActorState;
  /** The rules can put someone there (otherwise the state is made by hand). */
  reachable: boolean;
  changes: RoomChange[];
}

const scenarios: Scenario[] = [
  // Members: every place is reachable through the rules.
  { role: 'member', place: 'at the agreement', where: 'unacknowledged', reachable: true, changes: [arrive(ACTOR, 'member')] },
  {
    role: 'member',
    place: 'admitted, then the agreement changed',
    where: 'unacknowledged',
    reachable: true,
    changes: [arrive(ACTOR, 'member'), acknowledge(ACTOR), byHost({ type: 'member.admit', memberId: ACTOR }), byHost({ type: 'agreement.set', text: 'A revised agreement.' })],
  },
  { role: 'member', place: 'waiting', where: 'waiting', reachable: true, changes: [arrive(ACTOR, 'member'), acknowledge(ACTOR)] },
  { role: 'member', place: 'admitted', where: 'admitted', reachable: true, changes: [arrive(ACTOR, 'member'), acknowledge(ACTOR), byHost({ type: 'member.admit', memberId: ACTOR })] },
  { role: 'member', place: 'left', where: 'absent', reachable: true, changes: [arrive(ACTOR, 'member'), leave(ACTOR)] },
  { role: 'member', place: 'removed', where: 'absent', reachable: true, changes: [arrive(ACTOR, 'member'), byHost({ type: 'member.remove', memberId: ACTOR, block: false })] },
  { role: 'member', place: 'never entered', where: 'absent', reachable: true, changes: [] },

  // Cofacilitators: promoted from admitted members; other places only by hand.
  { role: 'cofacilitator', place: 'promoted', where: 'admitted', reachable: true, changes: promoted() },
  {
    role: 'cofacilitator',
    place: 'promoted, then the agreement changed',
    where: 'admitted',
    reachable: true,
    changes: [...promoted(), byHost({ type: 'agreement.set', text: 'A revised agreement.' })],
  },
  { role: 'cofacilitator', place: 'promoted, then left', where: 'absent', reachable: true, changes: [...promoted(), leave(ACTOR)] },
  { role: 'cofacilitator', place: 'promoted, then removed', where: 'absent', reachable: true, changes: [...promoted(), byHost({ type: 'member.remove', memberId: ACTOR, block: true })] },
  { role: 'cofacilitator', place: 'never entered', where: 'absent', reachable: true, changes: [] },
  { role: 'cofacilitator', place: 'placed at the agreement (by hand)', where: 'waiting', reachable: false, changes: [placed('cofacilitator', 'agreement', null)] },
  { role: 'cofacilitator', place: 'placed in the waiting room (by hand)', where: 'waiting', reachable: false, changes: [placed('cofacilitator', 'waiting', null)] },

  // Facilitators: enter admitted; other places only by hand.
  { role: 'facilitator', place: 'entered', where: 'admitted', reachable: true, changes: [arrive(ACTOR, 'facilitator')] },
  {
    role: 'facilitator',
    place: 'entered, then the agreement changed',
    where: 'admitted',
    reachable: true,
    changes: [arrive(ACTOR, 'facilitator'), byHost({ type: 'agreement.set', text: 'A revised agreement.' })],
  },
  { role: 'facilitator', place: 'left', where: 'absent', reachable: true, changes: [arrive(ACTOR, 'facilitator'), leave(ACTOR)] },
  { role: 'facilitator', place: 'never entered', where: 'absent', reachable: true, changes: [] },
  { role: 'facilitator', place: 'placed at the agreement (by hand)', where: 'waiting', reachable: false, changes: [placed('facilitator', 'agreement', null)] },
  { role: 'facilitator', place: 'placed in the waiting room (by hand)', where: 'waiting', reachable: false, changes: [placed('facilitator', 'waiting', null)] },
  { role: 'facilitator', place: 'placed admitted with an old acknowledgement (by hand)', where: 'admitted', reachable: false, changes: [placed('facilitator', 'admitted', 'old-version')] },
];

/** The room: its facilitator, then the actor, then a waiting and an admitted member as targets. */
function build(scenario: Scenario): RoomState {
  const start = newRoom({ id: 'authorisation-room', capacity: 16, title: 'Group', agreement: 'Be kind.', startsAt: 0, durationMinutes: 90 }, 0);
  return run(
    start,
    arrive(HOST, 'facilitator'),
    ...scenario.changes,
    arrive(WAITER, 'member'),
    acknowledge(WAITER),
    arrive(INROOM, 'member'),
    acknowledge(INROOM),
    byHost({ type: 'member.admit', memberId: INROOM }),
  );
}

/** A valid command of each type for this state: when the table allows it, the handler accepts it. */
function commandFor(type: CommandType, state: RoomState): Command {
  switch (type) {
    case 'agreement.acknowledge':
      return { type, version: state.agreement.version, privateSpace: true };
    case 'agreement.set':
      return { type, text: 'A third version of the agreement.' };
    case 'member.admit':
      return { type, memberId: WAITER };
    case 'member.admitAll':
      return { type };
    case 'member.remove':
      return { type, memberId: INROOM, block: true };
    case 'member.setRole':
      return { type, memberId: INROOM, role: 'cofacilitator' };
    case 'room.setAutoAdmit':
      return { type, enabled: true };
    case 'room.setLocked':
      return { type, locked: true };
    case 'session.end':
      return { type };
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------

describe('the authorisation table', () => {
  it('is exactly the expected matrix', () => {
    expect(Object.keys(authorisation).sort()).toEqual([...commandTypes].sort());
    expect([...expected.keys()].sort()).toEqual([...commandTypes].sort());
    for (const type of commandTypes) {
      const grant = authorisation[type];
      for (const role of ROLES) {
        const actual = new Set(STATES.filter((where) => grant.roles.includes(role) && grant.states.includes(where)));
        expect([...actual], `${type} for ${role}`).toEqual([...expected.get(type)!.get(role)!]);
      }
    }
  });

  it('never grants anything to someone who is absent, nor anything but acknowledging to members', () => {
    for (const type of commandTypes) {
      expect(authorisation[type].states).not.toContain('absent');
      if (type !== 'agreement.acknowledge') expect(authorisation[type].roles).not.toContain('member');
    }
  });
});

describe('actorState', () => {
  it.each(scenarios.map((s) => [s.role, s.place, s] as const))('a %s %s', (_role, _place, scenario) => {
    expect(actorState(build(scenario), ACTOR)).toBe(scenario.where);
  });

  it('covers every role × state the rules can produce, and facilitator roles are never unacknowledged', () => {
    for (const role of ROLES) {
      const reachable = new Set(scenarios.filter((s) => s.role === role && s.reachable).map((s) => s.where));
      const all = new Set(scenarios.filter((s) => s.role === role).map((s) => s.where));
      if (role === 'member') {
        expect([...reachable].sort()).toEqual([...STATES].sort());
      } else {
        // Nobody in a facilitator role needs to acknowledge: even placed at the agreement by
        // hand they count as waiting, so "unacknowledged" is empty for them.
        expect(all.has('unacknowledged')).toBe(false);
        expect([...all].sort()).toEqual(['absent', 'admitted', 'waiting']);
      }
    }
  });
});

describe.each(commandTypes)('%s', (type) => {
  describe.each(scenarios.map((s) => [`${s.role} ${s.place}`, s] as const))('by a %s', (_label, scenario) => {
    const allowed = expectAllowed(type, scenario.role, scenario.where);

    it(allowed ? 'is allowed and applied' : 'is refused with FORBIDDEN and changes nothing', () => {
      const state = deepFreeze(build(scenario));
      const before = structuredClone(state);
      const command = commandFor(type, state);
      expect(isAllowed(state, ACTOR, type)).toBe(allowed);

      if (allowed) {
        const next = applyCommand(ACTOR, command, T + 1)(state);
        expect(next).not.toBe(state);
        expect(state).toEqual(before); // the input is never mutated (it is frozen, too)
        expect(() => authorise(state, ACTOR, type)).not.toThrow();
      } else {
        const error = thrown(() => applyCommand(ACTOR, command, T + 1)(state));
        expect(error).toBeInstanceOf(ProtocolFailure);
        expect((error as ProtocolFailure).code).toBe('FORBIDDEN');
        expect((error as ProtocolFailure).message).toBe(scenario.where === 'absent' ? 'You are not in this room' : 'You may not do that here');
        expect(state).toEqual(before);
      }
    });
  });
});

describe('authorisation comes first', () => {
  const base = build(scenarios.find((s) => s.role === 'member' && s.where === 'admitted')!);

  it('refuses a forbidden command with FORBIDDEN even when its target or version is bad', () => {
    const state = deepFreeze(base);
    for (const command of [
      { type: 'member.admit', memberId: 'nobody' },
      { type: 'member.remove', memberId: HOST, block: true },
      { type: 'member.setRole', memberId: 'nobody', role: 'member' },
      { type: 'agreement.acknowledge', version: 'wrong', privateSpace: true },
    ] as const) {
      const error = thrown(() => applyCommand(ACTOR, command)(state));
      expect((error as ProtocolFailure).code, command.type).toBe('FORBIDDEN');
    }
    const ghost = thrown(() => applyCommand('ghost', { type: 'agreement.acknowledge', version: 'wrong', privateSpace: true })(state));
    expect((ghost as ProtocolFailure).code).toBe('FORBIDDEN');
  });

  it('but an ended session is NOT_FOUND for everyone, whatever the command', () => {
    const ended = deepFreeze(byHost({ type: 'session.end' })(base));
    for (const type of commandTypes) {
      for (const who of [HOST, ACTOR, WAITER, 'ghost']) {
        const error = thrown(() => applyCommand(who, commandFor(type, ended))(ended));
        expect((error as ProtocolFailure).code, `${type} by ${who}`).toBe('NOT_FOUND');
      }
    }
  });
});
