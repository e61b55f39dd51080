import { describe, expect, it } from 'vitest';
import { memoryStorage } from './memory-storage.test-support';
import { forgetWayIn, keepWayIn, keptWayIn } from './way-in';

const wayIn = { token: 't'.repeat(40), displayName: 'Ada' };

describe('the way back in kept at the entry agreement', () => {
  it('is kept per room, and forgotten', () => {
    const storage = memoryStorage();
    expect(keptWayIn('room-a', storage)).toBeNull();
    keepWayIn('room-a', wayIn, storage);
    expect(keptWayIn('room-a', storage)).toEqual(wayIn);
    expect(keptWayIn('room-b', storage)).toBeNull();
    forgetWayIn('room-a', storage);
    expect(keptWayIn('room-a', storage)).toBeNull();
    expect(storage.items.size).toBe(0);
  });

  it('counts a damaged entry as none', () => {
    const storage = memoryStorage();
    for (const raw of ['{', '"x"', '{"token":"short","displayName":"Ada"}', JSON.stringify({ token: 't'.repeat(40) }), JSON.stringify({ ...wayIn, displayName: 'x'.repeat(201) })]) {
      storage.setItem('group-room:way-in:room-a', raw);
      expect(keptWayIn('room-a', storage), raw).toBeNull();
    }
  });

  it('does without storage', () => {
    expect(keptWayIn('room-a', null)).toBeNull();
    expect(() => keepWayIn('room-a', wayIn, null)).not.toThrow();
    expect(() => forgetWayIn('room-a', null)).not.toThrow();
  });
});
