'use client';

import type { MemberDetail } from '@group-room/shared';
import { startTransition, useOptimistic } from 'react';
import { clockTime } from '@/lib/format';
import type { RoomClient } from '@/lib/room-client';
import { useAction } from './useAction';
import { WayIn } from './WayIn';

interface Props {
  client: RoomClient;
  everyone: MemberDetail[];
  autoAdmit: boolean;
  locked: boolean;
  /** Set briefly when someone new arrives, for a visual cue. */
  highlight: boolean;
}

/** Who is waiting to come in (and who is still reading the agreement), and how to admit them. */
export function WaitingList({ client, everyone, autoAdmit, locked, highlight }: Props) {
  const { busy, error, run } = useAction();
  // The switches move at once; they settle on whatever the server's next view says.
  const [shownAutoAdmit, showAutoAdmit] = useOptimistic(autoAdmit);
  const [shownLocked, showLocked] = useOptimistic(locked);
  const waiting = everyone.filter((m) => m.stage === 'waiting');
  const reading = everyone.filter((m) => m.stage === 'agreement');

  return (
    <section className={`panel-section${highlight ? ' arrived' : ''}`} aria-labelledby="waiting-list-heading" id="waiting-list" tabIndex={-1}>
      <h2 id="waiting-list-heading">
        Waiting room <span className="count">{waiting.length}</span>
      </h2>
      {waiting.length === 0 ? (
        <p className="hint">Nobody is waiting.</p>
      ) : (
        <ul className="people" data-testid="waiting-list">
          {waiting.map((m) => (
            <li key={m.id} data-member-name={m.displayName} data-connection={m.connection}>
              <span className="person">
                <span className="person-name">{m.displayName}</span>
                <span className="person-meta">
                  arrived {clockTime(m.enteredAt)}
                  {m.connection === 'reconnecting' && ' · reconnecting…'}
                </span>
              </span>
              <button
                type="button"
                className="primary small"
                disabled={busy || locked}
                aria-label={`Admit ${m.displayName}`}
                onClick={() => void run(() => client.command({ type: 'member.admit', memberId: m.id }), `${m.displayName} admitted.`)}
              >
                Admit
              </button>
            </li>
          ))}
        </ul>
      )}
      {waiting.length > 0 && (
        <button type="button" disabled={busy || locked} onClick={() => void run(() => client.command({ type: 'member.admitAll' }), 'Everyone waiting was admitted.')}>
          Admit all ({waiting.length})
        </button>
      )}
      {locked && waiting.length > 0 && <p className="hint">The room is locked: unlock it to admit people.</p>}
      <WayIn client={client} reading={reading} waiting={waiting} />
      {error && <p className="error">{error}</p>}

      <div className="switches">
        <label className="switch">
          <input
            type="checkbox"
            checked={shownAutoAdmit}
            disabled={busy}
            onChange={(e) => {
              const enabled = e.target.checked;
              startTransition(async () => {
                showAutoAdmit(enabled);
                await run(() => client.command({ type: 'room.setAutoAdmit', enabled }), enabled ? 'People will come in as soon as they accept the agreement.' : 'You will admit people yourself.');
              });
            }}
          />
          <span>Let people in automatically once they accept the agreement</span>
        </label>
        <label className="switch">
          <input
            type="checkbox"
            checked={shownLocked}
            disabled={busy}
            onChange={(e) => {
              const next = e.target.checked;
              startTransition(async () => {
                showLocked(next);
                await run(() => client.command({ type: 'room.setLocked', locked: next }), next ? 'The room is locked: nobody new can come in.' : 'The room is unlocked.');
              });
            }}
          />
          <span>Lock the room: nobody new can come in</span>
        </label>
      </div>
    </section>
  );
}
