import { type Command, type Role } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { applyCommand } from './commands.js';
import { enter, leave, type Entrant } from './entry.js';
import { admittedCount, lobbyCount, memberFits } from './capacity.js';
import { mediaAllowed, memberCount, newRoom, rotateFacilitatorLink, type RoomChange, type RoomState } from './state.js';
import { deepFreeze, expectRefused } from './rules.test-support.js';

const T = 50_000;
const run = (state: RoomState, ...changes: RoomChange[]): RoomState => changes.reduce((s, change) => change(s), state);
const room = (capacity = 16) => newRoom({ id: 'entry-room-01', capacity, title: 'Group', agreement: 'Be kind.', startsAt: 0, durationMinutes: 90 }, 0);
const entrant = (id: string, role: Role = 'member', inviteId: string | null = role === 'member' ? `invite-${id}` : null): Entrant => ({
  id,
  displayName: `Name of ${id}`,
  role,
  inviteId,
});
const arrive = (id: string, role: Role = 'member', inviteId?: string | null): RoomChange => enter(entrant(id, role, inviteId), T);
const by = (actor: string, command: Command): RoomChange => applyCommand(actor, command, T);
const acknowledge =
  (id: string): RoomChange =>
  (state) =>
    by(id, { type: 'agreement.acknowledge', version: state.agreement.version, privateSpace: true })(state);

const withHost = () => arrive('host', 'facilitator')(room());

