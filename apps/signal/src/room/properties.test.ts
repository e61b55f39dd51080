import { randomUUID } from 'node:crypto';
import {
  commandTypes,
  isFacilitatorRole,
  ProtocolFailure,
  RoomView,
  type Command,
  type CommandType,
  type DeviceSource,
  type ErrorCode,
} from '@group-room/shared';
import fc from 'fast-check';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { MemoryRoomStore } from '../store/memory-room-store.js';
import { RedisRoomStore } from '../store/redis-room-store.js';
import { fixedTtl, type RoomStore } from '../store/room-store.js';
import { actorState, isAllowed } from './authorisation.js';
import { admittedCount, lobbyCount, sharedLinkBound, type EntryLimits } from './capacity.js';
import { markCheckedOut } from './checkout-commands.js';
import { applyCommand } from './commands.js';
import { enter, leave } from './entry.js';
import { expireTurn } from './floor-commands.js';
import { putProducer, removeProducer, setProducerPaused } from './producers.js';
import { atEntryAgreement, dropSeat, resumeSeat, sweepSeats } from './seats.js';
import { viewFor } from './projection.js';
import { agreementVersion, maySend, mediaAllowed, mediaPolicy, membersInOrder, newRoom, screenProducerIds, shareOf, type RoomChange, type RoomState } from './state.js';
import { deepFreeze } from './rules.test-support.js';

/*
 * Property tests: random sequences of entries, leaves, commands by anyone (allowed or not),
 * producer changes and turn time-outs, applied through the rules as the server applies them.
 * Refused steps must leave the state exactly as it was; after every step the room's
 * invariants (who is in, who sees what, who holds the floor, who may send) must hold. The
 * same sequences then run through both stores, and conflicting commands run concurrently
 * through two Redis connections (two signalling nodes).
 */

// ---------------------------------------------------------------------------------------
// The model: steps, and how each becomes a pure change.

const CAPACITY = 6;
const TEXTS = ['The first agreement.', 'A second agreement.', 'A third agreement.'] as const;
const INITIAL_VERSION = agreementVersion(TEXTS[0]);
const INVITES = ['inv-0', 'inv-1', 'inv-2'] as const;
/** Where people enter from (address keys; entries written out by hand have none), and the limits on the way in. */
const ADDRESSES = 3;
const WAY_IN: EntryLimits = { perAddress: 3, perInvite: 4, reserved: 2 };
const T0 = 1_700_000_000_000;
const GHOST = 'ghost';
/** Seats: the grace period, and the two signalling nodes people connect through. */
const GRACE_MS = 120_000;
const NODES = ['node-a', 'node-b'] as const;
const LIVE: readonly (readonly string[])[] = [NODES, ['node-a'], ['node-b']];

/**
 * Who acts: anyone (including people who left and a ghost), or someone picked from the
 * state: a facilitator, someone who must acknowledge, or "own": the person whose hand, turn
 * or ask the command is about (see OWN), so that members' own commands also succeed.
 */
type ActorPick = 'anyone' | 'facilitator' | 'unacknowledged' | 'own';
/** Whom a command is about: anyone, or someone other than a facilitator at a given stage, in the hand queue, or granted a share or sharing. */
type TargetPick = 'anyone' | 'agreement' | 'waiting' | 'admitted' | 'hand' | 'sharing';
/** Who "own" picks, per command: a member in the room, the floor's holder, someone asked, or the member aside. */
type OwnPick = 'member' | 'holder' | 'asked' | 'aside';
const OWN: Partial<Record<CommandType, OwnPick>> = {
  'hand.raise': 'member',
  'hand.lower': 'member',
  'floor.release': 'holder',
  'round.pass': 'holder',
  'ask.answer': 'asked',
  'share.ask': 'member',
  'aside.end': 'aside',
};

/** The commands about the floor: only these (and people leaving) move it. */
const FLOOR_COMMANDS: ReadonlySet<CommandType> = new Set<CommandType>([
  'floor.setMode',
  'floor.grant',
  'floor.release',
  'hand.raise',
  'hand.lower',
  'hands.move',
  'hands.clear',
  'round.start',
  'round.pass',
  'round.end',
]);

type CommandStep = {
  kind: 'command';
  by: ActorPick;
  who: number;
  type: CommandType;
  about: TargetPick;
  target: number;
  text: number;
  version: 'current' | 'initial' | 'garbage';
  flag: boolean;
  source: DeviceSource;
  /** round.start: everyone in order of arrival (null), some of the people in the room, or a bad order. */
  order: 'arrival' | 'picked' | 'bad';
  turnSeconds: number | null;
  /** hands.move: where to. */
  to: number;
};

type Step =
  /** `owner`: a facilitator link with the session's owner key. */
  | { kind: 'enter'; role: 'facilitator' | 'owner' | 'member'; invite: number; address?: number }
  | { kind: 'leave'; who: number }
  | CommandStep
  /** Producer 0 a microphone, 1 a camera, 2 a screen. */
  | { kind: 'producer'; who: number; op: 'put' | 'pause' | 'resume' | 'remove'; producer: number }
  /** A member's answer to the check-out (the open one, or another id), as the 'checkout:answer' request records it. */
  | { kind: 'checkout'; who: number; stale: boolean }
  /** The server's timer for a round turn: for the current turn (or a stale one), some seconds after the step's time. */
  | { kind: 'expire'; stale: boolean; after: number }
  /** A connection closes without leaving (or a stale one, whose seat was resumed elsewhere, closes late). */
  | { kind: 'drop'; who: number; stale: boolean }
  /** A resume with the seat's credential (or an old, already used one), through node a or b. */
  | { kind: 'resume'; who: number; stale: boolean; node: number }
  /** A node's seat sweep, some seconds after the step's time, with node a, b or both alive. */
  | { kind: 'sweep'; after: number; live: number };

const weighted = (entries: [CommandType, number][]): fc.Arbitrary<CommandType> =>
  fc.oneof(...entries.map(([type, weight]) => ({ weight, arbitrary: fc.constant(type) })));

/** Entry and membership commands, as they were before turn-taking. */
const ENTRY_WEIGHTS: [CommandType, number][] = [
  ['agreement.acknowledge', 16],
  ['agreement.set', 4],
  ['member.admit', 12],
  ['member.admitAll', 3],
  ['member.remove', 6],
  ['member.setRole', 6],
  ['room.setAutoAdmit', 3],
  ['room.setLocked', 4],
  ['lobby.clear', 2],
  ['session.end', 1],
];
/** Turn-taking and muting. */
const FLOOR_WEIGHTS: [CommandType, number][] = [
  ['floor.setMode', 5],
  ['floor.grant', 5],
  ['floor.release', 3],
  ['hand.raise', 8],
  ['hand.lower', 3],
  ['hands.move', 4],
  ['hands.clear', 2],
  ['round.start', 4],
  ['round.pass', 5],
  ['round.end', 2],
  ['member.mute', 4],
  ['member.muteAll', 3],
  ['member.ask', 4],
  ['ask.answer', 5],
];
/** Screen sharing, the check-out and taking aside. */
const TOOL_WEIGHTS: [CommandType, number][] = [
  ['share.ask', 4],
  ['share.grant', 5],
  ['share.revoke', 3],
  ['share.stop', 3],
  ['share.setPolicy', 3],
  ['checkout.start', 3],
  ['checkout.end', 2],
  ['aside.start', 4],
  ['aside.end', 3],
];

const who = fc.nat(23);

const commandStepArb = (types: fc.Arbitrary<CommandType>): fc.Arbitrary<CommandStep> =>
  fc
    .record({
      kind: fc.constant('command' as const),
      by: fc.constantFrom<ActorPick>('anyone', 'facilitator', 'facilitator', 'facilitator', 'unacknowledged', 'own', 'own'),
      who,
      type: types,
      about: fc.constantFrom<TargetPick>('anyone', 'agreement', 'waiting', 'waiting', 'admitted', 'admitted', 'hand'),
      target: who,
      text: fc.nat(TEXTS.length - 1),
      version: fc.constantFrom('current' as const, 'current' as const, 'current' as const, 'initial' as const, 'garbage' as const),
      flag: fc.boolean(),
      source: fc.constantFrom<DeviceSource>('mic', 'mic', 'camera'),
      order: fc.constantFrom('arrival' as const, 'arrival' as const, 'picked' as const, 'bad' as const),
      turnSeconds: fc.constantFrom(null, 15, 60),
      to: fc.nat(3),
    })
    // Mostly the right people about the right people, so that commands also succeed.
    .map((c) => ({
      ...c,
      by:
        c.type === 'agreement.acknowledge' && c.by === 'facilitator'
          ? ('unacknowledged' as const)
          : OWN[c.type] && (c.by === 'unacknowledged' || (c.by === 'facilitator' && c.who % 3 !== 0))
            ? ('own' as const)
            : c.by,
      about:
        c.type === 'member.admit' && c.about === 'agreement'
          ? ('waiting' as const)
          : c.type === 'member.setRole' && c.about !== 'anyone'
            ? ('admitted' as const)
            : (c.type === 'floor.grant' || c.type === 'hands.move' || c.type === 'hand.lower') && c.about !== 'anyone' && c.about !== 'admitted'
              ? ('hand' as const)
              : (c.type === 'share.revoke' || c.type === 'share.stop') && c.about !== 'anyone' && c.about !== 'admitted'
                ? ('sharing' as const)
              : (c.type === 'member.mute' || c.type === 'member.ask' || c.type.startsWith('share.') || c.type === 'aside.start') && (c.about === 'agreement' || c.about === 'hand')
                ? ('admitted' as const)
                : c.about,
    }));

const stepArbWith = (types: fc.Arbitrary<CommandType>, commandWeight: number, expireWeight: number): fc.Arbitrary<Step> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('enter' as const),
        role: fc.constantFrom('facilitator' as const, 'owner' as const, 'member' as const, 'member' as const, 'member' as const),
        invite: fc.nat(INVITES.length - 1),
        address: fc.nat(ADDRESSES - 1),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), who }) },
    { weight: commandWeight, arbitrary: commandStepArb(types) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('producer' as const),
        who,
        op: fc.constantFrom('put' as const, 'pause' as const, 'resume' as const, 'remove' as const),
        producer: fc.nat(2),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('checkout' as const), who, stale: fc.boolean() }) },
    {
      weight: expireWeight,
      arbitrary: fc.record({ kind: fc.constant('expire' as const), stale: fc.boolean(), after: fc.constantFrom(0, 20, 90) }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), who, stale: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('resume' as const), who, stale: fc.boolean(), node: fc.nat(1) }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('sweep' as const), after: fc.constantFrom(0, 30, 121, 600), live: fc.constantFrom(0, 0, 0, 1, 2) }),
    },
  );

