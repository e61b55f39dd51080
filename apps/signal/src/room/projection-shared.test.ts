import { isFacilitatorRole, ProtocolFailure, type Command, type DeviceSource, type MediaSource, type MemberDetail, type MemberSummary, type RoomView } from '@group-room/shared';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { actorState } from './authorisation.js';
import { markCheckedOut } from './checkout-commands.js';
import { applyCommand } from './commands.js';
import { enter, leave } from './entry.js';
import { putProducer, setProducerPaused } from './producers.js';
import { viewFor } from './projection.js';
import { viewEventJson } from './view-json.js';
import { disconnectSeat } from './seats.js';
import { heldBy, mediaAllowed, maySend, membersInOrder, mustAcknowledge, newRoom, type MemberState, type RoomChange, type RoomState } from './state.js';
import { deepFreeze } from './rules.test-support.js';

/*
 * viewFor builds the parts of a view that every viewer shares (the member list, the
 * facilitation block) once per state. Checked against the projection as it was before, which
 * built every view from scratch: over random rooms, every person's view of every state is
 * the same, to the byte, whoever's view of that state was made first.
 */

// ---------------------------------------------------------------------------------------
// The projection before the shared parts, kept as the oracle.

function sending(state: RoomState, m: MemberState, source: MediaSource): boolean {
  return maySend(state, m.id, source) && Object.values(m.producers).some((p) => p.source === source && !p.paused);
}

const summary = (state: RoomState, m: MemberState): MemberSummary => ({
  id: m.id,
  displayName: m.displayName,
  role: m.role,
  connection: m.connectionId === null ? 'reconnecting' : 'online',
  producers: Object.values(m.producers),
  sending: { mic: sending(state, m, 'mic'), camera: sending(state, m, 'camera'), screen: sending(state, m, 'screen') },
});

const share = (state: RoomState) => state.share ?? { maxShares: 1 as const, allowWholeScreen: false, granted: [], asking: [] };

const detail = (state: RoomState, m: MemberState): MemberDetail => ({
  ...summary(state, m),
  stage: m.stage,
  acknowledgedVersion: m.acknowledgedVersion,
  enteredAt: m.enteredAt,
  inviteId: m.inviteId,
  heldOff: m.heldOff,
  asked: m.asked,
  share: { granted: isFacilitatorRole(m.role) || share(state).granted.includes(m.id), asking: share(state).asking.includes(m.id) },
  owner: m.owner === true,
});

function unsharedViewFor(state: RoomState, viewerId: string): RoomView | null {
  const viewer = state.members[viewerId];
  if (!viewer) return null;
  const inRoom = actorState(state, viewerId) === 'admitted';
  const ordered = membersInOrder(state);
  return {
    roomId: state.id,
    title: state.title,
    session: state.session,
    agreement: state.agreement,
    locked: state.locked,
    self: {
      id: viewer.id,
      displayName: viewer.displayName,
      role: viewer.role,
      stage: viewer.stage,
      inviteId: viewer.inviteId,
      mustAcknowledge: mustAcknowledge(state, viewer),
      media: mediaAllowed(state, viewer.id),
      held: { mic: heldBy(state, viewer, 'mic'), camera: heldBy(state, viewer, 'camera') },
      asked: viewer.asked,
      share: { may: maySend(state, viewer.id, 'screen'), asking: share(state).asking.includes(viewer.id) },
      checkedOut: Boolean(state.checkout?.done.includes(viewer.id)),
    },
    ...(inRoom
      ? {
          members: ordered.filter((m) => m.stage === 'admitted').map((m) => summary(state, m)),
          floor: state.floor,
          share: { maxShares: share(state).maxShares, allowWholeScreen: share(state).allowWholeScreen },
          checkout: state.checkout
            ? {
                id: state.checkout.id,
                startedAt: state.checkout.startedAt,
                done: ordered.filter((m) => m.role === 'member' && m.stage === 'admitted' && state.checkout!.done.includes(m.id)).length,
                of: ordered.filter((m) => m.role === 'member' && m.stage === 'admitted').length,
              }
            : null,
          aside: state.aside ?? null,
        }
      : {}),
    ...(inRoom && isFacilitatorRole(viewer.role)
      ? {
          facilitation: {
            autoAdmit: state.autoAdmit,
            everyone: ordered.map((m) => detail(state, m)),
            acknowledgements: state.acknowledgements,
            checkedOut: state.checkout?.done ?? [],
          },
        }
      : {}),
  };
}

