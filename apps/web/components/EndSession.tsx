'use client';

import { useEffect, useRef, useState } from 'react';
import type { RoomClient } from '@/lib/room-client';
import { useAction } from './useAction';

/** Ending the session for everyone, after one confirmation. */
export function EndSession({ client }: { client: RoomClient }) {
  const { busy, error, run } = useAction();
  const [confirming, setConfirming] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const openRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
  }, [confirming]);

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
      {error && <p className="error">{error}</p>}
    </section>
  );
}