/** Every kind of step, every command (turn-taking less often: it needs people in the room). */
const halved = (weights: [CommandType, number][]) => weights.map(([type, weight]): [CommandType, number] => [type, Math.ceil(weight / 2)]);
const stepArb = stepArbWith(weighted([...ENTRY_WEIGHTS, ...halved(FLOOR_WEIGHTS), ...halved(TOOL_WEIGHTS)]), 16, 1);
/** Mostly turn-taking and muting, with enough coming in to keep people in the room. */
const floorStepArb = stepArbWith(
  weighted([
    ['agreement.acknowledge', 10],
    ['member.admit', 8],
    ['member.setRole', 2],
    ['member.remove', 2],
    ['agreement.set', 1],
    ...FLOOR_WEIGHTS,
    ...TOOL_WEIGHTS,
  ]),
  20,
  3,
);

/** Mostly screen sharing, the check-out and taking aside, with screens shared and answers given. */
const toolStepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: stepArbWith(weighted([['agreement.acknowledge', 4], ['member.admit', 4], ['member.setRole', 2], ['member.remove', 1], ['agreement.set', 1], ['floor.setMode', 2], ['round.start', 1], ...TOOL_WEIGHTS]), 20, 1),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('producer' as const), who: fc.nat(5), op: fc.constantFrom('put' as const, 'put' as const, 'remove' as const), producer: fc.constant(2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('checkout' as const), who: fc.nat(5), stale: fc.constantFrom(false, false, true) }) },
);

/** A command step with the usual choices, for sequences written out by hand. */
const commandStep = (type: CommandType, by: ActorPick, about: TargetPick = 'anyone', more: Partial<CommandStep> = {}): CommandStep => ({
  kind: 'command',
  by,
  who: 0,
  type,
  about,
  target: 0,
  text: 0,
  version: 'current',
  flag: false,
  source: 'mic',
  order: 'arrival',
  turnSeconds: null,
  to: 0,
  ...more,
});

/** `n` members come in, acknowledge and are admitted by the facilitator (who must be there). */
const admitted = (n: number): Step[] => [
  ...Array.from({ length: n }, (): Step => ({ kind: 'enter', role: 'member', invite: 1 })),
  ...Array.from({ length: n }, () => commandStep('agreement.acknowledge', 'unacknowledged')),
  ...Array.from({ length: n }, () => commandStep('member.admit', 'facilitator', 'waiting')),
];

interface Planned {
  step: Step;
  label: string;
  change: RoomChange;
  /** Who acts (or enters, or leaves), given the state the step is applied to. */
  actor: (state: RoomState) => string;
  /** The command a command step sends, given the state it is applied to. */
  command?: (state: RoomState) => Command;
  inviteId?: string | null;
  /** The time the step's change runs at. */
  now: number;
}

const nameOf = (id: string) => `Name<${id}>`;

/** Admitted, acknowledged members (not facilitators): who can take the floor. */
const speakers = (state: RoomState): string[] =>
  membersInOrder(state)
    .filter((m) => m.role === 'member' && actorState(state, m.id) === 'admitted')
    .map((m) => m.id);

/**
 * Turn steps into changes. Ids are fixed by the sequence alone (the k-th entry is `p<k>`,
 * whether or not it succeeds); whom a step picks "from the state" is a pure function of the
 * state it is applied to. So a plan runs the same against the rules and against any store,
 * and a store may retry a change.
 */
function plan(steps: Step[]): { planned: Planned[]; ids: string[] } {
  const ids: string[] = [];
  const planned = steps.map((step, i): Planned => {
    const now = T0 + (i + 1) * 1000;
    const known = ids.slice();
    const anyone = (n: number) => (n % (known.length + 1) === known.length ? GHOST : known[n % (known.length + 1)]!);
    const fromState = (state: RoomState, n: number, keep: (id: string) => boolean) => {
      const candidates = membersInOrder(state)
        .map((m) => m.id)
        .filter(keep);
      return candidates.length ? candidates[n % candidates.length]! : anyone(n);
    };
    switch (step.kind) {
      case 'enter': {
        const id = `p${ids.length}`;
        ids.push(id);
        const inviteId = step.role === 'member' ? INVITES[step.invite]! : null;
        return {
          step,
          label: `${id} enters as ${step.role} (${inviteId})`,
          actor: () => id,
          inviteId,
          now,
          change: enter(
            {
              id,
              displayName: nameOf(id),
              role: step.role === 'owner' ? 'facilitator' : step.role,
              owner: step.role === 'owner',
              inviteId,
              ...(step.address === undefined ? {} : { addressKey: `address-${step.address}` }),
              connection: { connectionId: `${id}@0`, node: NODES[ids.length % 2]!, resumeNonce: `${id}#0` },
            },
            now,
            WAY_IN,
          ),
        };
      }
      case 'leave': {
        const id = anyone(step.who);
        return { step, label: `${id} leaves`, actor: () => id, now, change: leave(id, now) };
      }
      case 'command': {
        const own = OWN[step.type] ?? 'member';
        const actor = (state: RoomState): string => {
          switch (step.by) {
            case 'facilitator':
              return fromState(state, step.who, (id) => isFacilitatorRole(state.members[id]!.role));
            case 'unacknowledged':
              return fromState(state, step.who, (id) => actorState(state, id) === 'unacknowledged');
            case 'own':
              return own === 'holder'
                ? (state.floor.holder ?? anyone(step.who))
                : own === 'aside'
                  ? (state.aside?.memberId ?? anyone(step.who))
                  : own === 'asked'
                  ? fromState(state, step.who, (id) => state.members[id]!.asked.length > 0 && actorState(state, id) === 'admitted')
                  : fromState(state, step.who, (id) => state.members[id]!.role === 'member' && actorState(state, id) === 'admitted');
            case 'anyone':
              return anyone(step.who);
          }
        };
        const target = (state: RoomState): string =>
          step.about === 'anyone'
            ? anyone(step.target)
            : step.about === 'hand'
              ? fromState(state, step.target, (id) => state.floor.hands.includes(id))
              : step.about === 'sharing'
                ? fromState(state, step.target, (id) => shareOf(state).granted.includes(id) || Object.values(state.members[id]!.producers).some((p) => p.source === 'screen'))
              : fromState(state, step.target, (id) => state.members[id]!.stage === step.about && state.members[id]!.role !== 'facilitator');
        const command = (state: RoomState) => commandFor(step, state, target(state), actor(state));
        const change: RoomChange = (state) => applyCommand(actor(state), command(state), now)(state);
        return { step, label: `${step.by} ${step.who}: ${step.type} about ${step.about} ${step.target}`, actor, command, now, change };
      }
      case 'producer': {
        const actor = anyone(step.who);
        const producerId = `${actor}-producer-${step.producer}`;
        const source = (['mic', 'camera', 'screen'] as const)[step.producer]!;
        const change =
          step.op === 'put'
            ? putProducer(actor, { id: producerId, kind: source === 'mic' ? 'audio' : 'video', source, paused: false })
            : step.op === 'remove'
              ? removeProducer(actor, producerId)
              : setProducerPaused(actor, producerId, step.op === 'pause');
        return { step, label: `${actor}: producer ${step.op} ${producerId}`, actor: () => actor, now, change };
      }
      case 'checkout': {
        const id = anyone(step.who);
        const change: RoomChange = (state) => markCheckedOut(id, step.stale ? 'co-stale' : (state.checkout?.id ?? 'co-none'))(state);
        return { step, label: `${id} answers the ${step.stale ? 'stale ' : ''}check-out`, actor: () => id, now, change };
      }
      case 'drop': {
        const id = anyone(step.who);
        const change: RoomChange = (state) => dropSeat(id, step.stale ? `${id}@stale` : (state.members[id]?.connectionId ?? `${id}@gone`), now)(state);
        return { step, label: `${id}'s ${step.stale ? 'stale ' : ''}connection drops`, actor: () => id, now, change };
      }
      case 'resume': {
        const id = anyone(step.who);
        const connection = { connectionId: `${id}@${i}`, node: NODES[step.node]!, resumeNonce: `${id}#${i}` };
        const change: RoomChange = (state) => resumeSeat(id, step.stale ? `${id}#old` : (state.members[id]?.resumeNonce ?? `${id}#none`), connection, now)(state);
        return { step, label: `${id} resumes${step.stale ? ' with a used credential' : ''} on ${connection.node}`, actor: () => id, now, change };
      }
      case 'sweep': {
        const at = now + step.after * 1000;
        const change = sweepSeats({ now: at, graceMs: GRACE_MS, liveNodes: new Set(LIVE[step.live]) });
        return { step, label: `seat sweep +${step.after}s, live ${LIVE[step.live]!.join('+')}`, actor: () => GHOST, now: at, change };
      }
      case 'expire': {
        const at = now + step.after * 1000;
        // As the server's timer does: for the turn it was set for, which may have moved on.
        const change: RoomChange = (state) => expireTurn(step.stale ? Math.max(0, state.floor.turn - 1) : state.floor.turn, at)(state);
        return { step, label: `turn time-out (${step.stale ? 'stale' : 'current'}) +${step.after}s`, actor: () => GHOST, now: at, change };
      }
    }
  });
  return { planned, ids };
}