// ---------------------------------------------------------------------------------------
// Random rooms: a facilitator and five others arriving, acknowledging, being admitted,
// promoted, muted, given the floor, sending media and dropping, in any order.

const T = 1_700_000_000_000;
const HOST = 'host';
const PEOPLE = [HOST, 'p1', 'p2', 'p3', 'p4', 'p5'] as const;
const TEXTS = ['Be kind.', 'Be very kind.'] as const;

const person = fc.constantFrom(...PEOPLE);
const source = fc.constantFrom<MediaSource>('mic', 'camera', 'screen');
const device = fc.constantFrom<DeviceSource>('mic', 'camera');

/** A change that fast-check prints by what it does (in a counterexample). */
const named = (label: string, change: RoomChange): RoomChange => Object.assign(change, { [fc.toStringMethod]: () => label });
const by = (actor: string, command: Command): RoomChange => named(`${actor}: ${JSON.stringify(command)}`, applyCommand(actor, command, T));

const step: fc.Arbitrary<RoomChange> = fc.oneof(
  person.map((id) => named(`${id} enters`, enter({ id, displayName: `Name of ${id}`, role: id === HOST ? 'facilitator' : 'member', inviteId: null }, T))),
  person.map((id) => named(`${id} leaves`, leave(id, T))),
  person.map((id) => named(`${id} drops`, disconnectSeat(id, id, T))),
  person.map((id) => named(`${id} acknowledges`, (state) => applyCommand(id, { type: 'agreement.acknowledge', version: state.agreement.version, privateSpace: true }, T)(state))),
  fc.tuple(person, person).map(([actor, memberId]) => by(actor, { type: 'member.admit', memberId })),
  fc.tuple(person, fc.constantFrom<'cofacilitator' | 'member'>('cofacilitator', 'member')).map(([memberId, role]) => by(HOST, { type: 'member.setRole', memberId, role })),
  fc.constantFrom(...TEXTS).map((text) => by(HOST, { type: 'agreement.set', text })),
  fc
    .constantFrom<Command>(
      { type: 'room.setAutoAdmit', enabled: true },
      { type: 'room.setAutoAdmit', enabled: false },
      { type: 'room.setLocked', locked: true },
      { type: 'room.setLocked', locked: false },
      { type: 'floor.setMode', mode: 'hands' },
      { type: 'floor.setMode', mode: 'open' },
      { type: 'member.muteAll', except: null },
    )
    .map((command) => by(HOST, command)),
  person.map((id) => by(id, { type: 'hand.raise' })),
  person.map((memberId) => by(HOST, { type: 'floor.grant', memberId })),
  fc.tuple(person, device).map(([memberId, s]) => by(HOST, { type: 'member.mute', memberId, source: s })),
  person.map((memberId) => by(HOST, { type: 'share.grant', memberId })),
  person.map((memberId) => by(HOST, { type: 'share.revoke', memberId })),
  fc.tuple(person, fc.boolean()).map(([id, asking]) => by(id, { type: 'share.ask', asking })),
  fc.constantFrom<1 | 2>(1, 2).map((maxShares) => by(HOST, { type: 'share.setPolicy', maxShares, allowWholeScreen: maxShares === 2 })),
  fc.constantFrom<Command>({ type: 'checkout.start' }, { type: 'checkout.end' }, { type: 'aside.end' }).map((command) => by(HOST, command)),
  person.map((id) => named(`${id} checks out`, (state) => markCheckedOut(id, state.checkout?.id ?? 'none')(state))),
  person.map((memberId) => by(HOST, { type: 'aside.start', memberId })),
  fc
    .tuple(person, source, fc.boolean())
    .map(([id, s, paused]) => named(`${id} sends ${s}${paused ? ', paused' : ''}`, putProducer(id, { id: `${id}-${s}`, kind: s === 'mic' ? 'audio' : 'video', source: s, paused }))),
  fc.tuple(person, source, fc.boolean()).map(([id, s, paused]) => named(`${id} ${paused ? 'pauses' : 'resumes'} ${s}`, setProducerPaused(id, `${id}-${s}`, paused))),
);