describe('enter', () => {
  it('puts a facilitator straight into the room, with media', () => {
    const state = deepFreeze(room());
    const next = enter(entrant('host', 'facilitator'), 123)(state);
    expect(next.members['host']).toEqual({
      id: 'host',
      displayName: 'Name of host',
      role: 'facilitator',
      stage: 'admitted',
      acknowledgedVersion: null,
      inviteId: null,
      linkGeneration: 0,
      enteredAt: 123,
      producers: {},
      heldOff: [],
      asked: [],
      // Entered without a connection (the rules alone): the seat is held by a stand-in one.
      connectionId: 'host',
      node: null,
      offlineSince: null,
      resumeNonce: '',
      previousNonce: null,
    });
    expect(mediaAllowed(next, 'host')).toBe(true);
    expect(state.members).toEqual({});
    expect(next.version).toBe(state.version); // the store bumps versions, not the rules
  });

  it('starts a member at the agreement, without media', () => {
    const next = enter(entrant('m1'), 456)(withHost());
    expect(next.members['m1']).toEqual({
      id: 'm1',
      displayName: 'Name of m1',
      role: 'member',
      stage: 'agreement',
      acknowledgedVersion: null,
      inviteId: 'invite-m1',
      enteredAt: 456,
      producers: {},
      heldOff: [],
      asked: [],
      connectionId: 'm1',
      node: null,
      offlineSince: null,
      resumeNonce: '',
      previousNonce: null,
    });
    expect(mediaAllowed(next, 'm1')).toBe(false);
  });

  it('lets several people in with the same invite link', () => {
    const state = run(withHost(), arrive('a', 'member', 'shared'), arrive('b', 'member', 'shared'));
    expect(memberCount(state)).toBe(3);
  });

  it('refuses the same id twice with INVALID_STATE', () => {
    expectRefused(arrive('m1')(withHost()), arrive('m1'), 'INVALID_STATE', /Already/);
    expectRefused(withHost(), arrive('host', 'facilitator'), 'INVALID_STATE');
  });

  describe('a locked room', () => {
    const locked = () => by('host', { type: 'room.setLocked', locked: true })(withHost());

    it('refuses members with FORBIDDEN', () => {
      expectRefused(locked(), arrive('m1'), 'FORBIDDEN', /locked/);
    });

    it('still lets facilitators in', () => {
      const next = arrive('second-host', 'facilitator')(deepFreeze(locked()));
      expect(next.members['second-host']?.stage).toBe('admitted');
    });

    it('lets members in again once unlocked', () => {
      const unlocked = by('host', { type: 'room.setLocked', locked: false })(locked());
      expect(arrive('m1')(unlocked).members['m1']?.stage).toBe('agreement');
    });
  });

  describe('a blocked invite', () => {
    const blocked = () => run(withHost(), arrive('m1', 'member', 'inv-1'), by('host', { type: 'member.remove', memberId: 'm1', block: true }));

    it('is refused with FORBIDDEN, whoever brings it', () => {
      expect(blocked().blockedInvites).toEqual(['inv-1']);
      expectRefused(blocked(), enter({ id: 'm1-again', displayName: 'Name of m1', role: 'member', inviteId: 'inv-1' }, T), 'FORBIDDEN', /no longer/);
      expectRefused(blocked(), arrive('someone-else', 'member', 'inv-1'), 'FORBIDDEN');
    });

    it('does not stop other invites or facilitator links', () => {
      const state = run(blocked(), arrive('m2', 'member', 'inv-2'), arrive('host-2', 'facilitator'));
      expect(Object.keys(state.members).sort()).toEqual(['host', 'host-2', 'm2']);
    });

    it('is refused even when the room is unlocked and has space', () => {
      const state = blocked();
      expect(state.locked).toBe(false);
      expect(memberCount(state)).toBeLessThan(state.capacity);
      expectRefused(state, arrive('x', 'member', 'inv-1'), 'FORBIDDEN');
    });
  });

  describe('capacity', () => {
    const admitted = (id: string): RoomChange[] => [arrive(id), acknowledge(id), by('host', { type: 'member.admit', memberId: id })];

    it('counts the people in the room; those on their way in are a line of the same size of their own', () => {
      // A room of four: the host and two admitted members, and four more on the way in.
      const state = run(arrive('host', 'facilitator')(room(4)), ...admitted('a'), ...admitted('b'), arrive('c'), arrive('d'), arrive('e'), acknowledge('e'), arrive('f'));
      expect([admittedCount(state), lobbyCount(state)]).toEqual([3, 4]);
      expectRefused(state, arrive('g'), 'ROOM_FULL', /on their way in/);
      // The room itself still has a seat, for a facilitator.
      expect(run(state, arrive('co', 'facilitator')).members['co']?.stage).toBe('admitted');
    });

    it('keeps the last seat for a facilitator: members never fill it, by admission or auto-admit', () => {
      // A room of four: the host and three members; then the host leaves.
      const hostGone = leave('host')(run(arrive('host', 'facilitator')(room(4)), ...admitted('a'), ...admitted('b'), ...admitted('c')));
      expect(admittedCount(hostGone)).toBe(3);
      const waiting = run(hostGone, arrive('co', 'facilitator'), leave('co'), arrive('d'), acknowledge('d'));
      expectRefused(waiting, by('a', { type: 'member.admit', memberId: 'd' }), 'FORBIDDEN');
      // With nobody facilitating, no member can be let in (that is the facilitator's seat)...
      const withCo = arrive('co', 'facilitator')(waiting);
      expectRefused(leave('co')(withCo), by('co', { type: 'member.admit', memberId: 'd' }), 'FORBIDDEN');
      // ...and with a facilitator back in the room, it is full: admit, admit-all and auto-admit all leave d waiting.
      expectRefused(withCo, by('co', { type: 'member.admit', memberId: 'd' }), 'ROOM_FULL', /full/);
      expect(by('co', { type: 'member.admitAll' })(withCo).members['d']?.stage).toBe('waiting');
      expect(run(withCo, by('co', { type: 'room.setAutoAdmit', enabled: true }), arrive('e'), acknowledge('e')).members['e']?.stage).toBe('waiting');
      // Three members and no facilitator: a facilitator still gets in; a fourth member would take their seat.
      expect(arrive('host-2', 'facilitator')(hostGone).members['host-2']?.stage).toBe('admitted');
      expect(memberFits(hostGone)).toBe(false);
    });

    it('refuses a facilitator when the room itself is full', () => {
      const full = run(room(2), arrive('host', 'facilitator'), arrive('co', 'facilitator'));
      expectRefused(full, arrive('host-2', 'facilitator'), 'ROOM_FULL', /full \(2 people\)/);
    });

    it('has space again once someone leaves or is removed', () => {
      const full = run(room(3), arrive('host', 'facilitator'), arrive('a'), arrive('b'), arrive('c'));
      expectRefused(full, arrive('d'), 'ROOM_FULL');
      expect(Object.keys(run(full, leave('a'), arrive('d')).members).sort()).toEqual(['b', 'c', 'd', 'host']);
      const removed = run(full, by('host', { type: 'member.remove', memberId: 'b', block: false }), arrive('d'));
      expect(Object.keys(removed.members).sort()).toEqual(['a', 'c', 'd', 'host']);
    });
  });

  describe('an ended session', () => {
    it('is NOT_FOUND for everyone', () => {
      const ended = by('host', { type: 'session.end' })(withHost());
      expectRefused(ended, arrive('m1'), 'NOT_FOUND', /ended/);
      expectRefused(ended, arrive('host-2', 'facilitator'), 'NOT_FOUND');
    });
  });

  it('checks in order: ended, already in, locked, blocked, full', () => {
    let state = run(room(3), arrive('host', 'facilitator'), arrive('m1', 'member', 'inv-1'), by('host', { type: 'member.remove', memberId: 'm1', block: true }), arrive('m2'));
    state = run(state, arrive('m3'), arrive('m4'), by('host', { type: 'room.setLocked', locked: true })); // the line in is full, and locked
    expectRefused(state, arrive('x', 'member', 'inv-1'), 'FORBIDDEN', /locked/);
    expectRefused(state, arrive('m2'), 'INVALID_STATE');
    const unlocked = by('host', { type: 'room.setLocked', locked: false })(state);
    expectRefused(unlocked, arrive('x', 'member', 'inv-1'), 'FORBIDDEN', /no longer/);
    expectRefused(unlocked, arrive('x', 'member', 'inv-9'), 'ROOM_FULL');
    expectRefused(by('host', { type: 'session.end' })(state), arrive('m2'), 'NOT_FOUND');
  });
});