function commandFor(step: CommandStep, state: RoomState, memberId: string, actorId: string): Command {
  switch (step.type) {
    case 'agreement.acknowledge': {
      const version = step.version === 'current' ? state.agreement.version : step.version === 'initial' ? INITIAL_VERSION : 'garbage-version';
      return { type: step.type, version, privateSpace: true };
    }
    case 'agreement.set':
      return { type: step.type, text: TEXTS[step.text]! };
    case 'member.admit':
      return { type: step.type, memberId };
    case 'member.admitAll':
      return { type: step.type };
    case 'member.remove':
      return { type: step.type, memberId, block: step.flag };
    case 'member.setRole':
      return { type: step.type, memberId, role: step.flag ? 'cofacilitator' : 'member' };
    case 'room.setAutoAdmit':
      return { type: step.type, enabled: step.flag };
    case 'room.setLocked':
      return { type: step.type, locked: step.flag };
    case 'lobby.clear':
      return { type: step.type, waiting: step.flag };
    case 'session.end':
      return { type: step.type };
    case 'floor.setMode':
      return { type: step.type, mode: step.flag || step.text > 0 ? 'hands' : 'open' };
    case 'floor.grant':
      return { type: step.type, memberId };
    case 'floor.release':
    case 'hand.raise':
    case 'hands.clear':
    case 'round.pass':
    case 'round.end':
      return { type: step.type };
    case 'hand.lower':
      // A member their own hand; a facilitator (or anyone, to be refused) someone's.
      return state.members[actorId]?.role === 'member' && step.flag ? { type: step.type } : { type: step.type, memberId };
    case 'hands.move':
      return { type: step.type, memberId, to: step.to };
    case 'round.start': {
      const onTimeout = step.flag ? 'pass' : 'warn';
      if (step.order === 'arrival') return { type: step.type, order: null, turnSeconds: step.turnSeconds, onTimeout };
      const order = step.order === 'picked' ? speakers(state).reverse() : [memberId, memberId];
      return { type: step.type, order: order.length ? order : [memberId], turnSeconds: step.turnSeconds, onTimeout };
    }
    case 'member.mute':
    case 'member.ask':
      return { type: step.type, memberId, source: step.source };
    case 'member.muteAll':
      // Sparing someone (in the room, waiting, gone or never there), or nobody.
      return { type: step.type, except: step.flag ? memberId : null };
    case 'ask.answer': {
      // Mostly the source they were asked about.
      const asked = state.members[actorId]?.asked[0];
      return { type: step.type, source: asked && step.text > 0 ? asked : step.source, accept: step.flag };
    }
    case 'share.ask':
      return { type: step.type, asking: step.flag || step.text > 0 };
    case 'share.grant':
    case 'share.revoke':
    case 'share.stop':
    case 'aside.start':
      return { type: step.type, memberId };
    case 'share.setPolicy':
      return { type: step.type, maxShares: step.flag ? 2 : 1, allowWholeScreen: step.text > 1 };
    case 'checkout.start':
    case 'checkout.end':
    case 'aside.end':
      return { type: step.type };
  }
}

const startRoom = (id = 'property-room') =>
  newRoom({ id, capacity: CAPACITY, title: 'Property group', agreement: TEXTS[0], startsAt: T0, durationMinutes: 90, sharedInviteId: INVITES[0] }, T0);

// ---------------------------------------------------------------------------------------
// Invariants.

/** A view must parse as a RoomView with nothing left over. */
const StrictRoomView = RoomView.strict();

/**
 * What must hold of any state the rules produce. `ids`: everyone who ever tried to enter.
 * Problems are collected and asserted once (thousands of `expect` calls per run are slow).
 */
function checkState(state: RoomState, ids: readonly string[], parseViews = true): void {
  const problems: string[] = [];
  const check = (ok: boolean, problem: string) => {
    if (!ok) problems.push(problem);
  };
  const members = Object.values(state.members);
  const present = new Set(Object.keys(state.members));
  const gone = ids.filter((id) => !present.has(id));

  // The room holds `capacity` people, and one more place is the owner's (a leaked link cannot fill
  // the room against them); as many again may be on their way in; members never take the last seat.
  const ownerSeats = members.filter((m) => m.owner === true && m.stage === 'admitted').length;
  check(admittedCount(state) - Math.min(ownerSeats, 1) <= state.capacity, `${admittedCount(state)} people in a room for ${state.capacity}`);
  check(lobbyCount(state) <= state.capacity, `${lobbyCount(state)} people on their way into a room for ${state.capacity}`);
  // No one address or link holds more of the way in than it may; nobody in the room keeps an address key.
  const lobby = members.filter((m) => m.stage !== 'admitted');
  for (let a = 0; a < ADDRESSES; a++) {
    const from = lobby.filter((m) => m.addressKey === `address-${a}`).length;
    check(from <= WAY_IN.perAddress, `${from} on the way in from address ${a}`);
  }
  for (const invite of INVITES) {
    const bound = invite === state.sharedInviteId ? sharedLinkBound(state, WAY_IN) : WAY_IN.perInvite;
    const withLink = lobby.filter((m) => m.inviteId === invite).length;
    check(withLink <= bound, `${withLink} on the way in with ${invite} (at most ${bound})`);
  }
  check(members.every((m) => m.stage !== 'admitted' || m.addressKey === undefined), 'someone in the room still has an address key');
  // Once per person and agreement version.
  const acks = state.acknowledgements.map((a) => `${a.memberId}/${a.version}`);
  check(new Set(acks).size === acks.length, 'someone acknowledged the same text twice on record');
  check(new Set(state.blockedInvites).size === state.blockedInvites.length, 'an invite is blocked twice');

  for (const m of members) {
    // Media follows state: admitted and, for members, the current agreement acknowledged.
    if (mediaAllowed(state, m.id)) {
      check(m.stage === 'admitted', `${m.id} has media at stage ${m.stage}`);
      check(isFacilitatorRole(m.role) || m.acknowledgedVersion === state.agreement.version, `${m.id} has media without acknowledging`);
    }
    check(!isFacilitatorRole(m.role) || m.stage === 'admitted', `${m.role} ${m.id} at stage ${m.stage}`);
    // A seat is either held by a connection or away since some time, never both or neither.
    check((m.connectionId === null) === (m.offlineSince !== null), `${m.id}: connection ${m.connectionId}, away since ${m.offlineSince}`);
    // Someone at the agreement can always acknowledge it.
    if (m.stage === 'agreement') {
      check(actorState(state, m.id) === 'unacknowledged', `${m.id} is at the agreement but cannot acknowledge it`);
    }
  }

  for (const ack of state.acknowledgements) {
    check(ids.includes(ack.memberId) && ack.displayName === nameOf(ack.memberId), `unknown acknowledgement ${JSON.stringify(ack)}`);
  }

  const admitted = new Set(members.filter((m) => m.stage === 'admitted').map((m) => m.id));
  problems.push(...floorProblems(state), ...mediaProblems(state), ...toolProblems(state));
  const policy = mediaPolicy(state);
  for (const viewer of members) {
    const view = viewFor(state, viewer.id)!;
    const json = JSON.stringify(view);
    if (parseViews) expect(StrictRoomView.parse(JSON.parse(json))).toEqual(view);

    // Nobody waiting or gone is ever in anyone's member list.
    for (const m of view.members ?? []) check(admitted.has(m.id), `${viewer.id} sees ${m.id} (not admitted) in members`);
    for (const id of gone) {
      check(!view.members?.some((m) => m.id === id), `${viewer.id} sees ${id} (gone) in members`);
      check(!view.facilitation?.everyone.some((m) => m.id === id), `${viewer.id} sees ${id} (gone) in everyone`);
    }

    // Turn-taking is for people in the room; its ids are only of admitted people.
    if (view.floor) {
      const { holder, hands, round } = view.floor;
      for (const id of [...(holder ? [holder] : []), ...hands, ...(round?.order ?? [])]) check(admitted.has(id), `${viewer.id} sees ${id} (not admitted) on the floor`);
    }
    // What a member is shown of themselves and others matches what the server lets through.
    for (const source of ['mic', 'camera'] as const) {
      if (view.self.media) check((view.self.held[source] === null) === policy.send[source].has(viewer.id), `${viewer.id} is told ${source} held ${view.self.held[source]}`);
    }
    for (const source of ['mic', 'camera', 'screen'] as const) {
      for (const m of view.members ?? []) check(!m.sending[source] || policy.send[source].has(m.id), `${viewer.id} sees ${m.id} sending ${source}, held by the server`);
    }
    check(view.self.share.may === policy.send.screen.has(viewer.id), `${viewer.id} is told they may share: ${view.self.share.may}`);
    check(view.self.checkedOut === Boolean(state.checkout?.done.includes(viewer.id)), `${viewer.id} is told they checked out: ${view.self.checkedOut}`);

    const where = actorState(state, viewer.id);
    check((view.floor !== undefined) === (where === 'admitted'), `${viewer.id} (${where}) ${view.floor ? 'gets' : 'does not get'} the floor`);
    // The share policy, the check-out and the aside: for people in the room only.
    for (const part of ['share', 'checkout', 'aside'] as const) check((view[part] !== undefined) === (where === 'admitted'), `${viewer.id} (${where}) and the ${part}`);
    if (view.checkout) check(view.checkout.done <= view.checkout.of, `${view.checkout.done} of ${view.checkout.of} checked out`);
    if (where !== 'admitted') {
      // At the agreement, waiting, or with an old acknowledgement: no names but one's own.
      check(view.members === undefined && view.facilitation === undefined, `${viewer.id} (${where}) gets members or facilitation`);
      for (const id of ids) check(id === viewer.id || !json.includes(nameOf(id)), `${viewer.id} (${where}) sees ${id}'s name`);
    } else if (!isFacilitatorRole(viewer.role)) {
      // Admitted members: admitted people only, no facilitation.
      check(view.facilitation === undefined, `member ${viewer.id} gets facilitation`);
      for (const id of ids) check(admitted.has(id) || !json.includes(nameOf(id)), `${viewer.id} sees ${id}'s name (not admitted)`);
    } else {
      const everyone = view.facilitation?.everyone.map((m) => m.id).sort() ?? [];
      check(JSON.stringify(everyone) === JSON.stringify([...present].sort()), `${viewer.id} does not see everyone`);
    }
  }
  expect(problems).toEqual([]);
}

/**
 * The floor: one holder at most, who is in the room; the queue and the round only of people in
 * the room, each once, never the holder in the queue; the mode and its parts agree.
 */
