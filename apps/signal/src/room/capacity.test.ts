import { describe, expect, it } from 'vitest';
import { ACK_RECORD_MAX, recordAcknowledgement, sharedLinkBound, type EntryLimits } from './capacity.js';
import { applyCommand } from './commands.js';
import { enter } from './entry.js';
import { expectRefused } from './rules.test-support.js';
import { sweepSeats } from './seats.js';
import { newRoom, type RoomChange, type RoomState } from './state.js';

const T = 1_700_000_000_000;
const room = (): RoomState => newRoom({ id: 'capacity-room', capacity: 4, title: '', agreement: 'Be kind.', startsAt: T, durationMinutes: 90 }, T);
const ack = (memberId: string, version = 'v1', at = T) => ({ memberId, displayName: memberId, version, at });

describe('the acknowledgement record', () => {
  it('keeps one entry per person per agreement version', () => {
    const state = { ...room(), acknowledgements: [ack('a')] };
    expect(recordAcknowledgement(state, ack('a', 'v1', T + 5))).toBe(state.acknowledgements);
    expect(recordAcknowledgement(state, ack('a', 'v2'))).toEqual([ack('a'), ack('a', 'v2')]);
  });

  it(`holds at most ${ACK_RECORD_MAX} entries, dropping those of people no longer here first`, () => {
    // Someone entering, acknowledging and leaving over and over with one invite link.
    const here = enter({ id: 'here', displayName: 'here', role: 'member', inviteId: 'i' }, T)(room());
    let state: RoomState = { ...here, acknowledgements: [ack('here')] };
    for (let i = 0; i < 3 * ACK_RECORD_MAX; i++) state = { ...state, acknowledgements: recordAcknowledgement(state, ack(`gone-${i}`)) };
    expect(state.acknowledgements).toHaveLength(ACK_RECORD_MAX);
    expect(state.acknowledgements[0]).toEqual(ack('here'));
    expect(state.acknowledgements.at(-1)?.memberId).toBe(`gone-${3 * ACK_RECORD_MAX - 1}`);
  });
});

describe('the line on the way in', () => {
  it('lets go of someone who has not accepted the entry agreement in time; not those waiting or re-reading', () => {
    let state = enter({ id: 'slow', displayName: 'slow', role: 'member', inviteId: 'i' }, T)(room());
    state = enter({ id: 'waiting', displayName: 'waiting', role: 'member', inviteId: 'i' }, T)(state);
    state = { ...state, members: { ...state.members, waiting: { ...state.members['waiting']!, stage: 'waiting', acknowledgedVersion: state.agreement.version } } };
    const sweep = (now: number) => sweepSeats({ now, graceMs: 120_000, liveNodes: new Set(), agreementIdleMs: 600_000 });
    expect(sweep(T + 599_999)(state)).toBe(state);
    expect(Object.keys(sweep(T + 600_000)(state).members)).toEqual(['waiting']);
  });
});

describe('the limits on the way in', () => {
  const LIMITS: EntryLimits = { perAddress: 2, perInvite: 2, reserved: 2 };
  const SHARED = 'shared-link';
  const group = (capacity = 8): RoomState =>
    newRoom({ id: 'way-in-room', capacity, title: '', agreement: 'Be kind.', startsAt: T, durationMinutes: 90, sharedInviteId: SHARED }, T);
  let n = 0;
  const from = (address: string | undefined, inviteId: string) =>
    enter({ id: `p${++n}`, displayName: 'Someone', role: 'member', inviteId, ...(address === undefined ? {} : { addressKey: address }) }, T, LIMITS);
  const run = (state: RoomState, ...changes: RoomChange[]) => changes.reduce((s, change) => change(s), state);

  it('holds one address to its share, whatever the link; another address still gets in', () => {
    const state = run(group(), from('addr-1', SHARED), from('addr-1', 'personal-1'));
    expectRefused(state, from('addr-1', SHARED), 'RATE_LIMITED', /from your network.*try again/);
    expectRefused(state, from('addr-1', 'personal-2'), 'RATE_LIMITED', /from your network/);
    expect(Object.keys(from('addr-2', SHARED)(state).members)).toHaveLength(3);
    // Entries without a known address are not counted by address.
    expect(Object.keys(run(state, from(undefined, SHARED), from(undefined, SHARED)).members)).toHaveLength(4);
  });

  it('holds a personal link to two, and the shared link to the way in less the reserve', () => {
    const personal = run(group(), from('a', 'personal-1'), from('b', 'personal-1'));
    expectRefused(personal, from('c', 'personal-1'), 'RATE_LIMITED', /link of your own/);
    expect(sharedLinkBound(group(), LIMITS)).toBe(6);
    const shared = run(group(), ...['a', 'b', 'c', 'd', 'e', 'f'].map((a) => from(a, SHARED)));
    expectRefused(shared, from('g', SHARED), 'RATE_LIMITED', /with this link.*try again/);
    // The reserve is for personal links: they fill the way in.
    const full = run(shared, from('g', 'personal-1'), from('h', 'personal-2'));
    expectRefused(full, from('i', 'personal-3'), 'ROOM_FULL', /on their way in/);
  });

  it('counts only the way in: someone admitted frees their place and keeps no address key', () => {
    let state = run(group(), enter({ id: 'host', displayName: 'Host', role: 'facilitator', inviteId: null, addressKey: 'addr-1' }, T, LIMITS));
    // A facilitator is neither limited nor given the key.
    expect(state.members['host']!.addressKey).toBeUndefined();
    state = run(state, enter({ id: 'm', displayName: 'M', role: 'member', inviteId: SHARED, addressKey: 'addr-1' }, T, LIMITS), from('addr-1', SHARED));
    expect(state.members['m']!.addressKey).toBe('addr-1');
    expectRefused(state, from('addr-1', SHARED), 'RATE_LIMITED');
    state = applyCommand('m', { type: 'agreement.acknowledge', version: state.agreement.version, privateSpace: true }, T)(state);
    state = applyCommand('host', { type: 'member.admit', memberId: 'm' }, T)(state);
    expect(state.members['m']!.addressKey).toBeUndefined();
    expect(Object.keys(from('addr-1', SHARED)(state).members)).toHaveLength(4);
  });

  it('keeps most of a small room’s line for the shared link (the reserve is at most a quarter), and rooms that do not know their shared link treat every link as it', () => {
    expect(sharedLinkBound(group(2), LIMITS)).toBe(2);
    expect(sharedLinkBound(group(16), { ...LIMITS, reserved: 4 })).toBe(12);
    expect(sharedLinkBound(group(16), { ...LIMITS, reserved: 40 })).toBe(12);
    const unknown: RoomState = { ...group(), sharedInviteId: null };
    expect(Object.keys(run(unknown, from('a', 'any'), from('b', 'any'), from('c', 'any')).members)).toHaveLength(3);
  });
});
