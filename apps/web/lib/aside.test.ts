import type { RoomView } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { asideNote, asideShown, asideTileNote } from './aside';

const NAMES: Record<string, string> = { sam: 'Sam', alex: 'Alex', cy: 'Cy' };

function viewFor(selfId: string, aside: RoomView['aside']): RoomView {
  const members = Object.entries(NAMES).map(([id, displayName]) => ({ id, displayName, role: id === 'sam' ? ('facilitator' as const) : ('member' as const) }));
  return { self: { id: selfId, displayName: NAMES[selfId] }, members, aside } as unknown as RoomView;
}

const ASIDE = { facilitatorId: 'sam', memberId: 'alex', startedAt: 1 };

describe('the aside as a page shows it', () => {
  it('nobody aside: nothing changes', () => {
    expect(asideShown(viewFor('cy', null))).toBeNull();
    expect(asideTileNote(null, 'alex')).toBeUndefined();
  });

  it('the group sees who is with whom on the two’s tiles, and nothing else changes', () => {
    const aside = asideShown(viewFor('cy', ASIDE))!;
    expect(aside.selfIn).toBe(false);
    expect(asideNote(aside)).toBe('Alex is with Sam');
    expect(asideTileNote(aside, 'alex')).toBe('With Sam');
    expect(asideTileNote(aside, 'sam')).toBe('With Alex');
    expect(asideTileNote(aside, 'cy')).toBeUndefined();
  });

  it('each of the two knows whom they are with; the group’s tiles say where they are', () => {
    for (const [self, other] of [
      ['alex', 'Sam'],
      ['sam', 'Alex'],
    ] as const) {
      const aside = asideShown(viewFor(self, ASIDE))!;
      expect(aside.selfIn).toBe(true);
      expect(aside.otherName).toBe(other);
      expect(asideTileNote(aside, self === 'alex' ? 'sam' : 'alex')).toBeUndefined();
      expect(asideTileNote(aside, 'cy')).toBe('With the group');
    }
  });
});