function floorProblems(state: RoomState): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, problem: string) => {
    if (!ok) problems.push(problem);
  };
  const { mode, holder, hands, round, turnStartedAt, turnEndsAt, turnPausedMs } = state.floor;
  // A paused turn is the turn of someone away, and has no end time until they are back.
  if (turnPausedMs !== null) {
    check(turnEndsAt === null && holder !== null && round?.turnSeconds != null, `a paused turn (${turnPausedMs} ms) with end ${turnEndsAt}, holder ${holder}`);
    check(holder === null || state.members[holder]?.connectionId === null, `the turn of ${holder}, who is connected, is paused`);
  }
  const inRoom = (id: string) => state.members[id]?.stage === 'admitted';
  if (holder !== null) check(inRoom(holder), `the floor is held by ${holder}, who is not in the room`);
  check(new Set(hands).size === hands.length, `a hand is raised twice: ${hands.join(',')}`);
  for (const id of hands) check(inRoom(id), `${id}'s hand is raised, but they are not in the room`);
  check(holder === null || !hands.includes(holder), `the holder ${holder} is also in the queue`);
  check((turnStartedAt !== null) === (holder !== null), `turn started at ${turnStartedAt} with holder ${holder}`);
  check(turnEndsAt === null || (holder !== null && round?.turnSeconds !== null && round !== null), `a turn ends at ${turnEndsAt} without a timed round`);
  if (mode === 'open') {
    check(holder === null && hands.length === 0 && round === null, `an open floor with holder ${holder}, hands ${hands.join(',')} or a round`);
  } else if (mode === 'hands') {
    check(round === null, 'a round in raised-hands mode');
  } else {
    check(round !== null, 'round mode without a round');
    check(hands.length === 0, 'raised hands during a round');
    if (round) {
      check(new Set(round.order).size === round.order.length, `someone is in the round twice: ${round.order.join(',')}`);
      for (const id of round.order) check(inRoom(id), `${id} is in the round, but not in the room`);
      check(round.position < round.order.length, `the round is at ${round.position} of ${round.order.length}`);
      check(holder === round.order[round.position], `the round is at ${round.order[round.position]} but ${holder} holds the floor`);
    }
  }
  return problems;
}

/**
 * Who may send, derived here from the state independently of state.ts: facilitators in the
 * room always; members in the room with the current agreement acknowledged, unless a
 * facilitator holds that source off, and their microphone only on an open floor or when they
 * hold it. Nobody else, ever.
 */
function mediaProblems(state: RoomState): string[] {
  const problems: string[] = [];
  const policy = mediaPolicy(state);
  for (const [source, allowed] of Object.entries(policy.send)) {
    for (const id of allowed) if (!state.members[id]) problems.push(`${id} (not in the state) may send ${source}`);
  }
  for (const m of Object.values(state.members)) {
    const facilitator = isFacilitatorRole(m.role);
    const inRoom = m.stage === 'admitted' && (facilitator || m.acknowledgedVersion === state.agreement.version);
    // The member aside talks with the facilitator, not to the group: the floor does not hold them.
    const floorLets = state.floor.mode === 'open' || state.floor.holder === m.id || state.aside?.memberId === m.id;
    const expected = {
      mic: inRoom && (facilitator || (!m.heldOff.includes('mic') && floorLets)),
      camera: inRoom && (facilitator || !m.heldOff.includes('camera')),
      // A screen with a grant, whatever holds their devices.
      screen: inRoom && (facilitator || (state.share?.granted ?? []).includes(m.id)),
    };
    if (policy.receive.has(m.id) !== inRoom) problems.push(`${m.id} receives: ${policy.receive.has(m.id)}`);
    const apart = state.aside ? [state.aside.facilitatorId, state.aside.memberId].includes(m.id) : false;
    if (policy.apart.has(m.id) !== apart) problems.push(`${m.id} apart: ${policy.apart.get(m.id)}`);
    for (const source of ['mic', 'camera', 'screen'] as const) {
      if (policy.send[source].has(m.id) !== expected[source] || maySend(state, m.id, source) !== expected[source]) {
        problems.push(`${m.role} ${m.id} (${m.stage}, held ${m.heldOff.join('+')}, floor ${state.floor.mode}/${state.floor.holder}) may send ${source}: ${policy.send[source].has(m.id)}`);
      }
    }
  }
  return problems;
}

/**
 * Screen sharing, the check-out and the aside: at most `maxShares` screens, one a person, each
 * of someone who may share; grants and asks only of members in the room, never both; the
 * aside a facilitator and a member in the room; each answer counted once.
 */
function toolProblems(state: RoomState): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, problem: string) => {
    if (!ok) problems.push(problem);
  };
  const share = shareOf(state);
  const screens = Object.values(state.members).flatMap((m) => Object.values(m.producers).filter((p) => p.source === 'screen').map((p) => [m, p.id] as const));
  check(screens.length <= share.maxShares, `${screens.length} screens shared, at most ${share.maxShares}`);
  check(new Set(screens.map(([m]) => m.id)).size === screens.length, 'someone shares two screens');
  for (const [m, id] of screens) check(isFacilitatorRole(m.role) || share.granted.includes(m.id), `${m.id} shares ${id} without a grant`);
  check(JSON.stringify([...mediaPolicy(state).shares].sort()) === JSON.stringify(screens.map(([, id]) => id).sort()), 'the policy’s shares are not the screens');
  check(JSON.stringify([...screenProducerIds(state)].sort()) === JSON.stringify(screens.map(([, id]) => id).sort()), 'screenProducerIds');
  for (const [list, ids] of [['granted', share.granted], ['asking', share.asking]] as const) {
    check(new Set(ids).size === ids.length, `someone is ${list} twice`);
    for (const id of ids) check(state.members[id]?.role === 'member' && state.members[id]?.stage === 'admitted', `${id} (${state.members[id]?.role}, ${state.members[id]?.stage}) is ${list}`);
  }
  check(!share.asking.some((id) => share.granted.includes(id)), 'someone asks to share with a grant');
  const aside = state.aside;
  if (aside) {
    const [f, m] = [state.members[aside.facilitatorId], state.members[aside.memberId]];
    check(f !== undefined && isFacilitatorRole(f.role), `${aside.facilitatorId} (${f?.role}) leads the aside`);
    check(m !== undefined && m.role === 'member' && m.stage === 'admitted', `${aside.memberId} (${m?.role}, ${m?.stage}) is aside`);
  }
  if (state.checkout) check(new Set(state.checkout.done).size === state.checkout.done.length, 'an answer counted twice');
  return problems;
}

