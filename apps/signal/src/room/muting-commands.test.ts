import { type Command, type DeviceSource, type MediaSource, type ProducerView, type Role } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { applyCommand } from './commands.js';
import { enter } from './entry.js';
import { putProducer, setProducerPaused } from './producers.js';
import { viewFor } from './projection.js';
import { heldBy, maySend, mediaPolicy, newRoom, type RoomChange, type RoomState } from './state.js';
import { deepFreeze, expectRefused } from './rules.test-support.js';

/*
 * Muting the server enforces: a facilitator turns a member's microphone or camera off, never
 * on; the member turns it back on only by accepting an ask. Through `applyCommand`, as the
 * server applies it, and checked against who may send (what the media layer applies).
 */

const T = 200_000;
const run = (state: RoomState, ...changes: RoomChange[]): RoomState => changes.reduce((s, change) => change(s), state);
const arrive = (id: string, role: Role = 'member', at = T): RoomChange => enter({ id, displayName: `Name of ${id}`, role, inviteId: role === 'member' ? `invite-${id}` : null }, at);
const by = (actor: string, command: Command): RoomChange => applyCommand(actor, command, T);
const acknowledge =
  (id: string): RoomChange =>
  (state) =>
    by(id, { type: 'agreement.acknowledge', version: state.agreement.version, privateSpace: true })(state);
const admit = (id: string): RoomChange => by('host', { type: 'member.admit', memberId: id });
const inRoom = (id: string, at: number): RoomChange[] => [arrive(id, 'member', at), acknowledge(id), admit(id)];

const mute = (memberId: string, source: DeviceSource = 'mic', actor = 'host') => by(actor, { type: 'member.mute', memberId, source });
const muteAll = (except: string | null, actor = 'host') => by(actor, { type: 'member.muteAll', except });
const ask = (memberId: string, source: DeviceSource = 'mic', actor = 'host') => by(actor, { type: 'member.ask', memberId, source });
const answer = (actor: string, accept: boolean, source: DeviceSource = 'mic') => by(actor, { type: 'ask.answer', source, accept });

const mic = (id: string): ProducerView => ({ id: `${id}-mic`, kind: 'audio', source: 'mic', paused: false });
const cam = (id: string): ProducerView => ({ id: `${id}-cam`, kind: 'video', source: 'camera', paused: false });

/** host and co facilitate; a, b, c are in the room with a microphone and camera on; w waits. */
function room(): RoomState {
  const start = newRoom({ id: 'muting-room-1', capacity: 16, title: 'Group', agreement: 'Be kind.', startsAt: 0, durationMinutes: 90 }, 0);
  return deepFreeze(
    run(
      start,
      arrive('host', 'facilitator', 1),
      ...inRoom('co', 2),
      by('host', { type: 'member.setRole', memberId: 'co', role: 'cofacilitator' }),
      ...inRoom('a', 10),
      ...inRoom('b', 20),
      ...inRoom('c', 30),
      arrive('w', 'member', 40),
      acknowledge('w'),
      ...['a', 'b', 'c'].flatMap((id) => [putProducer(id, mic(id)), putProducer(id, cam(id))]),
    ),
  );
}

const sending = (state: RoomState, source: MediaSource): string[] => [...mediaPolicy(state).send[source]].sort();

