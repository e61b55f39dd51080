import type { RoomView } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { asideNote, asideShareNote, asideStatusLine, asideShown, asideTileNote } from './aside';

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

  it('a shared screen shows only on its own side: across the aside, a note says whom it is shared with', () => {
    expect(asideShareNote(null, 'sam', 'Sam')).toBeUndefined();
    const group = asideShown(viewFor('cy', ASIDE))!;
    expect(asideShareNote(group, 'sam', 'Sam')).toBe('Sam is sharing their screen with Alex only.');
    expect(asideShareNote(group, 'alex', 'Alex')).toBe('Alex is sharing their screen with Sam only.');
    for (const self of ['alex', 'sam']) {
      const aside = asideShown(viewFor(self, ASIDE))!;
      expect(asideShareNote(aside, 'cy', 'Cy')).toBe('Cy is sharing their screen with the group; you see it when you are back.');
      expect(asideShareNote(aside, self === 'alex' ? 'sam' : 'alex', 'X')).toBeUndefined();
    }
  });

  it('the group is told in one line who is with whom (the two and nobody else see the banner)', () => {
    expect(asideStatusLine(asideShown(viewFor('cy', ASIDE)))).toBe('Alex is with Sam');
    expect(asideStatusLine(asideShown(viewFor('alex', ASIDE)))).toBeNull();
    expect(asideStatusLine(null)).toBeNull();
  });
});