/** What must hold of one step from `before` to `after` (after === before when refused). */
function checkStep(before: RoomState, after: RoomState, planned: Planned, failure: ProtocolFailure | undefined): void {
  const problems: string[] = [];
  const check = (ok: boolean, problem: string) => {
    if (!ok) problems.push(problem);
  };
  const { step } = planned;
  const actor = planned.actor(before);
  check(after.version === before.version, 'the rules changed the version'); // the store bumps versions, never the rules
  const kept = after.acknowledgements.slice(0, before.acknowledgements.length);
  check(JSON.stringify(kept) === JSON.stringify(before.acknowledgements), 'acknowledgements were changed or dropped');
  check(
    before.blockedInvites.every((invite) => after.blockedInvites.includes(invite)),
    'an invite was unblocked',
  );
  check(!before.ended || after.ended, 'an ended session restarted');
  // Only the owner ends the session while they hold a seat.
  check(before.ended || !after.ended || before.members[actor]?.owner === true || !Object.values(before.members).some((m) => m.owner), `${actor} ended the session on its owner`);

  if (step.kind === 'enter') {
    check(!before.ended || failure?.code === 'NOT_FOUND', 'entered an ended session');
    check(!planned.inviteId || !before.blockedInvites.includes(planned.inviteId) || failure !== undefined, `entered with blocked ${planned.inviteId}`);
  }

  if (step.kind === 'command') {
    if (before.ended) {
      // Ending again (someone who may end it) is how an ending not carried out is finished: unchanged.
      const finishing = step.type === 'session.end' && isAllowed(before, actor, step.type);
      check(finishing ? failure === undefined && after === before : failure?.code === 'NOT_FOUND', `${step.type} in an ended session: ${failure?.code ?? 'ok'}`);
    } else if (!isAllowed(before, actor, step.type)) {
      check(failure?.code === 'FORBIDDEN', `${step.type} by ${actor} (${actorState(before, actor)}) not refused: ${failure?.code ?? 'ok'}`);
    } else if (failure?.code === 'FORBIDDEN') {
      // The only FORBIDDEN past the table: touching the facilitator (muting or asking any
      // facilitator), a member acting on someone else's hand or turn, anyone but the owner
      // naming the owner, or ending the session while the owner holds a seat.
      const command = planned.command!(before) as Partial<Extract<Command, { memberId: string }>>;
      const target = before.members[command.memberId ?? ''];
      const actorIsFacilitator = isFacilitatorRole(before.members[actor]!.role);
      const actorIsOwner = before.members[actor]!.owner === true;
      check(
        (!actorIsOwner && target?.owner === true) ||
          (step.type === 'session.end' && !actorIsOwner && Object.values(before.members).some((m) => m.owner)) ||
        ((step.type === 'member.remove' || step.type === 'member.setRole') && target?.role === 'facilitator') ||
          ((step.type === 'member.mute' || step.type === 'member.ask') && target !== undefined && isFacilitatorRole(target.role)) ||
          ((step.type === 'floor.release' || step.type === 'round.pass') && !actorIsFacilitator && before.floor.holder !== actor) ||
          (step.type === 'hand.lower' && !actorIsFacilitator && command.memberId !== undefined && command.memberId !== actor) ||
          (step.type === 'aside.end' && !actorIsFacilitator && before.aside?.memberId !== actor),
        `${step.type} allowed by the table but FORBIDDEN`,
      );
    }
    // Commands never change a facilitator's role, and remove one only by seniority: a
    // facilitator who came in strictly earlier removes that one person (a leaked link's late
    // arrival), never the other way round, and never a cofacilitator.
    const command = planned.command?.(before) as Partial<Extract<Command, { memberId: string }>> | undefined;
    const remover = before.members[actor];
    for (const m of Object.values(before.members)) {
      if (m.role !== 'facilitator') continue;
      const kept = after.members[m.id];
      if (kept) {
        check(kept.role === 'facilitator', `${step.type} changed facilitator ${m.id}`);
        continue;
      }
      check(
        step.type === 'member.remove' &&
          command?.memberId === m.id &&
          !m.owner &&
          remover?.role === 'facilitator' &&
          (remover.owner === true || remover.enteredAt < m.enteredAt),
        `${step.type} by ${actor} removed facilitator ${m.id} who came in ${remover ? m.enteredAt - remover.enteredAt : '?'} ms after them`,
      );
    }
    // A facilitator who came in later may be removed by one who came in earlier.
    if (step.type === 'member.remove' && !before.ended && isAllowed(before, actor, step.type) && command?.memberId !== actor) {
      const target = before.members[command?.memberId ?? ''];
      if (target?.role === 'facilitator' && !target.owner && remover?.role === 'facilitator' && (remover.owner === true || remover.enteredAt < target.enteredAt)) {
        check(failure === undefined && after.members[target.id] === undefined, `${actor} could not remove later facilitator ${target.id}: ${failure?.code}`);
      }
    }
    // Blocking a personal invite removes everyone who came in with it (but the actor).
    if (!failure && step.type === 'member.remove' && (command as { block?: boolean } | undefined)?.block) {
      const invite = before.members[command?.memberId ?? '']?.inviteId;
      if (invite && invite !== (before.sharedInviteId ?? null)) {
        for (const m of Object.values(after.members)) check(m.inviteId !== invite || m.id === actor, `${m.id} stayed with blocked personal invite ${invite}`);
      }
    }
    // Clearing the way in lets go of everyone at the agreement (and, asked to, the waiting room), nobody else.
    if (!failure && step.type === 'lobby.clear') {
      const waiting = (planned.command!(before) as Extract<Command, { type: 'lobby.clear' }>).waiting;
      for (const m of Object.values(before.members)) {
        const goes = m.stage === 'agreement' || (waiting && m.stage === 'waiting');
        check(goes === (after.members[m.id] === undefined), `lobby.clear ${goes ? 'kept' : 'let go of'} ${m.id} (${m.stage})`);
        if (goes && after !== before) check(after.cleared?.includes(m.id) === true, `lobby.clear did not say it cleared ${m.id}`);
      }
    }
    if (!failure && step.type === 'agreement.acknowledge') {
      // On record once: added now, or there already (the text was set back to one they had accepted).
      const version = after.agreement.version;
      const had = before.acknowledgements.some((a) => a.memberId === actor && a.version === version);
      check(after.acknowledgements.length === before.acknowledgements.length + (had ? 0 : 1), 'an acknowledgement was not recorded');
      check(after.acknowledgements.some((a) => a.memberId === actor && a.version === version), 'the acknowledgement is not on record');
    }
    // Muting everyone but one: that one must be in the room (a facilitator counts), else the
    // command is refused as NOT_FOUND (not there) or INVALID_STATE (not admitted yet).
    if (step.type === 'member.muteAll' && !before.ended && isAllowed(before, actor, step.type)) {
      const command = planned.command!(before) as Extract<Command, { type: 'member.muteAll' }>;
      const spared = command.except === null ? undefined : before.members[command.except];
      const expected = command.except === null || spared?.role === 'facilitator' || spared?.role === 'cofacilitator' || spared?.stage === 'admitted' ? 'ok' : spared ? 'INVALID_STATE' : 'NOT_FOUND';
      check((failure?.code ?? 'ok') === expected, `member.muteAll except ${command.except}: ${failure?.code ?? 'ok'}, expected ${expected}`);
    }
    // A facilitator's mute holds at once, whatever the member does.
    if (!failure && (step.type === 'member.mute' || step.type === 'member.muteAll')) {
      const command = planned.command!(before);
      const muted =
        command.type === 'member.mute'
          ? [[command.memberId, command.source] as const]
          : Object.values(before.members)
              .filter((m) => !isFacilitatorRole(m.role) && m.stage === 'admitted' && !(command.type === 'member.muteAll' && m.id === command.except))
              .map((m) => [m.id, 'mic'] as const);
      for (const [id, source] of muted) {
        check(after.members[id]!.heldOff.includes(source) && !maySend(after, id, source), `${id}'s ${source} is not held after ${step.type}`);
      }
      // The one spared is left exactly as they were.
      if (command.type === 'member.muteAll' && command.except !== null) {
        check(JSON.stringify(after.members[command.except]) === JSON.stringify(before.members[command.except]), `${command.except} was not spared by ${step.type}`);
      }
    }
  }

  if (step.kind === 'drop' || step.kind === 'resume') {
    // A connection coming or going changes nothing of anyone's place: not a seat, a stage, a
    // hold, a hand or the floor (only a timed turn's clock stops and starts). But a seat at
    // the entry agreement goes with its connection (it holds nothing but a place on the way in).
    const own = before.members[actor];
    const freed = step.kind === 'drop' && !step.stale && own !== undefined && own.connectionId !== null && atEntryAgreement(own);
    const stays = Object.keys(before.members).filter((id) => !(freed && id === actor));
    check(JSON.stringify(Object.keys(after.members).sort()) === JSON.stringify(stays.sort()), `${planned.label} changed who is in the room`);
    for (const m of Object.values(before.members)) {
      if (freed && m.id === actor) continue;
      const a = after.members[m.id]!;
      const place = (x: typeof m) => JSON.stringify([x.role, x.stage, x.acknowledgedVersion, x.heldOff, x.asked, x.producers]);
      check(place(a) === place(m), `${planned.label} changed ${m.id}'s place`);
    }
    const floorPlace = (f: RoomState['floor']) => JSON.stringify({ ...f, turnEndsAt: null, turnPausedMs: null });
    check(floorPlace(after.floor) === floorPlace(before.floor), `${planned.label} moved the floor`);
    if (step.kind === 'resume' && step.stale) check(failure !== undefined, 'a used credential resumed a seat');
  }
  if (step.kind === 'sweep') {
    // After a sweep nobody is away for longer than the grace period, and no seat is held through a dead node.
    const live = new Set(LIVE[step.live]);
    for (const m of Object.values(after.members)) {
      check(m.offlineSince === null || planned.now - m.offlineSince < GRACE_MS, `${m.id} away since ${m.offlineSince}, kept past the grace period`);
      check(m.connectionId === null || m.node === null || live.has(m.node), `${m.id} held through dead ${m.node}`);
    }
    for (const m of Object.values(before.members)) {
      if (m.offlineSince === null || planned.now - m.offlineSince < GRACE_MS) check(after.members[m.id] !== undefined, `${m.id} freed within the grace period`);
    }
  }

  // A share ends (its sharer still here) only by its sharer closing it or sharing anew, a
  // facilitator's withdrawal, stop, policy or replacing share, or the sharer no longer a facilitator.
  const command = step.kind === 'command' && !failure ? planned.command?.(before) : undefined;
  for (const m of Object.values(before.members)) {
    for (const p of Object.values(m.producers)) {
      if (p.source !== 'screen' || !after.members[m.id] || after.members[m.id]!.producers[p.id]) continue;
      const ended =
        (step.kind === 'producer' && (step.op === 'remove' || step.op === 'put')) ||
        // A dead node's media died with it.
        step.kind === 'sweep' ||
        (command !== undefined &&
          (((command.type === 'share.revoke' || command.type === 'share.stop') && command.memberId === m.id) ||
            command.type === 'share.setPolicy' ||
            (command.type === 'member.setRole' && command.memberId === m.id && command.role === 'member')));
      check(ended, `${m.id}'s share ${p.id} ended on ${planned.label}`);
      // The owner's share ends by the owner's own act (or their node dying), never another's.
      // (The owner entering twice holds two seats, each the owner's.)
      check(!m.owner || before.members[actor]?.owner === true || step.kind === 'sweep', `the owner's share ${p.id} ended by ${actor} on ${planned.label}`);
    }
  }
  if (step.kind === 'producer' && step.op === 'put' && step.producer === 2 && !before.ended) {
    // A screen: only by someone who may share; a member's refused while the shares are full,
    // a facilitator's taken (replacing the earliest other) unless only the owner's could go.
    const sharer = before.members[actor];
    const others = [...screenProducerIds(before)].filter((id) => !sharer?.producers[id]).length;
    const may = sharer !== undefined && isAllowed(before, actor, 'screen.publish') && (isFacilitatorRole(sharer.role) || shareOf(before).granted.includes(actor));
    // And nobody's replaces the owner's: refused when only the owner's could make room.
    const owners = [...screenProducerIds(before)].filter((id) => !sharer?.producers[id] && Object.values(before.members).some((m) => m.owner && m.producers[id])).length;
    const full = others >= shareOf(before).maxShares;
    const blocked = full && (!isFacilitatorRole(sharer?.role ?? 'member') || others - owners < others - shareOf(before).maxShares + 1);
    const expected = !sharer ? 'NOT_FOUND' : !may ? 'FORBIDDEN' : blocked ? 'INVALID_STATE' : 'ok';
    check((failure?.code ?? 'ok') === expected, `${planned.label}: ${failure?.code ?? 'ok'}, expected ${expected}`);
  }
  if (step.kind === 'checkout') {
    // Once each, by a member in the room, for the check-out open now; nothing else changes.
    const m = before.members[actor];
    const open = before.checkout;
    const expected = before.ended || !m
      ? before.ended ? 'NOT_FOUND' : 'NOT_FOUND'
      : m.role !== 'member' || actorState(before, actor) !== 'admitted'
        ? 'FORBIDDEN'
        : !open || step.stale
          ? 'INVALID_STATE'
          : open.done.includes(actor)
            ? 'INVALID_STATE'
            : 'ok';
    check((failure?.code ?? 'ok') === expected, `${planned.label}: ${failure?.code ?? 'ok'}, expected ${expected}`);
    if (!failure) check(JSON.stringify({ ...after, checkout: null }) === JSON.stringify({ ...before, checkout: null }), `${planned.label} changed more than the check-out`);
  }
  // Answers are counted for the check-out they answered: a new one starts with none.
  if (after.checkout && before.checkout && after.checkout.id === before.checkout.id) {
    check(before.checkout.done.every((id) => after.checkout!.done.includes(id) || !after.members[id]), `${planned.label} forgot an answer`);
  }
  if (after.checkout && after.checkout.id !== before.checkout?.id) check(after.checkout.done.length === 0, 'a new check-out with answers');

  // Nobody turns anyone's source back on: a hold ends only when that member accepts an ask for it.
  for (const m of Object.values(before.members)) {
    const now = after.members[m.id];
    for (const source of m.heldOff) {
      if (!now || now.heldOff.includes(source)) continue;
      const command = planned.command?.(before);
      check(
        command?.type === 'ask.answer' && command.accept && command.source === source && actor === m.id && m.asked.includes(source),
        `${m.id}'s ${source} hold was lifted by ${planned.label}`,
      );
    }
  }

  // The floor moves only by a floor command, someone leaving or being removed, or a turn's time
  // running out; every new holder starts a new turn.
  const moved = JSON.stringify(after.floor) !== JSON.stringify(before.floor);
  check(
    !moved ||
      step.kind === 'leave' ||
      step.kind === 'expire' ||
      step.kind === 'drop' ||
      step.kind === 'resume' ||
      step.kind === 'sweep' ||
      // Promoting a member takes them off the floor: facilitators may always speak.
      (step.kind === 'command' && (FLOOR_COMMANDS.has(step.type) || step.type === 'member.remove' || step.type === 'member.setRole')),
    `the floor moved on ${planned.label}`,
  );
  check(after.floor.turn >= before.floor.turn, 'the turn number went back');
  check(after.floor.holder === before.floor.holder || after.floor.turn > before.floor.turn, 'a new holder without a new turn');
  if (step.kind === 'expire' && moved) {
    const { floor } = before;
    check(
      floor.mode === 'round' && floor.round?.onTimeout === 'pass' && !step.stale && floor.turnEndsAt !== null && floor.turnEndsAt <= planned.now,
      `a turn time-out moved the floor: ${JSON.stringify(floor)}`,
    );
    const next = floor.round!.order[floor.round!.position + 1];
    check(after.floor.holder === (next ?? null), `the time-out gave the floor to ${after.floor.holder}, not ${next}`);
  }
  expect(problems, planned.label).toEqual([]);
}

