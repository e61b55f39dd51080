import type { RoomView } from '@group-room/shared';

/*
 * The aside as this page shows it: a facilitator with one member, hearing and seeing only each
 * other. The two see whom they are with; everyone else sees only who is with whom.
 */

export interface AsideShown {
  facilitatorId: string;
  memberId: string;
  facilitatorName: string;
  memberName: string;
  /** This page is one of the two. */
  selfIn: boolean;
  /** The other one of the two, for a page that is one of them. */
  otherId: string | null;
  otherName: string | null;
}

/** "the facilitator" when a name is not known here (e.g. before the view lists everyone). */
function nameOf(view: RoomView, id: string, fallback: string): string {
  if (id === view.self.id) return view.self.displayName;
  return view.members?.find((m) => m.id === id)?.displayName ?? fallback;
}

export function asideShown(view: RoomView): AsideShown | null {
  const aside = view.aside;
  if (!aside) return null;
  const facilitatorName = nameOf(view, aside.facilitatorId, 'the facilitator');
  const memberName = nameOf(view, aside.memberId, 'a member');
  const self = view.self.id;
  const selfIn = self === aside.facilitatorId || self === aside.memberId;
  const otherId = !selfIn ? null : self === aside.facilitatorId ? aside.memberId : aside.facilitatorId;
  return {
    facilitatorId: aside.facilitatorId,
    memberId: aside.memberId,
    facilitatorName,
    memberName,
    selfIn,
    otherId,
    otherName: otherId === null ? null : otherId === aside.facilitatorId ? facilitatorName : memberName,
  };
}

/**
 * What a peer's tile says in place of their video while an aside is on (undefined: as usual).
 * The tiles stay where they are (so nothing moves, and they come back as they were); the server
 * sends nothing between the two and the group meanwhile.
 */
export function asideTileNote(aside: AsideShown | null, peerId: string): string | undefined {
  if (!aside) return undefined;
  const inAside = peerId === aside.facilitatorId || peerId === aside.memberId;
  if (aside.selfIn) return inAside ? undefined : 'With the group';
  if (!inAside) return undefined;
  return `With ${peerId === aside.memberId ? aside.facilitatorName : aside.memberName}`;
}

/** What the group is told: "Alex is with Sam". */
export const asideNote = (aside: AsideShown): string => `${aside.memberName} is with ${aside.facilitatorName}`;

/** The group's one line while an aside is on (null for the two, who see whom they are with). */
export const asideStatusLine = (aside: AsideShown | null): string | null => (aside && !aside.selfIn ? asideNote(aside) : null);

/**
 * In place of a peer's shared screen across the aside (undefined: shown as usual). The server
 * sends nothing of it across, so a tile would hold a frozen picture; the note says where it is.
 */
export function asideShareNote(aside: AsideShown | null, peerId: string, name: string): string | undefined {
  if (asideTileNote(aside, peerId) === undefined || !aside) return undefined;
  if (aside.selfIn) return `${name} is sharing their screen with the group; you see it when you are back.`;
  return `${name} is sharing their screen with ${peerId === aside.memberId ? aside.facilitatorName : aside.memberName} only.`;
}
