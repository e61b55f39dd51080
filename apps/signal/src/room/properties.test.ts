import { randomUUID } from 'node:crypto';
import { commandTypes, isFacilitatorRole, ProtocolFailure, RoomView, type Command, type CommandType, type ErrorCode } from '@group-room/shared';
import fc from 'fast-check';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRoomStore } from '../store/memory-room-store.js';
import { RedisRoomStore } from '../store/redis-room-store.js';
import { fixedTtl, type RoomStore } from '../store/room-store.js';
import { actorState, isAllowed } from './authorisation.js';
import { applyCommand } from './commands.js';
import { enter, leave } from './entry.js';
import { putProducer, removeProducer, setProducerPaused } from './producers.js';
import { viewFor } from './projection.js';
import { agreementVersion, mediaAllowed, memberCount, membersInOrder, newRoom, type RoomChange, type RoomState } from './state.js';

/*
 * Property tests: random sequences of entries, leaves, commands by anyone (allowed or not)
 * and producer changes, applied through the rules as the server applies them. Refused steps
 * must leave the state exactly as it was; after every step the room's invariants must hold.
 * The same sequences then run through both stores, and conflicting commands run
 * concurrently through two Redis connections (two signalling nodes).
 */

// ---------------------------------------------------------------------------------------
// The model: steps, and how each becomes a pure change.

const CAPACITY = 6;
const TEXTS = ['The first agreement.', 'A second agreement.', 'A third agreement.'] as const;
const INITIAL_VERSION = agreementVersion(TEXTS[0]);
const INVITES = ['inv-0', 'inv-1', 'inv-2'] as const;
const T0 = 1_700_000_000_000;
const GHOST = 'ghost';

/** Who acts: anyone (including people who left and a ghost), or someone picked from the state. */
type ActorPick = 'anyone' | 'facilitator' | 'unacknowledged';
/** Whom a command is about: anyone, or someone other than a facilitator at a given stage in the state. */
type TargetPick = 'anyone' | 'agreement' | 'waiting' | 'admitted';

type Step =
  | { kind: 'enter'; role: 'facilitator' | 'member'; invite: number }
  | { kind: 'leave'; who: number }
  | {
      kind: 'command';
      by: ActorPick;
      who: number;
      type: CommandType;
      about: TargetPick;
      target: number;
      text: number;
      version: 'current' | 'initial' | 'garbage';
      flag: boolean;
    }
  | { kind: 'producer'; who: number; op: 'put' | 'pause' | 'resume' | 'remove'; producer: number };

const commandTypeArb: fc.Arbitrary<CommandType> = fc.oneof(
  { weight: 16, arbitrary: fc.constant('agreement.acknowledge' as const) },
  { weight: 4, arbitrary: fc.constant('agreement.set' as const) },
  { weight: 12, arbitrary: fc.constant('member.admit' as const) },
  { weight: 3, arbitrary: fc.constant('member.admitAll' as const) },
  { weight: 6, arbitrary: fc.constant('member.remove' as const) },
  { weight: 6, arbitrary: fc.constant('member.setRole' as const) },
  { weight: 3, arbitrary: fc.constant('room.setAutoAdmit' as const) },
  { weight: 4, arbitrary: fc.constant('room.setLocked' as const) },
  { weight: 1, arbitrary: fc.constant('session.end' as const) },
);

const who = fc.nat(23);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('enter' as const),
      role: fc.constantFrom('facilitator' as const, 'member' as const, 'member' as const, 'member' as const),
      invite: fc.nat(INVITES.length - 1),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), who }) },
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      by: fc.constantFrom<ActorPick>('anyone', 'facilitator', 'facilitator', 'facilitator', 'unacknowledged'),
      who,
      type: commandTypeArb,
      about: fc.constantFrom<TargetPick>('anyone', 'agreement', 'waiting', 'waiting', 'admitted', 'admitted'),
      target: who,
      text: fc.nat(TEXTS.length - 1),
      version: fc.constantFrom('current' as const, 'current' as const, 'current' as const, 'initial' as const, 'garbage' as const),
      flag: fc.boolean(),
    })
      // Mostly the right people about the right people, so that commands also succeed.
      .map((c) => ({
        ...c,
        by: c.type === 'agreement.acknowledge' && c.by === 'facilitator' ? ('unacknowledged' as const) : c.by,
        about: c.type === 'member.admit' && c.about === 'agreement' ? ('waiting' as const) : c.type === 'member.setRole' && c.about !== 'anyone' ? ('admitted' as const) : c.about,
      })),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('producer' as const),
      who,
      op: fc.constantFrom('put' as const, 'pause' as const, 'resume' as const, 'remove' as const),
      producer: fc.nat(1),
    }),
  },
);