/** Apply one planned step through the rules: the next state, or the refusal and the same state. */
function applyStep(state: RoomState, planned: Planned): { next: RoomState; failure?: ProtocolFailure } {
  deepFreeze(state);
  const snapshot = structuredClone(state);
  try {
    return { next: planned.change(state) };
  } catch (error) {
    expect(error, planned.label).toBeInstanceOf(ProtocolFailure);
    expect(state).toEqual(snapshot);
    return { next: state, failure: error as ProtocolFailure };
  }
}

interface Run {
  state: RoomState;
  /** The state each step was applied to. */
  befores: RoomState[];
  outcomes: (ErrorCode | 'ok')[];
  changed: boolean[];
  writes: number;
}

function runSequence(steps: Step[]): Run {
  const { planned, ids } = plan(steps);
  let state = startRoom();
  const befores: RoomState[] = [];
  const outcomes: (ErrorCode | 'ok')[] = [];
  const changed: boolean[] = [];
  planned.forEach((p, i) => {
    const { next, failure } = applyStep(state, p);
    checkStep(state, next, p, failure);
    checkState(next, ids, i % 4 === 0 || i === planned.length - 1);
    befores.push(state);
    outcomes.push(failure ? failure.code : 'ok');
    changed.push(next !== state);
    state = next;
  });
  return { state, befores, outcomes, changed, writes: changed.filter(Boolean).length };
}

/** Most sessions start with their facilitator; some have none at all. */
const sessions = (maxLength: number, steps: fc.Arbitrary<Step> = stepArb): fc.Arbitrary<Step[]> =>
  fc
    .tuple(fc.nat(4), fc.array(steps, { minLength: 1, maxLength, size: 'medium' }))
    .map(([host, rest]) => (host ? [{ kind: 'enter', role: host % 2 ? 'facilitator' : 'owner', invite: 0 } as const, ...rest] : rest));

const sequences = sessions(40);
/**
 * Sessions about turn-taking and muting: a facilitator and a few members in the room, on an
 * open floor, with everyone's hand raised, or in a round; then mostly the floor moves.
 */
const floorSequences: fc.Arbitrary<Step[]> = fc
  .tuple(
    fc.integer({ min: 1, max: 4 }),
    fc.constantFrom('open' as const, 'hands' as const, 'round' as const),
    fc.record({ turnSeconds: fc.constantFrom(null, 15, 15), flag: fc.boolean() }),
    fc.array(floorStepArb, { minLength: 10, maxLength: 40, size: 'medium' }),
  )
  .map(([n, mode, round, rest]): Step[] => [
    { kind: 'enter', role: 'facilitator', invite: 0 },
    ...admitted(n),
    ...(mode === 'hands'
      ? [commandStep('floor.setMode', 'facilitator', 'anyone', { flag: true }), ...Array.from({ length: n }, (_, i) => commandStep('hand.raise', 'own', 'anyone', { who: i }))]
      : mode === 'round'
        ? [commandStep('round.start', 'facilitator', 'anyone', round)]
        : []),
    ...rest,
  ]);

/** Sessions about the therapist's tools: a facilitator (maybe two) and a few members in the room. */
const toolSequences: fc.Arbitrary<Step[]> = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.array(toolStepArb, { minLength: 10, maxLength: 40, size: 'medium' }))
  .map(([n, two, rest]): Step[] => [
    { kind: 'enter', role: 'owner', invite: 0 },
    ...(two ? [{ kind: 'enter', role: 'facilitator', invite: 0 } as const] : []),
    ...admitted(n),
    ...rest,
  ]);

/** What a step was, for counting: its command or kind, and (for leaving) where the person was on the floor. */
function stepKey(p: Planned, before: RoomState): string {
  if (p.step.kind === 'command') return p.step.type;
  if (p.step.kind === 'sweep') return `sweep(${p.step.after >= 121 ? 'late' : 'early'})`;
  if (p.step.kind !== 'leave') return p.step.kind;
  const id = p.actor(before);
  const { holder, hands, round } = before.floor;
  return holder === id ? 'leave(holder)' : hands.includes(id) ? 'leave(hand)' : round?.order.includes(id) ? 'leave(round)' : 'leave';
}

// ---------------------------------------------------------------------------------------

/** Each property test runs thousands of steps: a second or two at rest, far more on a busy machine. */
const PROPERTY_TIMEOUT = 60_000;

describe('room rules (property-based)', { timeout: PROPERTY_TIMEOUT }, () => {
  it('keep every invariant over random sequences of entries, leaves, commands and producer changes', () => {
    fc.assert(
      fc.property(sequences, (steps) => {
        runSequence(steps);
      }),
      { numRuns: 200 },
    );
  });

  it('keep the floor and media invariants over sequences mostly of turn-taking and muting', () => {
    fc.assert(
      fc.property(floorSequences, (steps) => {
        runSequence(steps);
      }),
      { numRuns: 100 },
    );
  });

  it('keep the share, check-out and aside invariants over sequences mostly of those', () => {
    fc.assert(
      fc.property(toolSequences, (steps) => {
        runSequence(steps);
      }),
      { numRuns: 100 },
    );
  });

  it('exercise every command, allowed and refused, and every kind of outcome', () => {
    // A guard against a generator that only produces refusals or no-ops: over many sequences,
    // each command type both changes the state and is refused, people get all the way in, and
    // the floor meets people leaving and turns running out.
    const seen = new Map<string, number>();
    const count = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1);
    for (const arb of [sequences, floorSequences, toolSequences]) {
      fc.assert(
        fc.property(arb, (steps) => {
          const { planned } = plan(steps);
          const { outcomes, changed, state, befores } = runSequence(steps);
          planned.forEach((p, i) => count(`${stepKey(p, befores[i]!)}:${changed[i] ? 'changed' : outcomes[i]}`));
          for (const m of Object.values(state.members)) count(`stage:${m.stage}`);
          count(`mode:${state.floor.mode}`);
        }),
        { numRuns: 100, seed: 42 },
      );
    }
    for (const type of commandTypes) {
      expect(seen.get(`${type}:changed`) ?? 0, `${type} changed the state`).toBeGreaterThan(0);
      expect(seen.get(`${type}:FORBIDDEN`) ?? 0, `${type} refused`).toBeGreaterThan(0);
    }
    const outcomes = ['enter:changed', 'enter:ROOM_FULL', 'enter:RATE_LIMITED', 'enter:FORBIDDEN', 'enter:NOT_FOUND', 'leave:changed', 'producer:changed', 'producer:NOT_FOUND'];
    const floor = ['leave(holder):changed', 'leave(hand):changed', 'leave(round):changed', 'expire:changed', 'expire:ok', 'mode:open', 'mode:hands', 'mode:round'];
    const seats = ['drop:changed', 'drop:ok', 'resume:changed', 'resume:FORBIDDEN', 'sweep(late):changed', 'sweep(early):changed', 'sweep(early):ok'];
    const tools = ['producer:INVALID_STATE', 'producer:FORBIDDEN', 'checkout:changed', 'checkout:INVALID_STATE', 'checkout:FORBIDDEN', 'aside.start:INVALID_STATE', 'share.grant:INVALID_STATE', 'checkout.start:INVALID_STATE'];
    const refusals = [...tools, 'floor.grant:INVALID_STATE', 'round.pass:INVALID_STATE', 'ask.answer:INVALID_STATE', 'hands.move:NOT_FOUND', 'round.start:BAD_REQUEST', 'member.muteAll:NOT_FOUND', 'member.muteAll:INVALID_STATE'];
    for (const key of [...outcomes, ...floor, ...seats, ...refusals, 'stage:agreement', 'stage:waiting', 'stage:admitted']) {
      expect(seen.get(key) ?? 0, key).toBeGreaterThan(0);
    }
  });

  it('are deterministic: the same sequence gives the same state', () => {
    fc.assert(
      fc.property(fc.oneof(sequences, floorSequences, toolSequences), (steps) => {
        expect(runSequence(steps).state).toEqual(runSequence(steps).state);
      }),
      { numRuns: 30 },
    );
  });
});

// ---------------------------------------------------------------------------------------
// The same sequences through the stores.

const REDIS_URL = 'redis://127.0.0.1:6379';
const prefix = `group-room-test:${process.pid}:${randomUUID()}:`;
let redis: RedisClientType;
let nodeA: RedisRoomStore;
let nodeB: RedisRoomStore;

beforeAll(async () => {
  redis = createClient({ url: REDIS_URL });
  redis.on('error', () => undefined);
  await redis.connect();
  const log = createLogger('error', () => undefined);
  nodeA = await RedisRoomStore.connect({ url: REDIS_URL, prefix, ttl: fixedTtl(600), log });
  nodeB = await RedisRoomStore.connect({ url: REDIS_URL, prefix, ttl: fixedTtl(600), log });
});

