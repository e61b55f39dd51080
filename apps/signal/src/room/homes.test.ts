import { describe, expect, it } from 'vitest';
import { newRoom, type RoomState } from './state.js';
import { claimHome, homeOf } from './homes.js';

const room = (home?: RoomState['home']): RoomState => ({
  ...newRoom({ id: 'homes-room-0001', capacity: 16, title: 'T', agreement: 'A', startsAt: 0, durationMinutes: 60 }, 0),
  ...(home === undefined ? {} : { home }),
});
const a = { id: 'node-a-id', name: 'a' };
const b = { id: 'node-b-id', name: 'b' };

describe('claimHome', () => {
  it('takes a room nobody serves yet', () => {
    expect(claimHome(a, new Set([a.id]))(room()).home).toEqual({ node: a.id, name: 'a' });
    expect(claimHome(a, new Set([a.id]))(room(null)).home).toEqual({ node: a.id, name: 'a' });
  });

  it('leaves a room its own or another live node serves unchanged (no write)', () => {
    const mine = room({ node: a.id, name: 'a' });
    expect(claimHome(a, new Set([a.id]))(mine)).toBe(mine);
    const theirs = room({ node: b.id, name: 'b' });
    expect(claimHome(a, new Set([a.id, b.id]))(theirs)).toBe(theirs);
  });

  it('takes over a live home that a client asked the proxy for and was sent here instead (the proxy found it down)', () => {
    const theirs = room({ node: b.id, name: 'b' });
    expect(claimHome(a, new Set([a.id, b.id]), 'b')(theirs).home).toEqual({ node: a.id, name: 'a' });
    // Naming another node, or itself, changes nothing.
    expect(claimHome(a, new Set([a.id, b.id]), 'c')(theirs)).toBe(theirs);
    const mine = room({ node: a.id, name: 'a' });
    expect(claimHome(a, new Set([a.id]), 'a')(mine)).toBe(mine);
  });

  it('takes over a room whose home is no longer alive', () => {
    expect(claimHome(a, new Set([a.id]))(room({ node: b.id, name: 'b' })).home).toEqual({ node: a.id, name: 'a' });
  });
});

describe('homeOf', () => {
  const live = new Set([a.id, b.id]);
  it('says where a room is served', () => {
    expect(homeOf(room({ node: a.id, name: 'a' }), a.id, live)).toBe('here');
    expect(homeOf(room({ node: b.id, name: 'b' }), a.id, live)).toEqual({ elsewhere: 'b' });
    expect(homeOf(room({ node: 'gone', name: 'c' }), a.id, live)).toBe('orphaned');
    expect(homeOf(room(), a.id, live)).toBe('orphaned');
  });
});
