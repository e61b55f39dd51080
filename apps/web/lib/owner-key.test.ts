import { describe, expect, it } from 'vitest';
import { memoryStorage } from './memory-storage.test-support';
import { forgetOwnerKey, keepOwnerKey, keptOwnerKey, type OwnerKeyStorage } from './owner-key';

describe('the owner key kept in this browser', () => {
  it('is kept per room and forgotten', () => {
    const storage = memoryStorage();
    expect(keptOwnerKey('room-a', storage)).toBeNull();
    keepOwnerKey('room-a', 'k'.repeat(40), storage);
    expect(keptOwnerKey('room-a', storage)).toBe('k'.repeat(40));
    expect(keptOwnerKey('room-b', storage)).toBeNull();
    forgetOwnerKey('room-a', storage);
    expect(keptOwnerKey('room-a', storage)).toBeNull();
    expect(storage.items.size).toBe(0);
  });

  it('counts a damaged entry as none, and storage that throws as nothing kept', () => {
    const storage = memoryStorage();
    storage.items.set('group-room:owner:room-a', 'short');
    expect(keptOwnerKey('room-a', storage)).toBeNull();
    const broken: OwnerKeyStorage = {
      getItem: () => {
        throw new Error('blocked');
      },
      setItem: () => {
        throw new Error('blocked');
      },
      removeItem: () => {
        throw new Error('blocked');
      },
    };
    expect(() => keepOwnerKey('room-a', 'k'.repeat(40), broken)).not.toThrow();
    expect(keptOwnerKey('room-a', broken)).toBeNull();
    expect(() => forgetOwnerKey('room-a', broken)).not.toThrow();
  });
});
