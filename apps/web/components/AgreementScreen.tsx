'use client';

import { useState, type ReactNode } from 'react';
import type { Agreement } from '@group-room/shared';
import { clockTime, paragraphs, shortVersion } from '@/lib/format';
import type { ActionResult } from '@/lib/action-result';
import { useAnnounce } from './Announcer';
import { useFocusOnMount } from './useFocusOnMount';

interface Props {
  agreement: Agreement;
  /** `entry`: before the waiting room; `changed`: the facilitator edited it mid-session. */
  mode: 'entry' | 'changed';
  onAgree: (version: string) => Promise<ActionResult>;
  onLeave: () => void;
  /** Shown under the agreement, e.g. the private-signal menu while re-reading a changed one. */
  children?: ReactNode;
}

/** The group agreement, to be read and accepted (again, when it changes) before any media. */
export function AgreementScreen({ agreement, mode, onAgree, onLeave, children }: Props) {
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const announce = useAnnounce();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const agree = async () => {
    setBusy(true);
    setError(null);
    const result = await onAgree(agreement.version);
    setBusy(false);
    if (!result.ok) {
      setError(result.message);
      announce(result.message);
    }
  };

  return (
    <>
      <section className="card agreement-screen" aria-labelledby="agreement-heading">
        <h1 id="agreement-heading" ref={heading} tabIndex={-1}>
          {mode === 'entry' ? 'The group agreement' : 'The group agreement has changed'}
        </h1>
        <p className="lead">
          {mode === 'entry'
            ? 'Everyone in this group agrees to the same things. Please read them before you join.'
            : 'The facilitator has updated the agreement. Your camera and microphone are paused, and you cannot see or hear the group, until you accept the new text.'}
        </p>
        <div className="agreement-text" data-testid="agreement-text">
          {paragraphs(agreement.text).map((p, i) => (
            <p key={i}>{p}</p>
          ))}
        </div>
        <p className="meta">
          Version {shortVersion(agreement.version)}, updated at {clockTime(agreement.updatedAt)}
        </p>
        {error && <p className="error">{error}</p>}
        <div className="actions">
          <button type="button" className="primary" onClick={() => void agree()} disabled={busy}>
            I agree
          </button>
          <button type="button" onClick={onLeave}>
            {mode === 'entry' ? 'I do not agree: leave' : 'Leave the session'}
          </button>
        </div>
      </section>
      {children}
    </>
  );
}