interface Planned {
  step: Step;
  label: string;
  change: RoomChange;
  /** Who acts (or enters, or leaves), given the state the step is applied to. */
  actor: (state: RoomState) => string;
  /** The command a command step sends, given the state it is applied to. */
  command?: (state: RoomState) => Command;
  inviteId?: string | null;
}

const nameOf = (id: string) => `Name<${id}>`;

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
          change: enter({ id, displayName: nameOf(id), role: step.role, inviteId }, now),
        };
      }
      case 'leave': {
        const id = anyone(step.who);
        return { step, label: `${id} leaves`, actor: () => id, change: leave(id) };
      }
      case 'command': {
        const actor = (state: RoomState): string =>
          step.by === 'facilitator'
            ? fromState(state, step.who, (id) => isFacilitatorRole(state.members[id]!.role))
            : step.by === 'unacknowledged'
              ? fromState(state, step.who, (id) => actorState(state, id) === 'unacknowledged')
              : anyone(step.who);
        const target = (state: RoomState): string =>
          step.about === 'anyone'
            ? anyone(step.target)
            : fromState(state, step.target, (id) => state.members[id]!.stage === step.about && state.members[id]!.role !== 'facilitator');
        const command = (state: RoomState) => commandFor(step, state, target(state));
        const change: RoomChange = (state) => applyCommand(actor(state), command(state), now)(state);
        return { step, label: `${step.by} ${step.who}: ${step.type} about ${step.about} ${step.target}`, actor, command, change };
      }
      case 'producer': {
        const actor = anyone(step.who);
        const producerId = `${actor}-producer-${step.producer}`;
        const change =
          step.op === 'put'
            ? putProducer(actor, { id: producerId, kind: step.producer ? 'video' : 'audio', source: step.producer ? 'camera' : 'mic', paused: false })
            : step.op === 'remove'
              ? removeProducer(actor, producerId)
              : setProducerPaused(actor, producerId, step.op === 'pause');
        return { step, label: `${actor}: producer ${step.op} ${producerId}`, actor: () => actor, change };
      }
    }
  });
  return { planned, ids };
}

function commandFor(step: Extract<Step, { kind: 'command' }>, state: RoomState, memberId: string): Command {
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
    case 'session.end':
      return { type: step.type };
  }
}

const startRoom = (id = 'property-room') =>
  newRoom({ id, capacity: CAPACITY, title: 'Property group', agreement: TEXTS[0], startsAt: T0, durationMinutes: 90 }, T0);

