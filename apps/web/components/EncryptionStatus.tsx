'use client';

import { useId, useState } from 'react';
import type { KeyStatus } from '@group-room/shared/e2ee';
import { LockIcon } from './LockIcon';

/**
 * The room's end-to-end encryption as this person sees it: while this browser has no key yet
 * (nothing is sent or played until it has), a plain message; once it has, the safety code
 * everyone holding the same key sees alike, for the facilitator to read aloud.
 */
export function EncryptionStatus({ keys }: { keys: KeyStatus }) {
  const id = useId();
  const [open, setOpen] = useState(false);
  if (keys.state === 'waiting') {
    return (
      <p className="notice subtle" role="status" data-testid="encryption-waiting">
        Waiting for the facilitator&rsquo;s device to let you into the encrypted room…
      </p>
    );
  }
  return (
    <div className="encryption" data-testid="encryption-ready" data-key={`${keys.ref.gen}.${keys.ref.step}`}>
      <button type="button" className="link-button" aria-expanded={open} aria-controls={`${id}-code`} onClick={() => setOpen((o) => !o)}>
        <LockIcon /> Encrypted end to end · {open ? 'hide' : 'show'} safety code
      </button>
      {open && (
        <p id={`${id}-code`} className="hint">
          Safety code: <strong data-testid="safety-code">{keys.safetyCode.join(' ')}</strong>. Everyone in the room should see the same words; if
          the facilitator reads out different ones, tell them.
        </p>
      )}
    </div>
  );
}
