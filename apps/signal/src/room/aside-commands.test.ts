import { describe, expect, it } from 'vitest';
import { leave } from './entry.js';
import { viewFor } from './projection.js';
import { heldBy, maySend, mediaPolicy } from './state.js';
import { deepFreeze, expectRefused } from './rules.test-support.js';
import { by, run, T, toolsRoom } from './tools.test-support.js';

/*
 * Taking one member aside: the facilitator and the member hear and see only each other (the
 * media policy puts the two in a space of their own), places on the floor are kept, and
 * either of them (or any facilitator) brings both back in one change.
 */

const start = (memberId: string, actor = 'host') => by(actor, { type: 'aside.start', memberId });
const end = (actor = 'host') => by(actor, { type: 'aside.end' });
const aside = () => deepFreeze(start('a', 'co')(toolsRoom()));

describe('aside.start', () => {
  it('puts the facilitator and the member apart from the group, and says so to everyone in the room', () => {
    const state = aside();
    expect(state.aside).toEqual({ facilitatorId: 'co', memberId: 'a', startedAt: T });
    expect([...mediaPolicy(state).apart]).toEqual([
      ['co', 'aside'],
      ['a', 'aside'],
    ]);
    expect(viewFor(state, 'b')?.aside).toEqual(state.aside);
    expect(viewFor(state, 'w')?.aside).toBeUndefined();
    expect(mediaPolicy(toolsRoom()).apart.size).toBe(0);
    expect(viewFor(toolsRoom(), 'b')?.aside).toBeNull();
  });

  it('one aside at a time; a member, in the room, not oneself; only facilitators', () => {
    expectRefused(aside(), start('b'), 'INVALID_STATE', /aside already/);
    expectRefused(toolsRoom(), start('lead'), 'INVALID_STATE');
    expectRefused(toolsRoom(), start('co', 'co'), 'INVALID_STATE');
    expectRefused(toolsRoom(), start('w'), 'INVALID_STATE');
    expectRefused(by('host', { type: 'agreement.set', text: 'Be very kind.' })(toolsRoom()), start('a'), 'INVALID_STATE');
    expectRefused(toolsRoom(), start('ghost'), 'NOT_FOUND');
    expectRefused(toolsRoom(), start('b', 'a'), 'FORBIDDEN');
  });

  it('keeps places: the hand queue and the round are as they were', () => {
    const hands = run(toolsRoom(), by('host', { type: 'floor.setMode', mode: 'hands' }), by('b', { type: 'hand.raise' }), by('a', { type: 'hand.raise' }));
    expect(start('a')(hands).floor).toEqual(hands.floor);
    const round = by('host', { type: 'round.start', order: ['a', 'b', 'c'], turnSeconds: null, onTimeout: 'warn' })(toolsRoom());
    const apart = start('a')(round);
    expect(apart.floor).toEqual(round.floor);
    expect(end('a')(apart).floor).toEqual(round.floor);
  });

  it('the floor does not hold the member aside (they talk with the facilitator), a facilitator’s hold still does', () => {
    const round = by('host', { type: 'round.start', order: ['b', 'a'], turnSeconds: null, onTimeout: 'warn' })(toolsRoom());
    expect(heldBy(round, round.members['a']!, 'mic')).toBe('floor');
    const apart = start('a')(round);
    expect(heldBy(apart, apart.members['a']!, 'mic')).toBeNull();
    expect(maySend(apart, 'a', 'mic')).toBe(true);
    expect(maySend(apart, 'c', 'mic')).toBe(false);
    const muted = by('host', { type: 'member.mute', memberId: 'a', source: 'mic' })(apart);
    expect(heldBy(muted, muted.members['a']!, 'mic')).toBe('facilitator');
    expect(heldBy(end()(apart), apart.members['a']!, 'mic')).toBe('floor');
  });
});

describe('aside.end', () => {
  it('the member in it, the facilitator in it, or another facilitator brings both back', () => {
    for (const actor of ['a', 'co', 'host', 'lead']) {
      const state = end(actor)(aside());
      expect(state.aside, actor).toBeNull();
      expect(mediaPolicy(state).apart.size).toBe(0);
    }
  });

  it('not another member; not when nobody is aside', () => {
    expectRefused(aside(), end('b'), 'FORBIDDEN');
    expectRefused(aside(), end('w'), 'FORBIDDEN');
    expectRefused(toolsRoom(), end('a'), 'INVALID_STATE', /Nobody is aside/);
  });

  it('the member aside may end it while re-reading a changed agreement', () => {
    const state = by('host', { type: 'agreement.set', text: 'Be very kind.' })(aside());
    expect(end('a')(state).aside).toBeNull();
  });
});

describe('the aside ends with either of the two', () => {
  it('leaving', () => {
    expect(leave('a', T + 1)(aside()).aside).toBeNull();
    expect(leave('co', T + 1)(aside()).aside).toBeNull();
    expect(leave('b', T + 1)(aside()).aside).toEqual(aside().aside);
  });

  it('removed, or their role changing', () => {
    expect(by('host', { type: 'member.remove', memberId: 'a', block: false })(aside()).aside).toBeNull();
    expect(by('host', { type: 'member.setRole', memberId: 'a', role: 'cofacilitator' })(aside()).aside).toBeNull();
    expect(by('host', { type: 'member.setRole', memberId: 'co', role: 'member' })(aside()).aside).toBeNull();
  });
});
