'use client';

import { isFacilitatorRole, type RoomView } from '@group-room/shared';
import { useEffect, useRef } from 'react';
import { asideNote, asideShown, asideStatusLine, type AsideShown } from '@/lib/aside';
import type { RoomClient } from '@/lib/room-client';
import { useAnnounce } from './Announcer';
import { useAction } from './useAction';

interface Props {
  client: RoomClient;
  view: RoomView;
}

/** Said once as an aside starts or ends, to this page's screen reader (and shown as the banner or tile). */
function useAsideAnnouncements(aside: AsideShown | null): void {
  const announce = useAnnounce();
  const last = useRef<AsideShown | null>(aside);
  const key = aside ? `${aside.facilitatorId}:${aside.memberId}:${aside.selfIn}` : '';
  useEffect(() => {
    const before = last.current;
    last.current = aside;
    if (aside && (!before || before.memberId !== aside.memberId || before.selfIn !== aside.selfIn)) {
      announce(aside.selfIn ? `You are aside with ${aside.otherName}. Only they hear and see you now.` : `${asideNote(aside)}.`);
    } else if (!aside && before) {
      announce(before.selfIn ? 'You are back with the group.' : `${before.memberName} and ${before.facilitatorName} are back with the group.`);
    }
    // `key` changes exactly when the aside does (`aside` is a new object with every view).
  }, [key]);
}

/**
 * For the two aside: whom they are with, and "Return to the group" (either may end it). For a
 * facilitator in the group, who is aside and a way to bring them back. A member in the group
 * sees one line, "Alex is with Sam" (and the two's tiles saying so: asideTileNote). Not a live
 * region: the announcement above already says it once.
 */
export function AsideBanner({ client, view }: Props) {
  const aside = asideShown(view);
  const { busy, error, run } = useAction();
  useAsideAnnouncements(aside);
  if (!aside) return null;
  const facilitating = isFacilitatorRole(view.self.role);
  const status = asideStatusLine(aside);
  if (!facilitating && status !== null) {
    return (
      <p className="notice subtle" data-testid="aside-status">
        {status}
      </p>
    );
  }
  const end = () => void run(() => client.command({ type: 'aside.end' }));
  return (
    <section className={`aside-banner${aside.selfIn ? ' in-aside' : ''}`} aria-label="Aside" data-testid="aside-banner" data-aside={aside.selfIn ? 'in' : 'group'}>
      {aside.selfIn ? (
        <p>
          <strong>You are aside with {aside.otherName}.</strong> Only {aside.otherName} hears and sees you; the group goes on without you both.
        </p>
      ) : (
        <p>
          <strong>{asideNote(aside)}.</strong> The group hears and sees neither of them until they return.
        </p>
      )}
      <button type="button" className={aside.selfIn ? 'primary' : 'small'} disabled={busy} onClick={end} data-testid="aside-end">
        {aside.selfIn ? 'Return to the group' : `Bring ${aside.memberName} and ${aside.facilitatorName} back`}
      </button>
      {error && <p className="error">{error}</p>}
    </section>
  );
}

interface TakeAsideProps {
  client: RoomClient;
  view: RoomView;
  member: { id: string; displayName: string };
  busy: boolean;
  run: ReturnType<typeof useAction>['run'];
}

/**
 * "Take aside" for a facilitator: one member, one action (the server stops forwarding between
 * the two and the group). Only while nobody is aside, and never the facilitator themselves.
 */
export function TakeAsideButton({ client, view, member, busy, run }: TakeAsideProps) {
  if (view.aside || !isFacilitatorRole(view.self.role) || member.id === view.self.id) return null;
  return (
    <button
      type="button"
      className="small"
      disabled={busy}
      aria-label={`Take aside: ${member.displayName}`}
      data-testid="take-aside"
      onClick={() => void run(() => client.command({ type: 'aside.start', memberId: member.id }))}
    >
      Take aside
    </button>
  );
}