describe('member.mute', () => {
  it('holds the member’s microphone off on the server, and says so to them and to facilitators', () => {
    const state = mute('a')(room());
    expect(state.members['a']).toMatchObject({ heldOff: ['mic'], asked: [] });
    expect(maySend(state, 'a', 'mic')).toBe(false);
    expect(maySend(state, 'a', 'camera')).toBe(true);
    expect(sending(state, 'mic')).toEqual(['b', 'c', 'co', 'host']);
    expect(viewFor(state, 'a')?.self.held).toEqual({ mic: 'facilitator', camera: null });
    expect(viewFor(state, 'b')?.members?.find((m) => m.id === 'a')?.sending).toEqual({ mic: false, camera: true, screen: false });
    expect(viewFor(state, 'host')?.facilitation?.everyone.find((m) => m.id === 'a')?.heldOff).toEqual(['mic']);
    // Others are never told who was muted by whom, only what reaches them.
    expect(JSON.stringify(viewFor(state, 'b'))).not.toContain('heldOff');
  });

  it('the camera too, separately', () => {
    const state = run(room(), mute('a', 'camera'), mute('a', 'mic'));
    expect(state.members['a']?.heldOff).toEqual(['camera', 'mic']);
    expect(sending(state, 'camera')).toEqual(['b', 'c', 'co', 'host']);
    expect(viewFor(state, 'a')?.self.held).toEqual({ mic: 'facilitator', camera: 'facilitator' });
  });

  it('twice is a no-op', () => {
    const state = deepFreeze(mute('a')(room()));
    expect(mute('a', 'mic', 'co')(state)).toBe(state);
  });

  it('the member cannot undo it by turning their microphone off and on', () => {
    const state = run(room(), mute('a'), setProducerPaused('a', 'a-mic', true), setProducerPaused('a', 'a-mic', false));
    expect(state.members['a']?.producers['a-mic']?.paused).toBe(false);
    expect(maySend(state, 'a', 'mic')).toBe(false);
    expect(viewFor(state, 'b')?.members?.find((m) => m.id === 'a')?.sending.mic).toBe(false);
  });

  it('withdraws a pending ask for that source', () => {
    const asked = run(room(), mute('a'), ask('a'));
    expect(asked.members['a']?.asked).toEqual(['mic']);
    const again = mute('a', 'mic', 'co')(deepFreeze(asked));
    expect(again.members['a']).toMatchObject({ heldOff: ['mic'], asked: [] });
    expectRefused(again, answer('a', true), 'INVALID_STATE');
  });

  it('reaches someone still waiting: they come in muted', () => {
    const state = run(room(), mute('w'), admit('w'));
    expect(state.members['w']?.heldOff).toEqual(['mic']);
    expect(maySend(state, 'w', 'mic')).toBe(false);
    expect(maySend(state, 'w', 'camera')).toBe(true);
  });

  it('facilitators cannot be muted: they may always speak', () => {
    expectRefused(room(), mute('co'), 'FORBIDDEN', /always speak/);
    expectRefused(room(), mute('host', 'camera', 'co'), 'FORBIDDEN');
    expectRefused(room(), mute('host', 'mic', 'host'), 'FORBIDDEN');
    expectRefused(room(), mute('nobody'), 'NOT_FOUND');
  });

  it('is for facilitators', () => {
    expectRefused(room(), mute('b', 'mic', 'a'), 'FORBIDDEN');
    expectRefused(room(), mute('a', 'mic', 'a'), 'FORBIDDEN');
  });

  it('a promoted member may speak whatever was held', () => {
    const state = run(room(), mute('a'), by('host', { type: 'member.setRole', memberId: 'a', role: 'cofacilitator' }));
    expect(heldBy(state, state.members['a']!, 'mic')).toBeNull();
    expect(maySend(state, 'a', 'mic')).toBe(true);
  });
});

describe('member.muteAll', () => {
  it('holds every admitted member’s microphone (not those still waiting), never a facilitator’s, never a camera', () => {
    const state = muteAll(null)(room());
    for (const id of ['a', 'b', 'c']) expect(state.members[id]?.heldOff, id).toEqual(['mic']);
    expect(state.members['w']?.heldOff, 'w').toEqual([]);
    for (const id of ['host', 'co']) expect(state.members[id]?.heldOff, id).toEqual([]);
    expect(sending(state, 'mic')).toEqual(['co', 'host']);
    expect(sending(state, 'camera')).toEqual(['a', 'b', 'c', 'co', 'host']);
  });

  it('but the one named: the speaker in open floor, where nobody holds the floor', () => {
    const state = muteAll('b')(room());
    expect(state.floor.holder).toBeNull();
    expect(state.members['b']?.heldOff).toEqual([]);
    for (const id of ['a', 'c']) expect(state.members[id]?.heldOff, id).toEqual(['mic']);
    expect(sending(state, 'mic')).toEqual(['b', 'co', 'host']);
  });

  it('but the one named when they hold the floor', () => {
    const granted = run(room(), by('host', { type: 'floor.setMode', mode: 'hands' }), by('host', { type: 'floor.grant', memberId: 'b' }));
    expect(sending(granted, 'mic')).toEqual(['b', 'co', 'host']);
    const except = muteAll('b')(granted);
    expect(except.members['b']?.heldOff).toEqual([]);
    expect(except.members['a']?.heldOff).toEqual(['mic']);
    expect(sending(except, 'mic')).toEqual(['b', 'co', 'host']);
    const everyone = muteAll(null)(granted);
    expect(everyone.members['b']?.heldOff).toEqual(['mic']);
    expect(sending(everyone, 'mic')).toEqual(['co', 'host']);
  });

  it('sparing a facilitator changes nothing extra: every member is held', () => {
    const state = muteAll('co')(room());
    for (const id of ['a', 'b', 'c']) expect(state.members[id]?.heldOff, id).toEqual(['mic']);
    expect(sending(state, 'mic')).toEqual(['co', 'host']);
  });

  it('refuses to spare someone not in the room (unknown, or still waiting), changing nothing', () => {
    expectRefused(room(), muteAll('nobody'), 'NOT_FOUND', /not in the room/);
    expectRefused(room(), muteAll('w'), 'INVALID_STATE', /not been admitted/);
    const left = run(room(), by('host', { type: 'member.remove', memberId: 'b', block: false }));
    expectRefused(left, muteAll('b'), 'NOT_FOUND');
  });

  it('when everyone is already held is a no-op; a pending ask is withdrawn', () => {
    const held = deepFreeze(muteAll(null)(room()));
    expect(muteAll(null, 'co')(held)).toBe(held);
    const asked = run(held, ask('a'));
    expect(muteAll(null)(deepFreeze(asked)).members['a']?.asked).toEqual([]);
  });

  it('is for facilitators', () => {
    expectRefused(room(), muteAll(null, 'a'), 'FORBIDDEN');
    expectRefused(room(), muteAll('a', 'a'), 'FORBIDDEN');
  });
});

