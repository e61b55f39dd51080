'use client';

import type { RoomView } from '@group-room/shared';
import type { ShownSignal as PrivateSignal } from '@/lib/e2ee/room-encryption';
import { useEffect, useId, useRef, useState } from 'react';
import { playChime } from '@/lib/chime';
import { clockTime } from '@/lib/format';
import type { RoomClient } from '@/lib/room-client';
import { TakeAsideButton } from './AsideBanner';
import { useAction } from './useAction';

/** "Bea: needs a moment", "Bea: “Can we talk after?”". */
export function describeSignal(signal: PrivateSignal): string {
  switch (signal.kind) {
    case 'need-moment':
      return `${signal.displayName}: needs a moment`;
    case 'stepping-away':
      return `${signal.displayName}: is stepping away`;
    case 'back':
      return `${signal.displayName}: is back`;
    case 'message':
      return signal.text === null ? `${signal.displayName}: a message this device could not open` : `${signal.displayName}: “${signal.text}”`;
  }
}

const FRESH_MS = 8000;

interface Props {
  client: RoomClient;
  /** Newest first, kept in this page's memory only. */
  signals: PrivateSignal[];
  /** The room now: a member who needs a moment can be taken aside from here. */
  view?: RoomView;
}

/**
 * What members told the facilitators privately, newest first. A new one chimes and glows for
 * a few seconds; the list is a live region, so screen readers read it as it arrives.
 */
export function PrivateSignals({ client, signals, view }: Props) {
  const id = useId();
  const aside = useAction();
  // Someone still in the room as a member (not aside already: only one aside at a time).
  const takeable = (memberId: string) => view?.members?.some((m) => m.id === memberId && m.role === 'member');
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const seen = useRef<Set<string> | null>(null);
  const timers = useRef(new Set<ReturnType<typeof setTimeout>>());
  // Changes exactly when the list of signals does (`signals` is a new array with every snapshot).
  const key = signals.map((s) => s.id).join(',');

  // Only signals not seen before are news; those already here when the list first shows are not.
  useEffect(() => {
    const ids = key ? key.split(',') : [];
    const before = seen.current;
    seen.current = new Set(ids);
    const arrived = before ? ids.filter((s) => !before.has(s)) : [];
    if (arrived.length === 0) return;
    playChime();
    setFresh((current) => new Set([...current, ...arrived]));
    const timer = setTimeout(() => {
      timers.current.delete(timer);
      setFresh((current) => new Set([...current].filter((s) => !arrived.includes(s))));
    }, FRESH_MS);
    timers.current.add(timer);
  }, [key]);

  useEffect(() => {
    const pending = timers.current;
    return () => {
      for (const timer of pending) clearTimeout(timer);
    };
  }, []);

  return (
    <section
      className={`panel-section private-signals${fresh.size > 0 ? ' arrived' : ''}`}
      aria-labelledby={`${id}-heading`}
      data-testid="private-signals"
      aria-live="polite"
      aria-relevant="additions"
    >
      <h2 id={`${id}-heading`}>
        Private signals {signals.length > 0 && <span className="count">{signals.length}</span>}
      </h2>
      {signals.length === 0 ? (
        <p className="hint">What members tell you privately shows here. It is not stored, and nobody else sees it.</p>
      ) : (
        <ol className="signals">
          {signals.map((s) => (
            <li key={s.id} data-testid="private-signal" className={`signal ${s.kind}${fresh.has(s.id) ? ' fresh' : ''}`}>
              <span className="signal-text">{describeSignal(s)}</span>
              <time className="signal-time" dateTime={new Date(s.at).toISOString()}>
                {clockTime(s.at)}
              </time>
              {s.kind === 'need-moment' && view && takeable(s.from) && (
                <TakeAsideButton client={client} view={view} member={{ id: s.from, displayName: s.displayName }} busy={aside.busy} run={aside.run} />
              )}
              <button type="button" className="small link-button" aria-label={`Dismiss: ${describeSignal(s)}`} onClick={() => client.facilitation.dismissSignal(s.id)}>
                Dismiss
              </button>
            </li>
          ))}
        </ol>
      )}
      {aside.error && <p className="error">{aside.error}</p>}
    </section>
  );
}
