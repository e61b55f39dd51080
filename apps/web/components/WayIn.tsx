'use client';

import type { MemberDetail } from '@group-room/shared';
import { useEffect, useId, useRef, useState } from 'react';
import type { RoomClient } from '@/lib/room-client';
import { useAction } from './useAction';

interface Props {
  client: RoomClient;
  /** Members still reading the entry agreement. */
  reading: MemberDetail[];
  /** Members in the waiting room. */
  waiting: MemberDetail[];
}

/**
 * How many are on their way in, and clearing it without closing the link: people holding
 * places on the way in (e.g. someone with the shared link keeping it full) are let go and told
 * they may come in again with their link; nobody is blocked. Reading the agreement: one click
 * (they have agreed to nothing yet); the waiting room too: asked first.
 */
export function WayIn({ client, reading, waiting }: Props) {
  const id = useId();
  const { busy, error, run } = useAction();
  const [confirming, setConfirming] = useState(false);
  const question = useRef<HTMLDivElement>(null);
  const onTheWay = reading.length + waiting.length;

  useEffect(() => {
    if (confirming) question.current?.focus();
  }, [confirming]);
  // Nobody waiting any more: nothing to ask about.
  useEffect(() => {
    if (waiting.length === 0) setConfirming(false);
  }, [waiting.length]);

  if (onTheWay === 0) return null;
  const clear = async (withWaiting: boolean) => {
    const result = await run(
      () => client.command({ type: 'lobby.clear', waiting: withWaiting }),
      `${withWaiting ? 'Everyone on the way in was' : 'Everyone reading the agreement was'} let go. The link still works: they can come in again with it.`,
    );
    if (result.ok) setConfirming(false);
  };

  return (
    <div className="way-in" data-testid="way-in">
      {reading.length > 0 && (
        <p className="hint way-in-line">
          <span id={`${id}-reading`}>
            {reading.length} on their way in (reading the agreement): {reading.map((m) => m.displayName).join(', ')}
          </span>{' '}
          <button
            type="button"
            className="small"
            disabled={busy}
            aria-label={`Clear the ${reading.length} reading the agreement`}
            aria-describedby={`${id}-reading`}
            onClick={() => void clear(false)}
          >
            Clear
          </button>
        </p>
      )}
      {waiting.length > 0 &&
        (confirming ? (
          <div className="confirm" ref={question} tabIndex={-1} role="group" aria-labelledby={`${id}-question`}>
            <p id={`${id}-question`}>
              <strong>Let everyone on the way in go ({onTheWay})?</strong> That is everyone reading the agreement and everyone in the waiting room. The link
              keeps working: they are told they can come in again with it.
            </p>
            <div className="actions">
              <button type="button" className="danger" disabled={busy} onClick={() => void clear(true)}>
                Clear the way in
              </button>
              <button type="button" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </div>
          </div>
        ) : (
          <button type="button" className="small" disabled={busy} onClick={() => setConfirming(true)}>
            Clear everyone on the way in ({onTheWay})…
          </button>
        ))}
      {error && <p className="error">{error}</p>}
    </div>
  );
}