describe('leave', () => {
  it('removes the member and keeps their acknowledgements on record', () => {
    const state = deepFreeze(run(withHost(), arrive('m1'), acknowledge('m1')));
    const next = leave('m1')(state);
    expect(next.members['m1']).toBeUndefined();
    expect(next.acknowledgements).toEqual(state.acknowledgements);
    expect(next.acknowledgements.map((a) => a.memberId)).toEqual(['m1']);
    expect(state.members['m1']).toBeDefined();
  });

  it('returns the same state object when the member is not there (no write)', () => {
    const state = withHost();
    expect(leave('nobody')(state)).toBe(state);
    const gone = leave('host')(state);
    expect(leave('host')(gone)).toBe(gone);
  });

  it('lets facilitators leave too', () => {
    expect(leave('host')(withHost()).members).toEqual({});
  });

  it('does not block the invite: the person may come back, and starts at the agreement again', () => {
    const state = run(withHost(), arrive('m1', 'member', 'inv-1'), acknowledge('m1'), by('host', { type: 'member.admit', memberId: 'm1' }), leave('m1'));
    expect(state.blockedInvites).toEqual([]);
    const back = arrive('m1-again', 'member', 'inv-1')(state);
    expect(back.members['m1-again']).toMatchObject({ stage: 'agreement', acknowledgedVersion: null });
  });
});

describe('facilitator link generations', () => {
  const host = (id: string, linkGeneration?: number): RoomChange => enter({ ...entrant(id, 'facilitator'), linkGeneration }, T);

  it('a new room takes facilitator links of generation 0 (and tokens without one count as 0)', () => {
    expect(room().facilitatorLinkGeneration).toBe(0);
    expect(host('host', 0)(room()).members['host']?.stage).toBe('admitted');
    expect(host('host')(room()).members['host']?.stage).toBe('admitted');
    // The generation is checked, and kept on a facilitator's seat (what a rotation looks at); members have none.
    expect(host('host', 0)(room()).members['host']?.linkGeneration).toBe(0);
    expect(arrive('m')(room()).members['m']).not.toHaveProperty('linkGeneration');
  });

  it('refuses a facilitator link of another generation (FORBIDDEN)', () => {
    expectRefused(room(), host('host', 1), 'FORBIDDEN', /facilitator link has been replaced/);
    const rotated = deepFreeze(rotateFacilitatorLink('host')(withHost()));
    expect(rotated.facilitatorLinkGeneration).toBe(1);
    expectRefused(rotated, host('late', 0), 'FORBIDDEN', /replaced/);
    expect(host('late', 1)(rotated).members['late']?.role).toBe('facilitator');
  });

  it('rotating keeps members inside, and only a facilitator in the room may do it', () => {
    const state = deepFreeze(run(withHost(), arrive('m'), acknowledge('m'), by('host', { type: 'member.admit', memberId: 'm' })));
    const rotated = rotateFacilitatorLink('host')(state);
    expect(Object.keys(rotated.members).sort()).toEqual(['host', 'm']);
    expect(rotated.members['m']).toBe(state.members['m']);
    expect(rotateFacilitatorLink('host')(rotated).facilitatorLinkGeneration).toBe(2);
    expectRefused(state, rotateFacilitatorLink('m'), 'FORBIDDEN');
    expectRefused(state, rotateFacilitatorLink('nobody'), 'FORBIDDEN');
    const co = run(state, by('host', { type: 'member.setRole', memberId: 'm', role: 'cofacilitator' }));
    expectRefused(co, rotateFacilitatorLink('m'), 'FORBIDDEN');
    expectRefused(by('host', { type: 'session.end' })(state), rotateFacilitatorLink('host'), 'NOT_FOUND');
  });

  it('a room stored before generations existed counts as generation 0', () => {
    const { facilitatorLinkGeneration: _gone, ...old } = room();
    expect(host('host', 0)(old).members['host']).toBeDefined();
    expectRefused(old, host('host', 1), 'FORBIDDEN');
    expect(rotateFacilitatorLink('host')(host('host', 0)(old)).facilitatorLinkGeneration).toBe(1);
  });
});

