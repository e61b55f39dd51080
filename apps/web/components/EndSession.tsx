'use client';

import type { MemberDetail } from '@group-room/shared';
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { RoomClient } from '@/lib/room-client';
import { useAction } from './useAction';

interface Props {
  client: RoomClient;
  everyone: MemberDetail[];
  selfId: string;
}

/**
 * Ending the session for everyone, after one confirmation. While the person who created the
 * session holds a seat (even away), only they may: the server refuses anyone else.
 */
export function EndSession({ client, everyone, selfId }: Props) {
  const { busy, error, run } = useAction();
  const saving = useAction();
  const [confirming, setConfirming] = useState(false);
  const { subscribe, getSnapshot } = client.checkout.unsaved;
  const unsaved = useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const openRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
  }, [confirming]);

  const ownerHere = everyone.some((m) => m.owner);
  const isOwner = everyone.some((m) => m.id === selfId && m.owner);
  if (ownerHere && !isOwner) {
    return (
      <section className="panel-section end-session" aria-label="End the session">
        <p className="hint" data-testid="end-session-owner-only">
          The person who created the session is in it, so only they can end it.
        </p>
      </section>
    );
  }

  return (
    <section className="panel-section end-session" aria-label="End the session">
      {!confirming ? (
        <button type="button" ref={openRef} className="danger" onClick={() => setConfirming(true)}>
          End the session for everyone
        </button>
      ) : (
        <div className="confirm" role="group" aria-labelledby="end-session-question">
          <p id="end-session-question">
            <strong>End the session for everyone now?</strong> Everyone leaves the room and the links stop working. Only the record of who accepted the
            agreement is kept.
          </p>
          {unsaved && (
            <p className="notice" data-testid="end-session-unsaved">
              The check-out answers on this page are not saved yet. Save them first if you want to keep them (you can also save them once after
              the session ends).{' '}
              <button
                type="button"
                disabled={saving.busy}
                onClick={() => void saving.run(() => client.checkout.save(), 'The answers were saved as a file on this device.')}
              >
                Save answers
              </button>
            </p>
          )}
          <div className="actions">
            <button type="button" ref={confirmRef} className="danger" disabled={busy} onClick={() => void run(() => client.command({ type: 'session.end' }))}>
              End the session now
            </button>
            <button
              type="button"
              onClick={() => {
                setConfirming(false);
                setTimeout(() => openRef.current?.focus(), 0);
              }}
            >
              Cancel
            </button>
          </div>
        </div>
      )}
      {(error ?? saving.error) && <p className="error">{error ?? saving.error}</p>}
    </section>
  );
}