afterAll(async () => {
  await nodeA.close();
  await nodeB.close();
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
    if (keys.length) await redis.del(keys);
  }
  const left: string[] = [];
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*` })) left.push(...keys);
  expect(left).toEqual([]);
  await redis.close();
});

const anyCheckoutId = (state: RoomState): RoomState => (state.checkout ? { ...state, checkout: { ...state.checkout, id: 'co' } } : state);

let roomCounter = 0;
const freshRoomId = () => `prop-${++roomCounter}-${randomUUID().slice(0, 8)}`;

async function outcome(promise: Promise<RoomState>): Promise<RoomState | ErrorCode> {
  try {
    return await promise;
  } catch (error) {
    if (!(error instanceof ProtocolFailure)) throw error;
    return error.code;
  }
}

/** Each sequence through the memory store and through Redis (two nodes taking turns), step by step, against the rules. */
async function replayThroughStores(sequencesToRun: fc.Arbitrary<Step[]>, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(sequencesToRun, async (steps) => {
      const { planned } = plan(steps);
      const model = runSequence(steps);
      const id = freshRoomId();
      const memory = new MemoryRoomStore(fixedTtl(600));
      const start = { ...startRoom(), id };
      await memory.create(start);
      await nodeA.create(start);
      const nodes: RoomStore[] = [nodeA, nodeB];
      try {
        for (const [i, p] of planned.entries()) {
          const inMemory = await outcome(memory.update(id, p.change));
          const inRedis = await outcome(nodes[i % 2]!.update(id, p.change));
          expect(inRedis, p.label).toEqual(inMemory);
          expect(typeof inMemory === 'string' ? inMemory : 'ok').toBe(model.outcomes[i]);
        }
        const [fromMemory, fromRedis] = [await memory.get(id), await nodeB.get(id)];
        expect(fromRedis).toEqual(fromMemory);
        // A check-out's id comes from the version the store gives the state (the rules alone keep 0).
        expect(anyCheckoutId(fromMemory!)).toEqual(anyCheckoutId({ ...model.state, id, version: model.writes }));
        checkState(fromRedis!, plan(steps).ids);
      } finally {
        await nodeA.delete(id);
        await memory.close();
      }
    }),
    { numRuns },
  );
}

describe('stores replay the rules', { timeout: PROPERTY_TIMEOUT }, () => {
  it('memory and Redis (two nodes taking turns) end in the same state as the rules, step by step', async () => {
    await replayThroughStores(sessions(30), 25);
  });

  it('and so for turn-taking and muting: the floor and the holds survive JSON and the compare-and-set', async () => {
    await replayThroughStores(floorSequences, 20);
  });

  it('and so for sharing, the check-out and the aside: grants, shares and answers survive JSON and the compare-and-set', async () => {
    await replayThroughStores(toolSequences, 20);
  });
});

// ---------------------------------------------------------------------------------------
// Conflicting commands at the same time through two Redis connections.

const at = (n: number) => T0 + n * 1000;
const command = (actor: string, cmd: Command, now = at(100)): RoomChange => applyCommand(actor, cmd, now);
const acknowledgeAs =
  (id: string, now = at(100)): RoomChange =>
  (state) =>
    applyCommand(id, { type: 'agreement.acknowledge', version: state.agreement.version, privateSpace: true }, now)(state);

/** A room with two facilitators (f1, f2) and members m0..m(n-1) at the agreement. */
async function roomWithMembers(n: number, capacity = CAPACITY + n): Promise<{ id: string; ids: string[] }> {
  const id = freshRoomId();
  const ids = ['f1', 'f2', ...Array.from({ length: n }, (_, i) => `m${i}`)];
  let state = newRoom({ id, capacity, title: 'Concurrency', agreement: TEXTS[0], startsAt: T0, durationMinutes: 90 }, T0);
  state = enter({ id: 'f1', displayName: nameOf('f1'), role: 'facilitator', inviteId: null }, at(1))(state);
  state = enter({ id: 'f2', displayName: nameOf('f2'), role: 'facilitator', inviteId: null }, at(2))(state);
  for (const [i, m] of ids.slice(2).entries()) state = enter({ id: m, displayName: nameOf(m), role: 'member', inviteId: `inv-${m}` }, at(3 + i))(state);
  expect(await nodeA.create(state)).toBe(true);
  return { id, ids };
}

/**
 * A change that remembers whether its last run changed anything. A store may run a change
 * more than once (Redis retries after a concurrent write); the last run is the one stored.
 */
function tracked(change: RoomChange): { change: RoomChange; wrote: () => boolean; runs: () => number } {
  let changed = false;
  let runs = 0;
  return {
    runs: () => runs,
    change: (state) => {
      runs++;
      changed = false;
      const next = change(state);
      changed = next !== state;
      return next;
    },
    wrote: () => changed,
  };
}

/** Run changes at once, alternating between the two nodes; each call's outcome and whether it wrote. */
async function concurrently(
  id: string,
  changes: RoomChange[],
  firstNode = 0,
): Promise<{ results: (RoomState | ErrorCode)[]; wrote: boolean[]; runs: number }> {
  const calls = changes.map(tracked);
  const results = await Promise.all(calls.map((call, i) => outcome(((i + firstNode) % 2 ? nodeB : nodeA).update(id, call.change))));
  return {
    results,
    wrote: calls.map((call, i) => typeof results[i] !== 'string' && call.wrote()),
    runs: calls.reduce((sum, call) => sum + call.runs(), 0),
  };
}

/**
 * No lost update: the version went up by exactly the number of calls that wrote; the
 * versions they were given are exactly from+1..final, one each; the callers whose change was
 * a no-op were given a state that some write (or the start) had; and the final state is the
 * last write.
 */
async function expectOneChain(id: string, from: number, { results, wrote }: { results: (RoomState | ErrorCode)[]; wrote: boolean[] }): Promise<RoomState> {
  const final = (await nodeA.get(id))!;
  const writes = results.filter((r, i): r is RoomState => wrote[i]! && typeof r !== 'string');
  expect(final.version - from).toBe(writes.length);
  expect(writes.map((w) => w.version).sort((x, y) => x - y)).toEqual(Array.from({ length: writes.length }, (_, i) => from + 1 + i));
  for (const [i, r] of results.entries()) {
    if (typeof r !== 'string' && !wrote[i]) {
      const same = writes.find((w) => w.version === r.version);
      if (same) expect(r).toEqual(same);
      else expect(r.version).toBe(from);
    }
  }
  if (writes.length) expect(writes.find((w) => w.version === final.version)).toEqual(final);
  return final;
}

describe('two nodes, conflicting commands at once (Redis)', () => {
  it('admit and remove of the same person: the remove always wins, nothing is lost', async () => {
    for (let round = 0; round < 20; round++) {
      const { id, ids } = await roomWithMembers(2);
      await nodeA.update(id, acknowledgeAs('m0', at(10)));
      const before = (await nodeA.get(id))!;
      expect(before.members['m0']?.stage).toBe('waiting');

      const run = await concurrently(
        id,
        [command('f1', { type: 'member.admit', memberId: 'm0' }), command('f2', { type: 'member.remove', memberId: 'm0', block: true })],
        round % 2,
      );
      const admitted = run.results[0]!;
      const removed = run.results[1]!;
      expect(typeof removed).not.toBe('string');
      const final = await expectOneChain(id, before.version, run);
      expect(final.members['m0']).toBeUndefined();
      expect(final.blockedInvites).toEqual(['inv-m0']);
      // Both orders are legitimate.
      if (typeof admitted === 'string') {
        expect(admitted).toBe('NOT_FOUND'); // the remove came first: nothing left to admit
        expect(final.version).toBe(before.version + 1);
      } else {
        expect(admitted.members['m0']?.stage).toBe('admitted');
        expect(admitted.version).toBeLessThan((removed as RoomState).version);
        expect(final.version).toBe(before.version + 2);
      }
      checkState(final, ids);
      await nodeA.delete(id);
    }
  });

  it('both facilitators toggling the lock: each caller sees its own setting applied, in one chain', async () => {
    const { id, ids } = await roomWithMembers(1);
    const run = await concurrently(
      id,
      Array.from({ length: 20 }, (_, i) => command(i % 4 < 2 ? 'f1' : 'f2', { type: 'room.setLocked', locked: i % 2 === 0 })),
    );
    run.results.forEach((result, i) => {
      expect(typeof result).not.toBe('string');
      expect((result as RoomState).locked).toBe(i % 2 === 0);
    });
    const final = await expectOneChain(id, 0, run);
    expect(final.version).toBeGreaterThanOrEqual(1);
    checkState(final, ids);
    await nodeA.delete(id);
  });

  it('20 members acknowledging at once: 20 writes, 20 records, nobody lost', async () => {
    const { id, ids } = await roomWithMembers(20);
    const members = ids.slice(2);
    const run = await concurrently(
      id,
      members.map((m, i) => acknowledgeAs(m, at(50 + i))),
    );
    expect(run.runs).toBeGreaterThan(20); // writes did collide: the compare-and-set retried
    for (const r of run.results) expect(typeof r).not.toBe('string');
    const final = await expectOneChain(id, 0, run);
    expect(final.version).toBe(20);
    expect(final.acknowledgements.map((a) => a.memberId).sort()).toEqual([...members].sort());
    for (const [i, m] of members.entries()) {
      expect(final.members[m]?.stage).toBe('waiting');
      expect(final.acknowledgements).toContainEqual({ memberId: m, displayName: nameOf(m), version: INITIAL_VERSION, at: at(50 + i) });
    }
    checkState(final, ids);
    await nodeA.delete(id);
  });

  it('a storm of mixed commands from both facilitators and the members: one chain, invariants hold', async () => {
    for (let round = 0; round < 5; round++) {
      const { id, ids } = await roomWithMembers(8, 12);
      const members = ids.slice(2);
      // m0 admitted, m1..m3 waiting, m4..m7 at the agreement, before the storm.
      for (const m of members.slice(0, 4)) await nodeA.update(id, acknowledgeAs(m, at(10)));
      await nodeA.update(id, command('f1', { type: 'member.admit', memberId: 'm0' }));
      const before = (await nodeA.get(id))!;

      const storm: [string, RoomChange][] = [
        ['f1 admits m1', command('f1', { type: 'member.admit', memberId: 'm1' })],
        ['f2 removes m1', command('f2', { type: 'member.remove', memberId: 'm1', block: false })],
        ['f1 admits all', command('f1', { type: 'member.admitAll' })],
        ['f2 sets the text', command('f2', { type: 'agreement.set', text: TEXTS[1] })],
        ['f1 locks', command('f1', { type: 'room.setLocked', locked: true })],
        ['f2 unlocks', command('f2', { type: 'room.setLocked', locked: false })],
        ['f2 turns auto-admit on', command('f2', { type: 'room.setAutoAdmit', enabled: true })],
        ['f1 promotes m0', command('f1', { type: 'member.setRole', memberId: 'm0', role: 'cofacilitator' })],
        ['f2 removes m0 with block', command('f2', { type: 'member.remove', memberId: 'm0', block: true })],
        ['m7 leaves', leave('m7')],
        ['late enters', enter({ id: 'late', displayName: nameOf('late'), role: 'member', inviteId: 'inv-late' }, at(60))],
        ...members.slice(4, 7).map((m, i): [string, RoomChange] => [`${m} acknowledges`, acknowledgeAs(m, at(70 + i))]),
        ...members.slice(0, 4).map((m, i): [string, RoomChange] => [`${m} acknowledges again`, acknowledgeAs(m, at(80 + i))]),
      ];
      const run = await concurrently(
        id,
        storm.map(([, change]) => change),
        round % 2,
      );
      const result = (label: string) => run.results[storm.findIndex(([l]) => l === label)];
      for (const [i, r] of run.results.entries()) {
        if (typeof r === 'string') expect(['NOT_FOUND', 'INVALID_STATE', 'FORBIDDEN'], storm[i]![0]).toContain(r);
      }
      const final = await expectOneChain(id, before.version, run);
      checkState(final, [...ids, 'late']);

      // Every successful acknowledgement is on record, and the record only grew.
      const acknowledged = storm.flatMap(([label], i) => (label.includes('acknowledges') && typeof run.results[i] !== 'string' ? [label.split(' ')[0]!] : []));
      expect(final.acknowledgements.slice(0, before.acknowledgements.length)).toEqual(before.acknowledgements);
      expect(final.acknowledgements.length - before.acknowledgements.length).toBe(acknowledged.length);
      for (const m of acknowledged) expect(final.acknowledgements.some((a) => a.memberId === m && a.at >= at(70))).toBe(true);
      // Effects that nothing in the storm can undo are visible.
      expect(final.members['m1']).toBeUndefined();
      expect(final.members['m0']).toBeUndefined();
      expect(final.members['m7']).toBeUndefined();
      expect(final.blockedInvites).toEqual(['inv-m0']);
      expect(final.agreement.text).toBe(TEXTS[1]);
      expect(final.autoAdmit).toBe(true);
      // Nothing removes the late entrant: they are in exactly when their entry succeeded
      // (it may meet the lock).
      const entered = result('late enters');
      expect(final.members['late'] !== undefined).toBe(typeof entered !== 'string');
      if (typeof entered === 'string') expect(entered).toBe('FORBIDDEN');
      await nodeA.delete(id);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Turn-taking and muting at the same time through two Redis connections.

/** A room with f1, f2 and members m0..m(n-1), all admitted. */
async function roomInSession(n: number): Promise<{ id: string; ids: string[]; members: string[] }> {
  const { id, ids } = await roomWithMembers(n, n + 4);
  const members = ids.slice(2);
  for (const m of members) {
    await nodeA.update(id, acknowledgeAs(m, at(10)));
    await nodeB.update(id, command('f1', { type: 'member.admit', memberId: m }, at(11)));
  }
  return { id, ids, members };
}

describe('two nodes, turn-taking and muting at once (Redis)', () => {
  it('everyone raising a hand at once, twice: each is in the queue once, in the order the writes landed', async () => {
    const { id, ids, members } = await roomInSession(8);
    await nodeA.update(id, command('f1', { type: 'floor.setMode', mode: 'hands' }));
    const before = (await nodeA.get(id))!;
    const run = await concurrently(
      id,
      [...members, ...members].map((m) => command(m, { type: 'hand.raise' })),
    );
    for (const r of run.results) expect(typeof r).not.toBe('string');
    const final = await expectOneChain(id, before.version, run);
    expect(final.version - before.version).toBe(members.length); // the second raise of each is a no-op
    expect([...final.floor.hands].sort()).toEqual([...members].sort());
    const writes = run.results.filter((r, i): r is RoomState => run.wrote[i]! && typeof r !== 'string').sort((x, y) => x.version - y.version);
    expect(final.floor.hands).toEqual(writes.map((w) => w.floor.hands.at(-1)));
    checkState(final, ids);
    await nodeA.delete(id);
  });

  it('two facilitators granting while the holder hands the floor back: the later grant holds it, nobody is both holding and queued', async () => {
    for (let round = 0; round < 10; round++) {
      const { id, ids, members } = await roomInSession(5);
      const [m0, m1, m2, m3, m4] = members as [string, string, string, string, string];
      await nodeA.update(id, command('f1', { type: 'floor.setMode', mode: 'hands' }));
      for (const m of [m0, m1, m2, m3]) await nodeA.update(id, command(m, { type: 'hand.raise' }));
      await nodeA.update(id, command('f1', { type: 'floor.grant', memberId: m0 }));
      const before = (await nodeA.get(id))!;

      const storm: [string, RoomChange][] = [
        ['f1 grants m1', command('f1', { type: 'floor.grant', memberId: m1 })],
        ['f2 grants m2', command('f2', { type: 'floor.grant', memberId: m2 })],
        ['m0 releases', command(m0, { type: 'floor.release' })],
        ['m0 raises again', command(m0, { type: 'hand.raise' })],
        ['m1 raises', command(m1, { type: 'hand.raise' })],
        ['m3 lowers', command(m3, { type: 'hand.lower' })],
        ['m4 raises', command(m4, { type: 'hand.raise' })],
        ['f2 moves m4 first', command('f2', { type: 'hands.move', memberId: m4, to: 0 })],
      ];
      const run = await concurrently(
        id,
        storm.map(([, change]) => change),
        round % 2,
      );
      const result = (label: string) => run.results[storm.findIndex(([l]) => l === label)];
      for (const [i, r] of run.results.entries()) {
        if (typeof r === 'string') expect(['FORBIDDEN', 'NOT_FOUND'], storm[i]![0]).toContain(r);
      }
      const final = await expectOneChain(id, before.version, run);
      checkState(final, ids);
      // Both grants succeed (m1 and m2 are in the room); the release can only come before them.
      const [toM1, toM2] = [result('f1 grants m1') as RoomState, result('f2 grants m2') as RoomState];
      expect(typeof toM1).not.toBe('string');
      expect(typeof toM2).not.toBe('string');
      expect(final.floor.holder).toBe(toM1.version > toM2.version ? m1 : m2);
      const released = result('m0 releases')!;
      if (typeof released === 'string') expect(released).toBe('FORBIDDEN');
      else expect(released.version).toBeLessThan(Math.min(toM1.version, toM2.version));
      expect(final.floor.hands).not.toContain(m3);
      expect(final.floor.hands).not.toContain(final.floor.holder);
      await nodeA.delete(id);
    }
  });

  it('a turn running out while its holder passes: the stick moves on exactly once', async () => {
    for (let round = 0; round < 10; round++) {
      const { id, ids, members } = await roomInSession(4);
      await nodeA.update(id, command('f1', { type: 'round.start', order: members, turnSeconds: 15, onTimeout: 'pass' }, at(20)));
      const before = (await nodeA.get(id))!;
      expect(before.floor.holder).toBe(members[0]);
      const run = await concurrently(id, [expireTurn(before.floor.turn, at(40)), command(members[0]!, { type: 'round.pass' }, at(30))], round % 2);
      const final = await expectOneChain(id, before.version, run);
      expect(final.version).toBe(before.version + 1);
      expect(final.floor.holder).toBe(members[1]);
      expect(final.floor.round?.position).toBe(1);
      expect(final.floor.turn).toBe(before.floor.turn + 1);
      // Whichever came second found the turn already over: the time-out was stale (no write), or
      // the pass came from someone no longer holding the stick.
      const passed = run.results[1]!;
      expect(run.wrote[0]).toBe(typeof passed === 'string');
      if (typeof passed === 'string') expect(passed).toBe('FORBIDDEN');
      checkState(final, ids);
      await nodeA.delete(id);
    }
  });

  it('someone leaving while being given the floor or taking their turn: the floor never stays with them', async () => {
    for (let round = 0; round < 10; round++) {
      const { id, ids, members } = await roomInSession(3);
      const [m0, m1, m2] = members as [string, string, string];
      await nodeA.update(id, command('f1', { type: 'floor.setMode', mode: 'hands' }));
      await nodeA.update(id, command(m0, { type: 'hand.raise' }));
      await nodeA.update(id, command(m1, { type: 'hand.raise' }));
      const raised = (await nodeA.get(id))!;
      const granting = await concurrently(id, [command('f1', { type: 'floor.grant', memberId: m0 }), leave(m0, at(100))], round % 2);
      const afterGrant = await expectOneChain(id, raised.version, granting);
      expect(afterGrant.members[m0]).toBeUndefined();
      expect(afterGrant.floor.holder).toBeNull();
      expect(afterGrant.floor.hands).toEqual([m1]);
      if (typeof granting.results[0] === 'string') expect(granting.results[0]).toBe('NOT_FOUND');
      checkState(afterGrant, ids);

      // A round of m1 then m2: m1 leaves as a facilitator passes the stick.
      await nodeA.update(id, command('f1', { type: 'round.start', order: null, turnSeconds: null, onTimeout: 'warn' }));
      const inRound = (await nodeA.get(id))!;
      expect(inRound.floor.round?.order).toEqual([m1, m2]);
      const passing = await concurrently(id, [leave(m1, at(110)), command('f2', { type: 'round.pass' })], round % 2);
      const final = await expectOneChain(id, inRound.version, passing);
      expect(final.members[m1]).toBeUndefined();
      // Leaving first hands the stick to m2, and the pass then ends the round; passing first
      // hands it to m2, who keeps it when m1 leaves.
      if (final.floor.mode === 'round') {
        expect(final.floor.holder).toBe(m2);
        expect(final.floor.round).toMatchObject({ order: [m2], position: 0 });
      } else {
        expect(final.floor).toMatchObject({ mode: 'open', holder: null, round: null });
      }
      checkState(final, ids);
      await nodeA.delete(id);
    }
  });

  it('a mute racing an accepted ask: the microphone ends up held either way', async () => {
    for (let round = 0; round < 10; round++) {
      const { id, ids, members } = await roomInSession(2);
      const [m0] = members as [string];
      await nodeA.update(id, command('f1', { type: 'member.mute', memberId: m0, source: 'mic' }));
      await nodeA.update(id, command('f2', { type: 'member.ask', memberId: m0, source: 'mic' }));
      const before = (await nodeA.get(id))!;
      const run = await concurrently(
        id,
        [command('f1', { type: 'member.mute', memberId: m0, source: 'mic' }), command(m0, { type: 'ask.answer', source: 'mic', accept: true })],
        round % 2,
      );
      const final = await expectOneChain(id, before.version, run);
      expect(final.members[m0]).toMatchObject({ heldOff: ['mic'], asked: [] });
      expect(maySend(final, m0, 'mic')).toBe(false);
      // The mute first withdraws the ask, so the answer finds none; the answer first is undone by the mute.
      const answered = run.results[1]!;
      if (typeof answered === 'string') expect(answered).toBe('INVALID_STATE');
      else expect(answered.members[m0]?.heldOff).toEqual([]);
      checkState(final, ids);
      await nodeA.delete(id);
    }
  });
});
