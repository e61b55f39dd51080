'use client';

import { PRIVATE_MESSAGE_MAX } from '@group-room/shared';
import { useId, useState, type FormEvent } from 'react';
import type { PrivateSignalInput } from '@/lib/private-signal';
import type { RoomClient } from '@/lib/room-client';
import { useAction } from './useAction';

const QUICK: { kind: Exclude<PrivateSignalInput['kind'], 'message'>; label: string }[] = [
  { kind: 'need-moment', label: 'I need a moment' },
  { kind: 'stepping-away', label: 'I am stepping away' },
  { kind: 'back', label: "I'm back" },
];

/**
 * A member tells the facilitators something without the group knowing: three quick signals
 * and a short message. Nothing is stored; the outcome is said in a status line.
 */
export function PrivateSignalMenu({ client }: { client: RoomClient }) {
  const id = useId();
  const [text, setText] = useState('');
  const { busy, error, run } = useAction();
  const [sent, setSent] = useState(false);

  const send = async (signal: PrivateSignalInput): Promise<boolean> => {
    setSent(false);
    const result = await run(() => client.sendSignal(signal));
    setSent(result.ok);
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
      <p role="status" className="sent">
        {sent && 'Sent privately to the facilitator.'}
      </p>
      {/* Already said by the page's announcer (useAction). */}
      {error && <p className="error">{error}</p>}
    </section>
  );
}
