import { describe, expect, it } from 'vitest';
import { memoryStorage } from './memory-storage.test-support';
import { forgetSeat, keepSeat, keptSeat } from './seat';

const seat = { credential: 'c'.repeat(32), memberId: 'member-1', graceSeconds: 120 };

describe('the seat kept in this tab', () => {
  it('is kept per room, replaced and forgotten', () => {
    const storage = memoryStorage();
    expect(keptSeat('room-a', storage)).toBeNull();
    keepSeat('room-a', seat, storage);
    expect(keptSeat('room-a', storage)).toEqual(seat);
    expect(keptSeat('room-b', storage)).toBeNull();
    const next = { ...seat, credential: 'd'.repeat(32) };
    keepSeat('room-a', next, storage);
    expect(keptSeat('room-a', storage)).toEqual(next);
    forgetSeat('room-a', storage);
    expect(keptSeat('room-a', storage)).toBeNull();
    expect(storage.items.size).toBe(0);
  });

  it('holds nothing but the credential, the member id, the grace period and the tab id', () => {
    const storage = memoryStorage();
    keepSeat('room-a', seat, storage);
    expect(JSON.parse([...storage.items.values()][0] ?? '{}')).toEqual(seat);
    keepSeat('room-a', { ...seat, tabId: 'tab-1' }, storage);
    expect(JSON.parse([...storage.items.values()][0] ?? '{}')).toEqual({ ...seat, tabId: 'tab-1' });
    expect(keptSeat('room-a', storage)).toEqual({ ...seat, tabId: 'tab-1' });
  });

  it('reads a damaged entry, or no storage at all, as no seat', () => {
    const storage = memoryStorage();
    storage.items.set('group-room:seat:room-a', '{not json');
    expect(keptSeat('room-a', storage)).toBeNull();
    storage.items.set('group-room:seat:room-a', JSON.stringify({ credential: 'short' }));
    expect(keptSeat('room-a', storage)).toBeNull();
    expect(keptSeat('room-a', null)).toBeNull();
    expect(() => keepSeat('room-a', seat, null)).not.toThrow();
  });
});
