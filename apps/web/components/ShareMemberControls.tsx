'use client';

import type { MemberDetail, MemberSummary } from '@group-room/shared';
import type { RoomClient } from '@/lib/room-client';
import type { useAction } from './useAction';

/** Whether someone's screen reaches the group now. */
export const isSharing = (m: MemberSummary): boolean => m.sending.screen || m.producers.some((p) => p.source === 'screen');

/** "sharing their screen", "asks to share"…: a member row's screen-share state at a glance. */
export function shareNotes(m: MemberDetail): string[] {
  if (isSharing(m)) return ['sharing their screen'];
  if (m.role !== 'member') return [];
  if (m.share.asking) return ['asks to share their screen'];
  if (m.share.granted) return ['may share their screen'];
  return [];
}

interface Props {
  client: RoomClient;
  member: MemberDetail;
  busy: boolean;
  run: ReturnType<typeof useAction>['run'];
}

/**
 * A facilitator's screen-share controls on someone's row: let a member share (or decline their
 * request), withdraw it (which closes their share on the server at once), and end anyone's
 * share now (the grant stays). The owner's share is theirs alone to end.
 */
export function ShareMemberControls({ client, member: m, busy, run }: Props) {
  const name = m.displayName;
  const sharing = isSharing(m);
  const isMember = m.role === 'member';
  const { granted, asking } = m.share;
  const canEnd = sharing && !m.owner;
  if (!isMember && !canEnd) return null;
  return (
    <span className="person-actions share-actions">
      {isMember && !granted && (
        <button
          type="button"
          className={`small${asking ? ' primary' : ''}`}
          disabled={busy}
          aria-label={`Allow sharing for ${name}`}
          onClick={() => void run(() => client.command({ type: 'share.grant', memberId: m.id }), `${name} may now share their screen.`)}
        >
          Allow sharing
        </button>
      )}
      {isMember && asking && !granted && (
        <button
          type="button"
          className="small"
          disabled={busy}
          aria-label={`Decline ${name}’s request to share`}
          onClick={() => void run(() => client.command({ type: 'share.revoke', memberId: m.id }), `${name}’s request to share was declined.`)}
        >
          Decline
        </button>
      )}
      {isMember && granted && (
        <button
          type="button"
          className="small"
          disabled={busy}
          aria-label={`Withdraw sharing from ${name}`}
          onClick={() =>
            void run(
              () => client.command({ type: 'share.revoke', memberId: m.id }),
              sharing ? `${name}’s share was closed and they may no longer share.` : `${name} may no longer share their screen.`,
            )
          }
        >
          Withdraw sharing
        </button>
      )}
      {canEnd && (
        <button
          type="button"
          className="small"
          disabled={busy}
          aria-label={`End share of ${name}’s screen`}
          onClick={() => void run(() => client.command({ type: 'share.stop', memberId: m.id }), `${name}’s share was closed.`)}
        >
          End share
        </button>
      )}
    </span>
  );
}