describe('member.ask and ask.answer', () => {
  const muted = () => deepFreeze(run(room(), mute('a'), mute('a', 'camera')));

  it('an ask is shown to the member and to facilitators; twice is a no-op', () => {
    const state = deepFreeze(ask('a')(muted()));
    expect(state.members['a']).toMatchObject({ heldOff: ['camera', 'mic'], asked: ['mic'] });
    expect(viewFor(state, 'a')?.self.asked).toEqual(['mic']);
    expect(viewFor(state, 'host')?.facilitation?.everyone.find((m) => m.id === 'a')?.asked).toEqual(['mic']);
    expect(maySend(state, 'a', 'mic')).toBe(false); // asking turns nothing on
    expect(ask('a', 'mic', 'co')(state)).toBe(state);
  });

  it('accepting lifts the hold on that source only, and the microphone (on at their end) flows again', () => {
    const asked = ask('a')(muted());
    const state = answer('a', true)(deepFreeze(asked));
    expect(state.members['a']).toMatchObject({ heldOff: ['camera'], asked: [] });
    expect(maySend(state, 'a', 'mic')).toBe(true);
    expect(maySend(state, 'a', 'camera')).toBe(false);
    expect(viewFor(state, 'a')?.self.held).toEqual({ mic: null, camera: 'facilitator' });
    expect(viewFor(state, 'b')?.members?.find((m) => m.id === 'a')?.sending).toEqual({ mic: true, camera: false, screen: false });
  });

  it('declining keeps the hold and withdraws the ask', () => {
    const state = answer('a', false)(deepFreeze(ask('a')(muted())));
    expect(state.members['a']).toMatchObject({ heldOff: ['camera', 'mic'], asked: [] });
    expect(maySend(state, 'a', 'mic')).toBe(false);
  });

  it('answering without an ask (or about the other source) is INVALID_STATE and changes nothing', () => {
    expectRefused(muted(), answer('a', true), 'INVALID_STATE', /Nobody has asked/);
    expectRefused(ask('a')(muted()), answer('a', true, 'camera'), 'INVALID_STATE');
    expectRefused(ask('a')(muted()), answer('b', true), 'INVALID_STATE');
    const answered = answer('a', false)(ask('a')(muted()));
    expectRefused(answered, answer('a', true), 'INVALID_STATE'); // one answer per ask
  });

  it('accepting lifts the facilitator’s hold, not the floor’s', () => {
    const state = run(room(), mute('a'), ask('a'), by('host', { type: 'floor.setMode', mode: 'hands' }), answer('a', true));
    expect(state.members['a']?.heldOff).toEqual([]);
    expect(heldBy(state, state.members['a']!, 'mic')).toBe('floor');
    expect(maySend(state, 'a', 'mic')).toBe(false);
    const granted = by('host', { type: 'floor.grant', memberId: 'a' })(state);
    expect(maySend(granted, 'a', 'mic')).toBe(true);
  });

  it('a facilitator’s hold shows before the floor’s', () => {
    const state = run(room(), mute('a'), by('host', { type: 'floor.setMode', mode: 'hands' }));
    expect(heldBy(state, state.members['a']!, 'mic')).toBe('facilitator');
    const granted = by('host', { type: 'floor.grant', memberId: 'a' })(state);
    expect(heldBy(granted, granted.members['a']!, 'mic')).toBe('facilitator'); // the floor alone does not lift a mute
    expect(maySend(granted, 'a', 'mic')).toBe(false);
  });

  it('facilitators cannot be asked; only facilitators ask; only the member answers', () => {
    expectRefused(muted(), ask('co'), 'FORBIDDEN');
    expectRefused(muted(), ask('nobody'), 'NOT_FOUND');
    expectRefused(muted(), ask('a', 'mic', 'b'), 'FORBIDDEN');
    const asked = ask('a')(muted());
    expectRefused(asked, answer('host', true), 'FORBIDDEN');
  });
});
