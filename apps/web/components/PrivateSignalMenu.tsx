'use client';

import { PRIVATE_MESSAGE_MAX } from '@group-room/shared';
import { useId, useState, type FormEvent } from 'react';
import type { PrivateSignalInput, RoomClient } from '@/lib/room-client';

const QUICK: { kind: Exclude<PrivateSignalInput['kind'], 'message'>; label: string }[] = [
  { kind: 'need-moment', label: 'I need a moment' },
  { kind: 'stepping-away', label: 'I am stepping away' },
  { kind: 'back', label: "I'm back" },
];

type Outcome = { ok: true } | { ok: false; message: string } | null;

/**
 * A member tells the facilitators something without the group knowing: three quick signals
 * and a short message. Nothing is stored; the outcome is said in a status line.
 */
export function PrivateSignalMenu({ client }: { client: RoomClient }) {
  const id = useId();
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>(null);

  const send = async (signal: PrivateSignalInput): Promise<boolean> => {
    setBusy(true);
    setOutcome(null);
    const result = await client.sendSignal(signal);
    setBusy(false);
    setOutcome(result.ok ? { ok: true } : { ok: false, message: result.message });
    return result.ok;
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await send({ kind: 'message', text })) setText('');
  };

  return (
    <section className="card private-menu" aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>Tell the facilitator privately</h2>
      <p className="hint">Only the facilitator sees these, and nothing is kept after the session.</p>
      <div className="quick-signals">
        {QUICK.map(({ kind, label }) => (
          <button key={kind} type="button" disabled={busy} onClick={() => void send({ kind })}>
            {label}
          </button>
        ))}
      </div>
      <form className="private-message" onSubmit={(e) => void submit(e)}>
        <label htmlFor={`${id}-text`}>Private message to the facilitator</label>
        <div className="copy-row">
          <input
            id={`${id}-text`}
            type="text"
            value={text}
            maxLength={PRIVATE_MESSAGE_MAX}
            autoComplete="off"
            aria-describedby={`${id}-count`}
            onChange={(e) => setText(e.target.value)}
          />
          <button type="submit" className="primary" disabled={busy}>
            Send privately
          </button>
        </div>
        <p className="field-hint" id={`${id}-count`}>
          {PRIVATE_MESSAGE_MAX - text.length} characters left
        </p>
      </form>
      <p role="status" className={outcome?.ok === false ? 'error' : 'sent'}>
        {outcome?.ok === true && 'Sent privately to the facilitator.'}
        {outcome?.ok === false && outcome.message}
      </p>
    </section>
  );
}
