import { describe, expect, it } from 'vitest';
import { ACK_RECORD_MAX, recordAcknowledgement } from './capacity.js';
import { enter } from './entry.js';
import { sweepSeats } from './seats.js';
import { newRoom, type RoomState } from './state.js';

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