// ---------------------------------------------------------------------------------------
// Invariants.

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

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

  check(memberCount(state) <= state.capacity, `${memberCount(state)} people in a room for ${state.capacity}`);
  check(new Set(state.blockedInvites).size === state.blockedInvites.length, 'an invite is blocked twice');

  for (const m of members) {
    // Media follows state: admitted and, for members, the current agreement acknowledged.
    if (mediaAllowed(state, m.id)) {
      check(m.stage === 'admitted', `${m.id} has media at stage ${m.stage}`);
      check(isFacilitatorRole(m.role) || m.acknowledgedVersion === state.agreement.version, `${m.id} has media without acknowledging`);
    }
    check(!isFacilitatorRole(m.role) || m.stage === 'admitted', `${m.role} ${m.id} at stage ${m.stage}`);
    // Someone at the agreement can always acknowledge it.
    if (m.stage === 'agreement') {
      check(actorState(state, m.id) === 'unacknowledged', `${m.id} is at the agreement but cannot acknowledge it`);
    }
  }

  for (const ack of state.acknowledgements) {
    check(ids.includes(ack.memberId) && ack.displayName === nameOf(ack.memberId), `unknown acknowledgement ${JSON.stringify(ack)}`);
  }

  const admitted = new Set(members.filter((m) => m.stage === 'admitted').map((m) => m.id));
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

    const where = actorState(state, viewer.id);
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

  if (step.kind === 'enter') {
    check(!before.ended || failure?.code === 'NOT_FOUND', 'entered an ended session');
    check(!planned.inviteId || !before.blockedInvites.includes(planned.inviteId) || failure !== undefined, `entered with blocked ${planned.inviteId}`);
  }

  if (step.kind === 'command') {
    if (before.ended) {
      check(failure?.code === 'NOT_FOUND', `${step.type} in an ended session: ${failure?.code ?? 'ok'}`);
    } else if (!isAllowed(before, actor, step.type)) {
      check(failure?.code === 'FORBIDDEN', `${step.type} by ${actor} (${actorState(before, actor)}) not refused: ${failure?.code ?? 'ok'}`);
    } else if (failure?.code === 'FORBIDDEN') {
      // The only FORBIDDEN past the table: touching the facilitator.
      const command = planned.command!(before) as Partial<Extract<Command, { memberId: string }>>;
      check(
        (step.type === 'member.remove' || step.type === 'member.setRole') && before.members[command.memberId ?? '']?.role === 'facilitator',
        `${step.type} allowed by the table but FORBIDDEN`,
      );
    }
    // Commands never change or remove the facilitator.
    for (const m of Object.values(before.members)) {
      if (m.role === 'facilitator') check(after.members[m.id]?.role === 'facilitator', `${step.type} changed or removed facilitator ${m.id}`);
    }
    if (!failure && step.type === 'agreement.acknowledge') {
      check(after.acknowledgements.length === before.acknowledgements.length + 1, 'an acknowledgement was not recorded');
    }
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

function runSequence(steps: Step[]): { state: RoomState; outcomes: (ErrorCode | 'ok')[]; changed: boolean[]; writes: number } {
  const { planned, ids } = plan(steps);
  let state = startRoom();
  const outcomes: (ErrorCode | 'ok')[] = [];
  const changed: boolean[] = [];
  planned.forEach((p, i) => {
    const { next, failure } = applyStep(state, p);
    checkStep(state, next, p, failure);
    checkState(next, ids, i % 4 === 0 || i === planned.length - 1);
    outcomes.push(failure ? failure.code : 'ok');
    changed.push(next !== state);
    state = next;
  });
  return { state, outcomes, changed, writes: changed.filter(Boolean).length };
}

/** Most sessions start with their facilitator; some have none at all. */
const sessions = (maxLength: number): fc.Arbitrary<Step[]> =>
  fc
    .tuple(fc.nat(4), fc.array(stepArb, { minLength: 1, maxLength, size: 'medium' }))
    .map(([host, steps]) => (host ? [{ kind: 'enter', role: 'facilitator', invite: 0 } as const, ...steps] : steps));

const sequences = sessions(40);

// ---------------------------------------------------------------------------------------

describe('room rules (property-based)', () => {
  it('keep every invariant over random sequences of entries, leaves, commands and producer changes', () => {
    fc.assert(
      fc.property(sequences, (steps) => {
        runSequence(steps);
      }),
      { numRuns: 200 },
    );
  });

  it('exercise every command, allowed and refused, and every kind of outcome', () => {
    // A guard against a generator that only produces refusals or no-ops: over many sequences,
    // each command type both changes the state and is refused, and people get all the way in.
    const seen = new Map<string, number>();
    const count = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1);
    fc.assert(
      fc.property(sequences, (steps) => {
        const { planned } = plan(steps);
        const { outcomes, changed, state } = runSequence(steps);
        planned.forEach((p, i) => count(`${p.step.kind === 'command' ? p.step.type : p.step.kind}:${changed[i] ? 'changed' : outcomes[i]}`));
        for (const m of Object.values(state.members)) count(`stage:${m.stage}`);
      }),
      { numRuns: 150, seed: 42 },
    );
    for (const type of commandTypes) {
      expect(seen.get(`${type}:changed`) ?? 0, `${type} changed the state`).toBeGreaterThan(0);
      expect(seen.get(`${type}:FORBIDDEN`) ?? 0, `${type} refused`).toBeGreaterThan(0);
    }
    const outcomes = ['enter:changed', 'enter:ROOM_FULL', 'enter:FORBIDDEN', 'enter:NOT_FOUND', 'leave:changed', 'producer:changed', 'producer:NOT_FOUND'];
    for (const key of [...outcomes, 'stage:agreement', 'stage:waiting', 'stage:admitted']) {
      expect(seen.get(key) ?? 0, key).toBeGreaterThan(0);
    }
  });

  it('are deterministic: the same sequence gives the same state', () => {
    fc.assert(
      fc.property(sequences, (steps) => {
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
  nodeA = await RedisRoomStore.connect(REDIS_URL, prefix, fixedTtl(600));
  nodeB = await RedisRoomStore.connect(REDIS_URL, prefix, fixedTtl(600));
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

describe('stores replay the rules', () => {
  it('memory and Redis (two nodes taking turns) end in the same state as the rules, step by step', async () => {
    await fc.assert(
      fc.asyncProperty(sessions(30), async (steps) => {
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
          expect(fromMemory).toEqual({ ...model.state, id, version: model.writes });
        } finally {
          await nodeA.delete(id);
          await memory.close();
        }
      }),
      { numRuns: 25 },
    );
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
