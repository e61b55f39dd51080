import { commandTypes, OPEN_FLOOR, ProtocolFailure, Role, type Command, type CommandType, type Floor } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { actorState, authorisation, authorise, isAllowed, type ActorState, type Authorised } from './authorisation.js';
import { asideHandlers } from './aside-commands.js';
import { checkoutHandlers } from './checkout-commands.js';
import { applyCommand } from './commands.js';
import { enter, leave } from './entry.js';
import { floorHandlers } from './floor-commands.js';
import type { Handler } from './handler.js';
import { mutingHandlers } from './muting-commands.js';
import { putProducer } from './producers.js';
import { shareHandlers } from './share-commands.js';
import { newRoom, withMember, type RoomChange, type RoomState } from './state.js';
import { deepFreeze } from './rules.test-support.js';

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
  lobby.clear             . . Y .       . . Y .         . . . .
  session.end             . . Y .       . . Y .         . . . .
  floor.setMode           . . Y .       . . Y .         . . . .
  floor.grant             . . Y .       . . Y .         . . . .
  floor.release           Y . Y .       Y . Y .         Y . Y .
  hand.raise              . . . .       . . . .         . . Y .
  hand.lower              Y . Y .       Y . Y .         Y . Y .
  hands.move              . . Y .       . . Y .         . . . .
  hands.clear             . . Y .       . . Y .         . . . .
  round.start             . . Y .       . . Y .         . . . .
  round.pass              Y . Y .       Y . Y .         Y . Y .
  round.end               . . Y .       . . Y .         . . . .
  member.mute             . . Y .       . . Y .         . . . .
  member.muteAll          . . Y .       . . Y .         . . . .
  member.ask              . . Y .       . . Y .         . . . .
  ask.answer              . . . .       . . . .         . . Y .
  share.ask               . . . .       . . . .         . . Y .
  share.grant             . . Y .       . . Y .         . . . .
  share.revoke            . . Y .       . . Y .         . . . .
  share.stop              . . Y .       . . Y .         . . . .
  share.setPolicy         . . Y .       . . Y .         . . . .
  checkout.start          . . Y .       . . Y .         . . . .
  checkout.end            . . Y .       . . Y .         . . . .
  aside.start             . . Y .       . . Y .         . . . .
  aside.end               Y . Y .       Y . Y .         Y . Y .
  screen.publish          . . Y .       . . Y .         . . Y .