describe('the owner', () => {
  const owner = (id: string, linkGeneration = 0): RoomChange => enter({ ...entrant(id, 'facilitator'), linkGeneration, owner: true }, T);
  const link = (id: string, linkGeneration = 0): RoomChange => enter({ ...entrant(id, 'facilitator'), linkGeneration }, T);
  const rotate = (id: string): RoomChange => rotateFacilitatorLink(id, T);
  const admitted = (id: string): RoomChange[] => [arrive(id), acknowledge(id), by('owner', { type: 'member.admit', memberId: id })];

  it('enters with a facilitator link of any generation, as the owner; a link facilitator is not', () => {
    const rotated = run(room(), link('fay'), rotate('fay'), rotate('fay'));
    expect(rotated.facilitatorLinkGeneration).toBe(2);
    const state = owner('owner', 0)(rotated);
    expect(state.members['owner']).toMatchObject({ role: 'facilitator', stage: 'admitted', owner: true });
    expect(state.members['fay']).not.toHaveProperty('owner');
    expectRefused(rotated, link('late', 0), 'FORBIDDEN', /replaced/);
    // A member never becomes the owner, whatever the entrant says.
    expect(enter({ ...entrant('m'), owner: true }, T)(state).members['m']).not.toHaveProperty('owner');
  });

  it('a rotation lets go of every link facilitator on an older generation, in the same change; the owner, the rotator, co-facilitators and members stay', () => {
    const state = deepFreeze(
      run(room(), link('early'), owner('owner'), link('fay'), link('cora'), ...admitted('mo'), by('owner', { type: 'member.setRole', memberId: 'mo', role: 'cofacilitator' }), ...admitted('ann')),
    );
    const rotated = rotate('cora')(state);
    expect(Object.keys(rotated.members).sort()).toEqual(['ann', 'cora', 'mo', 'owner']);
    expect(rotated.members['cora']?.linkGeneration).toBe(1);
    expect(rotated.members['owner']).toBe(state.members['owner']);
    // Someone on the new link rotates in turn: the previous rotator is on an older one now.
    const again = run(rotated, link('dee', 1), rotate('dee'));
    expect(Object.keys(again.members).sort()).toEqual(['ann', 'dee', 'mo', 'owner']);
    // The owner may rotate too, and stays, whatever generation they came in with.
    const byOwner = run(again, rotate('owner'));
    expect(Object.keys(byOwner.members).sort()).toEqual(['ann', 'mo', 'owner']);
    expect(byOwner.facilitatorLinkGeneration).toBe(3);
  });

  it('gets in when a leaked link has filled the room (one place past the capacity is theirs), and only once', () => {
    const full = run(room(2), link('intruder'), link('intruder-2'));
    expectRefused(full, link('intruder-3'), 'ROOM_FULL', /full \(2 people\)/);
    const ownerIn = owner('owner')(full);
    expect(ownerIn.members['owner']).toMatchObject({ stage: 'admitted', owner: true });
    // That place is one: a second device of the owner's finds the room full.
    expectRefused(ownerIn, owner('owner-2'), 'ROOM_FULL', /full/);
  });

  it('an old seat without a recorded generation counts as generation 0', () => {
    const state = run(room(), link('old'), link('fay'));
    const { linkGeneration: _gone, ...legacy } = state.members['old']!;
    const stored = { ...state, members: { ...state.members, old: legacy } };
    expect(Object.keys(rotate('fay')(stored).members)).toEqual(['fay']);
  });
});

describe('the limits on the way in (see capacity.test.ts)', () => {
  const limits = { perAddress: 1, perInvite: 1, reserved: 0 };
  const from = (id: string, role: Role = 'member'): RoomChange => enter({ ...entrant(id, role), addressKey: 'one-address' }, T, limits);

  it('come after the room’s own checks, and never stop a facilitator', () => {
    const one = run(withHost(), from('a'));
    expectRefused(one, from('b'), 'RATE_LIMITED', /try again/);
    // A locked room says so first.
    expectRefused(by('host', { type: 'room.setLocked', locked: true })(one), from('b'), 'FORBIDDEN', /locked/);
    const host2 = from('host-2', 'facilitator')(one).members['host-2'];
    expect(host2?.stage).toBe('admitted');
    expect(host2?.addressKey).toBeUndefined();
  });

  it('keep no one out by default: the rules alone (without the server’s settings) only count the line', () => {
    const state = run(withHost(), ...['a', 'b', 'c'].map((id) => enter({ ...entrant(id, 'member', 'one-link'), addressKey: 'one-address' }, T)));
    expect(lobbyCount(state)).toBe(3);
  });
});