/** Apply a step; a refused one (e.g. a member admitting someone) leaves the state as it was. */
function attempt(state: RoomState, change: RoomChange): RoomState {
  try {
    return change(state);
  } catch (error) {
    if (error instanceof ProtocolFailure) return state;
    throw error;
  }
}

/** Everyone in the room, facilitators' views made first or last (the shared parts are built by whoever comes first). */
function viewers(state: RoomState, facilitatorsFirst: boolean): string[] {
  const ids = Object.keys(state.members);
  const facilitators = ids.filter((id) => isFacilitatorRole(state.members[id]!.role));
  const others = ids.filter((id) => !facilitators.includes(id));
  return facilitatorsFirst ? [...facilitators, ...others] : [...others.reverse(), ...facilitators];
}

describe('viewFor, with the parts every viewer shares built once per state', () => {
  it('gives everyone the same view, to the byte, as building each view from scratch (also as the JSON sent)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(step, fc.boolean()), { minLength: 1, maxLength: 40 }), (steps) => {
        let state = newRoom({ id: 'shared-parts-room', capacity: 6, title: 'Circle', agreement: TEXTS[0], startsAt: T, durationMinutes: 60 }, T);
        for (const [change, facilitatorsFirst] of steps) {
          state = deepFreeze(attempt(state, change));
          for (const id of viewers(state, facilitatorsFirst)) {
            const view = viewFor(state, id);
            const expected = unsharedViewFor(state, id);
            expect(view).toEqual(expected);
            expect(JSON.stringify(view)).toBe(JSON.stringify(expected));
            // As sent: the shared parts' JSON kept from earlier views (and states) is still theirs.
            expect(viewEventJson(view!, T)).toBe(JSON.stringify({ view: expected, serverNow: T }));
          }
          expect(viewFor(state, 'nobody')).toBeNull();
        }
      }),
      { numRuns: 300 },
    );
  });

  it('builds the member list and the facilitation block once per state, and again for the next state', () => {
    const arrive = (id: string, role: 'facilitator' | 'member'): RoomChange => enter({ id, displayName: id, role, inviteId: null }, T);
    const acknowledge = (id: string): RoomChange => (state) => applyCommand(id, { type: 'agreement.acknowledge', version: state.agreement.version, privateSpace: true }, T)(state);
    let state = newRoom({ id: 'shared-parts-room', capacity: 6, title: 'Circle', agreement: TEXTS[0], startsAt: T, durationMinutes: 60 }, T);
    for (const change of [
      arrive(HOST, 'facilitator'),
      arrive('p1', 'member'),
      arrive('p2', 'member'),
      acknowledge('p1'),
      acknowledge('p2'),
      applyCommand(HOST, { type: 'member.admit', memberId: 'p1' }, T),
      applyCommand(HOST, { type: 'member.admit', memberId: 'p2' }, T),
      applyCommand(HOST, { type: 'member.setRole', memberId: 'p2', role: 'cofacilitator' }, T),
    ]) {
      state = change(state);
    }
    const [host, co, member] = [viewFor(state, HOST)!, viewFor(state, 'p2')!, viewFor(state, 'p1')!];
    expect(host.facilitation).toBe(co.facilitation);
    expect(host.members).toBe(member.members);
    expect(host.self).not.toEqual(co.self);

    const next = applyCommand(HOST, { type: 'floor.setMode', mode: 'hands' }, T)(state);
    const after = viewFor(next, 'p1')!;
    expect(after.members).not.toBe(member.members);
    expect(after.floor?.mode).toBe('hands');
    expect(viewFor(next, HOST)?.facilitation).not.toBe(host.facilitation);
  });
});