`;

/**
 * What members may do: acknowledge, act on their own hand, turn and asks, ask to share, end
 * their own aside, and publish a screen (the table's 'screen.publish' row: the grant is checked
 * after it, see below).
 */
const MEMBER_COMMANDS: readonly Authorised[] = ['agreement.acknowledge', 'floor.release', 'hand.raise', 'hand.lower', 'round.pass', 'ask.answer', 'share.ask', 'aside.end', 'screen.publish'];
/** Every row of the table: the commands and the screen pseudo-command. */
const ROWS: readonly Authorised[] = [...commandTypes, 'screen.publish'];

const ROLES = Role.options;
const STATES: readonly ActorState[] = ['unacknowledged', 'waiting', 'admitted', 'absent'];

function parseExpected(text: string): Map<Authorised, Map<Role, Set<ActorState>>> {
  const rows = text
    .trim()
    .split('\n')
    .slice(2)
    .map((line) => line.trim().split(/\s+/));
  const table = new Map<Authorised, Map<Role, Set<ActorState>>>();
  for (const [type, ...cells] of rows) {
    expect(cells, `row ${type}`).toHaveLength(ROLES.length * STATES.length);
    const byRole = new Map<Role, Set<ActorState>>();
    ROLES.forEach((role, r) => {
      byRole.set(role, new Set(STATES.filter((_, s) => cells[r * STATES.length + s] === 'Y')));
    });
    table.set(type as Authorised, byRole);
  }
  return table;
}

const expected = parseExpected(EXPECTED);
const expectAllowed = (type: Authorised, role: Role, where: ActorState): boolean => expected.get(type)!.get(role)!.has(where);

// ---------------------------------------------------------------------------------------
// Building a state with the actor in a given place.

const ACTOR = 'actor';
const HOST = 'host'; // the facilitator who runs the room, always present
const WAITER = 'waiter'; // a member in the waiting room: the target of member.admit
const INROOM = 'inroom'; // an admitted member: the target of member.remove, member.setRole and the floor and muting commands
const OTHER = 'other'; // another admitted member, so that a queue or round has two people
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
      connectionId: ACTOR,
      node: null,
      offlineSince: null,
      resumeNonce: '',
      previousNonce: null,
      heldOff: [],
      asked: [],
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

/** The room: its facilitator, then the actor, then a waiting and two admitted members as targets. */
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
    arrive(OTHER, 'member'),
    acknowledge(OTHER),
    byHost({ type: 'member.admit', memberId: OTHER }),
  );
}

/** The actor is a member (not a facilitator) in the state: they have a hand, a turn and asks. */
const actorIsMember = (state: RoomState): boolean => state.members[ACTOR]?.role === 'member';

const floorOf = (patch: Partial<Floor>): Floor => ({ ...OPEN_FLOOR, turn: 1, ...patch });

/**
 * Set the room up so that the command, once past the table, would be applied and change the
 * state: the right floor mode, the actor's hand raised or turn taken, an ask pending. The
 * floor is set by hand (as it is for any actor who is present, even one the rules would not
 * let raise a hand), so that a refusal can only come from the table; for actors the table
 * allows, the same floors are reachable through the rules.
 */
function prepare(type: CommandType, state: RoomState): RoomState {
  const present = state.members[ACTOR] !== undefined;
  const mine = present && actorIsMember(state);
  const withFloor = (floor: Floor): RoomState => ({ ...state, floor });
  switch (type) {
    case 'floor.grant':
      return withFloor(floorOf({ mode: 'hands', hands: [INROOM] }));
    case 'floor.release':
      return withFloor(floorOf({ mode: 'hands', holder: mine ? ACTOR : INROOM, turnStartedAt: T }));
    case 'hand.raise':
      return withFloor(floorOf({ mode: 'hands' }));
    case 'hand.lower':
      return withFloor(floorOf({ mode: 'hands', hands: mine ? [INROOM, ACTOR] : [INROOM] }));
    case 'hands.move':
    case 'hands.clear':
      return withFloor(floorOf({ mode: 'hands', hands: [INROOM, OTHER] }));
    case 'round.pass':
    case 'round.end': {
      const order = mine ? [ACTOR, INROOM] : [INROOM, OTHER];
      return withFloor(floorOf({ mode: 'round', holder: order[0]!, round: { order, position: 0, turnSeconds: null, onTimeout: 'warn' } }));
    }
    case 'member.ask':
      return byHost({ type: 'member.mute', memberId: INROOM, source: 'mic' })(state);
    case 'share.revoke':
      return byHost({ type: 'share.grant', memberId: INROOM })(state);
    case 'share.stop':
      return run(state, byHost({ type: 'share.grant', memberId: INROOM }), putProducer(INROOM, { id: 'inroom-screen', kind: 'video', source: 'screen', paused: false }));
    case 'checkout.end':
      return byHost({ type: 'checkout.start' })(state);
    case 'aside.end':
      // By hand, as the floor is: a member the rules would not take aside (at the agreement) is in it.
      return { ...state, aside: { facilitatorId: HOST, memberId: mine ? ACTOR : INROOM, startedAt: T } };
    case 'ask.answer': {
      // A member's hold and ask come through the rules; a facilitator can have neither, so by hand.
      if (mine) return run(state, byHost({ type: 'member.mute', memberId: ACTOR, source: 'mic' }), byHost({ type: 'member.ask', memberId: ACTOR, source: 'mic' }));
      const actor = state.members[ACTOR];
      return actor ? withMember(state, { ...actor, heldOff: ['mic'], asked: ['mic'] }) : state;
    }
    default:
      return state;
  }
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
    case 'lobby.clear':
      return { type, waiting: true };
    case 'session.end':
      return { type };
    case 'floor.setMode':
      return { type, mode: 'hands' };
    case 'floor.grant':
      return { type, memberId: INROOM };
    case 'floor.release':
      return { type };
    case 'hand.raise':
      return { type };
    case 'hand.lower':
      // A member lowers their own hand; a facilitator lowers someone else's.
      return actorIsMember(state) ? { type } : { type, memberId: INROOM };
    case 'hands.move':
      return { type, memberId: INROOM, to: 1 };
    case 'hands.clear':
      return { type };
    case 'round.start':
      return { type, order: null, turnSeconds: 60, onTimeout: 'pass' };
    case 'round.pass':
      return { type };
    case 'round.end':
      return { type };
    case 'member.mute':
      return { type, memberId: INROOM, source: 'mic' };
    case 'member.muteAll':
      return { type, except: null };
    case 'member.ask':
      return { type, memberId: INROOM, source: 'mic' };
    case 'ask.answer':
      return { type, source: 'mic', accept: true };
    case 'share.ask':
      return { type, asking: true };
    case 'share.grant':
    case 'share.revoke':
    case 'share.stop':
    case 'aside.start':
      return { type, memberId: INROOM };
    case 'share.setPolicy':
      return { type, maxShares: 2, allowWholeScreen: true };
    case 'checkout.start':
    case 'checkout.end':
    case 'aside.end':
      return { type };
  }
}

/** The turn-taking, muting, share, check-out and aside handlers, to check that a refusal is the table's and not theirs. */
const floorAndMuting: Partial<Record<CommandType, Handler<CommandType>>> = {
  ...floorHandlers,
  ...mutingHandlers,
  ...shareHandlers,
  ...checkoutHandlers,
  ...asideHandlers,
} as Partial<Record<CommandType, Handler<CommandType>>>;

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
    expect(Object.keys(authorisation).sort()).toEqual([...ROWS].sort());
    expect([...expected.keys()].sort()).toEqual([...ROWS].sort());
    for (const type of ROWS) {
      const grant = authorisation[type];
      for (const role of ROLES) {
        const actual = new Set(STATES.filter((where) => grant.roles.includes(role) && grant.states.includes(where)));
        expect([...actual], `${type} for ${role}`).toEqual([...expected.get(type)!.get(role)!]);
      }
    }
  });

  it('never grants anything to someone who is absent, nor to members anything but acknowledging and their own hand, turn and asks', () => {
    for (const type of ROWS) {
      expect(authorisation[type].states).not.toContain('absent');
      if (!MEMBER_COMMANDS.includes(type)) expect(authorisation[type].roles, type).not.toContain('member');
    }
    for (const type of MEMBER_COMMANDS) expect(authorisation[type].roles, type).toContain('member');
  });

  it('grants the turn-taking and muting commands only to people in the room', () => {
    // Letting go of a hand, the floor or a turn is also open to someone re-reading the agreement.
    // So is ending an aside (the member in it may have been sent back to a changed agreement).
    const lettingGo: Authorised[] = ['floor.release', 'hand.lower', 'round.pass', 'aside.end'];
    for (const type of ROWS) {
      if (type === 'agreement.acknowledge') continue;
      expect(authorisation[type].states, type).toEqual(lettingGo.includes(type) ? ['admitted', 'unacknowledged'] : ['admitted']);
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
      const state = deepFreeze(prepare(type, build(scenario)));
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
        // Turn-taking and muting: past the table, the handler would have applied it, so the
        // refusal is the table's (someone absent has no hand, turn or ask to act on).
        const handler = floorAndMuting[type];
        if (handler && scenario.where !== 'absent') expect(handler(state, ACTOR, command, T + 1)).not.toBe(state);
      }
    });
  });
});

describe('screen.publish: the table’s row, then the grant (putProducer with a screen)', () => {
  const screen = { id: 'actor-screen', kind: 'video', source: 'screen', paused: false } as const;

  describe.each(scenarios.map((s) => [`${s.role} ${s.place}`, s] as const))('by a %s', (_label, scenario) => {
    const inTable = expectAllowed('screen.publish', scenario.role, scenario.where);

    it('is recorded only where the table allows it, and for a member only with a grant', () => {
      const state = deepFreeze(build(scenario));
      expect(isAllowed(state, ACTOR, 'screen.publish')).toBe(inTable);
      const member = scenario.role === 'member';
      const error = thrown(() => putProducer(ACTOR, screen)(state));
      if (inTable && !member) {
        expect(error).toBeUndefined();
      } else {
        expect(error).toBeInstanceOf(ProtocolFailure);
        expect((error as ProtocolFailure).code).toBe(scenario.where === 'absent' ? 'NOT_FOUND' : 'FORBIDDEN');
      }
      if (!member || scenario.where === 'absent' || scenario.where === 'waiting') return;
      // A grant (given while they were in the room) makes it the table's answer alone.
      const granted = deepFreeze({ ...state, share: { maxShares: 1, allowWholeScreen: false, granted: [ACTOR], asking: [] } } satisfies RoomState);
      const grantedError = thrown(() => putProducer(ACTOR, screen)(granted));
      if (inTable) expect(grantedError).toBeUndefined();
      else expect((grantedError as ProtocolFailure).code).toBe('FORBIDDEN');
    });
  });
});

describe('authorisation comes first', () => {
  const base = build(scenarios.find((s) => s.role === 'member' && s.where === 'admitted')!);

  it('refuses a forbidden command with FORBIDDEN even when its target or version is bad', () => {
    const state = deepFreeze(base);
    const commands: Command[] = [
      { type: 'member.admit', memberId: 'nobody' },
      { type: 'member.remove', memberId: HOST, block: true },
      { type: 'member.setRole', memberId: 'nobody', role: 'member' },
      { type: 'agreement.acknowledge', version: 'wrong', privateSpace: true },
      { type: 'floor.grant', memberId: 'nobody' },
      { type: 'floor.setMode', mode: 'open' }, // already open: would be a no-op
      { type: 'hands.move', memberId: 'nobody', to: 0 },
      { type: 'round.start', order: ['nobody', 'nobody'], turnSeconds: null, onTimeout: 'warn' },
      { type: 'round.end' }, // no round going on
      { type: 'member.mute', memberId: HOST, source: 'mic' },
      { type: 'member.ask', memberId: 'nobody', source: 'camera' },
      { type: 'share.grant', memberId: 'nobody' },
      { type: 'share.stop', memberId: HOST },
      { type: 'share.setPolicy', maxShares: 1, allowWholeScreen: false }, // already so: would be a no-op
      { type: 'checkout.end' }, // none open
      { type: 'aside.start', memberId: ACTOR },
    ];
    for (const command of commands) {
      const error = thrown(() => applyCommand(ACTOR, command)(state));
      expect((error as ProtocolFailure).code, command.type).toBe('FORBIDDEN');
    }
    const ghost = thrown(() => applyCommand('ghost', { type: 'agreement.acknowledge', version: 'wrong', privateSpace: true })(state));
    expect((ghost as ProtocolFailure).code).toBe('FORBIDDEN');
    // A member's own turn-taking commands in the wrong mode, by someone waiting: still the table first.
    const waiting = thrown(() => applyCommand(WAITER, { type: 'round.pass' })(state));
    expect((waiting as ProtocolFailure).code).toBe('FORBIDDEN');
    const unasked = thrown(() => applyCommand(WAITER, { type: 'ask.answer', source: 'mic', accept: true })(state));
    expect((unasked as ProtocolFailure).code).toBe('FORBIDDEN');
  });

  it('but an ended session is NOT_FOUND for everyone, whatever the command', () => {
    for (const type of commandTypes) {
      // Set up so that the command would be applied, then the session ends.
      const ended = deepFreeze(byHost({ type: 'session.end' })(prepare(type, base)));
      const live = { ...ended, ended: false };
      const someone = [ACTOR, HOST].find((id) => isAllowed(live, id, type));
      if (someone) expect(applyCommand(someone, commandFor(type, live), T + 1)(live), `${type} by ${someone}, before the end`).not.toBe(live);
      else expect(type).toBe('agreement.acknowledge'); // nobody here needs to acknowledge
      for (const who of [HOST, ACTOR, WAITER, 'ghost']) {
        // But for a facilitator ending it again: how an ending not carried out is finished (unchanged).
        if (type === 'session.end' && isAllowed(ended, who, type)) {
          expect(applyCommand(who, commandFor(type, ended))(ended), `${type} by ${who}`).toBe(ended);
          continue;
        }
        const error = thrown(() => applyCommand(who, commandFor(type, ended))(ended));
        expect((error as ProtocolFailure).code, `${type} by ${who}`).toBe('NOT_FOUND');
      }
    }
  });
});
