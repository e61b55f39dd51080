'use client';

import { DEFAULT_SHARE_POLICY, type MemberDetail, type RoomView, type SharePolicy } from '@group-room/shared';
import { useEffect, useId, useRef } from 'react';
import type { RoomClient } from '@/lib/room-client';
import { useAnnounce } from './Announcer';
import { isSharing, ShareMemberControls } from './ShareMemberControls';
import { useAction } from './useAction';

interface Props {
  client: RoomClient;
  view: RoomView;
  everyone: MemberDetail[];
}

/**
 * The facilitator's screen sharing: who asks to share (answered here or on their row), who
 * shares now, and the room's rules: two shares at once, and whether a whole screen may be shared.
 */
export function ShareSettings({ client, view, everyone }: Props) {
  const id = useId();
  const { busy, error, run } = useAction();
  const policy = view.share ?? DEFAULT_SHARE_POLICY;
  const admitted = everyone.filter((m) => m.stage === 'admitted');
  const asking = admitted.filter((m) => m.role === 'member' && m.share.asking && !m.share.granted);
  const sharing = admitted.filter(isSharing);
  useAskArrivals(asking);

  const setPolicy = (next: SharePolicy, said: string) => void run(() => client.command({ type: 'share.setPolicy', ...next }), said);

  return (
    <section className="panel-section share-settings" aria-labelledby={`${id}-heading`} data-testid="share-settings">
      <h2 id={`${id}-heading`}>Screen sharing</h2>
      {asking.length > 0 && (
        <ul className="people share-asks" aria-label="Asking to share">
          {asking.map((m) => (
            <li key={m.id} data-member-name={m.displayName}>
              <span className="person">
                <span className="person-name">{m.displayName}</span>
                <span className="person-meta">asks to share their screen</span>
              </span>
              <ShareMemberControls client={client} member={m} busy={busy} run={run} />
            </li>
          ))}
        </ul>
      )}
      <p className="hint">
        {sharing.length === 0
          ? 'Nobody is sharing. Facilitators can share at any time; a member shares once you allow it on their row.'
          : `Sharing now: ${sharing.map((m) => (m.id === view.self.id ? 'you' : m.displayName)).join(', ')}.`}
      </p>
      <div className="switches">
        <label className="check">
          <input
            type="checkbox"
            checked={policy.maxShares === 2}
            disabled={busy}
            onChange={(e) =>
              setPolicy({ ...policy, maxShares: e.target.checked ? 2 : 1 }, e.target.checked ? 'Two people may now share at once.' : 'One share at a time.')
            }
          />
          <span>Allow two shares at once</span>
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={policy.allowWholeScreen}
            disabled={busy}
            onChange={(e) =>
              setPolicy(
                { ...policy, allowWholeScreen: e.target.checked },
                e.target.checked ? 'A whole screen may now be shared.' : 'Only a window or a tab may be shared now.',
              )
            }
          />
          <span>Allow sharing a whole screen (not only a window or a tab)</span>
        </label>
      </div>
      {error && <p className="error">{error}</p>}
    </section>
  );
}

/** Say when a member asks to share, so a facilitator using a screen reader hears it. */
function useAskArrivals(asking: MemberDetail[]): void {
  const announce = useAnnounce();
  const before = useRef<Set<string> | null>(null);
  const key = asking.map((m) => m.id).join(',');
  useEffect(() => {
    const previous = before.current;
    before.current = new Set(asking.map((m) => m.id));
    if (!previous) return;
    for (const m of asking) if (!previous.has(m.id)) announce(`${m.displayName} asks to share their screen.`);
    // Runs on a change of who asks (`key`), not on each new list of the same people.
  }, [key, announce]);
}
