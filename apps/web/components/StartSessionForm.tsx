'use client';

import { AGREEMENT_MAX, DEFAULT_AGREEMENT, requests, summariseZodError, type RequestPayload } from '@group-room/shared';
import { useId, useState, type FormEvent } from 'react';
import { useAnnounce } from './Announcer';

interface Props {
  onCreate: (payload: RequestPayload<'room:create'>) => Promise<string | null>;
}

/** `datetime-local` gives local wall-clock time without a zone; Date reads it as local. */
function startsAtFrom(value: string): number | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/** The facilitator's form: title, length, start time and the group agreement. */
export function StartSessionForm({ onCreate }: Props) {
  const id = useId();
  const announce = useAnnounce();
  const [title, setTitle] = useState('');
  const [minutes, setMinutes] = useState('90');
  const [startsAt, setStartsAt] = useState('');
  const [agreement, setAgreement] = useState(DEFAULT_AGREEMENT);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const payload: RequestPayload<'room:create'> = {
      title: title.trim(),
      durationMinutes: Number(minutes),
      agreement,
      ...(startsAtFrom(startsAt) !== undefined ? { startsAt: startsAtFrom(startsAt) } : {}),
    };
    const parsed = requests['room:create'].request.safeParse(payload);
    if (!parsed.success) {
      const message = `Please check the form: ${summariseZodError(parsed.error)
        .replace('durationMinutes', 'length')
        .replace('agreement', 'group agreement')}.`;
      setError(message);
      announce(message);
      return;
    }
    setBusy(true);
    setError(null);
    const failure = await onCreate(payload);
    setBusy(false);
    if (failure) {
      setError(failure);
      announce(failure);
    }
  };

  return (
    <form className="card start-form" onSubmit={(e) => void submit(e)} aria-labelledby={`${id}-heading`} noValidate>
      <h2 id={`${id}-heading`}>Start a session</h2>
      <p className="hint">For facilitators. You get a private link to run the session and an invite link for members.</p>
      <div className="field">
        <label htmlFor={`${id}-title`}>Session title (optional)</label>
        <input id={`${id}-title`} value={title} onChange={(e) => setTitle(e.target.value)} maxLength={80} placeholder="e.g. Tuesday evening group" />
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor={`${id}-minutes`}>Length in minutes</label>
          <input id={`${id}-minutes`} type="number" inputMode="numeric" min={15} max={240} step={5} value={minutes} onChange={(e) => setMinutes(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-starts`}>Start time (optional)</label>
          <input id={`${id}-starts`} type="datetime-local" value={startsAt} onChange={(e) => setStartsAt(e.target.value)} aria-describedby={`${id}-starts-hint`} />
          <p className="field-hint" id={`${id}-starts-hint`}>
            Leave empty to start now.
          </p>
        </div>
      </div>
      <div className="field">
        <label htmlFor={`${id}-agreement`}>Group agreement</label>
        <p className="field-hint" id={`${id}-agreement-hint`}>
          Every member reads and accepts this before they can come in. Separate points with a blank line.
        </p>
        <textarea
          id={`${id}-agreement`}
          value={agreement}
          onChange={(e) => setAgreement(e.target.value)}
          rows={12}
          maxLength={AGREEMENT_MAX}
          aria-describedby={`${id}-agreement-hint`}
        />
        {agreement !== DEFAULT_AGREEMENT && (
          <button type="button" className="link-button" onClick={() => setAgreement(DEFAULT_AGREEMENT)}>
            Use the suggested agreement again
          </button>
        )}
      </div>
      {error && <p className="error">{error}</p>}
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create the session'}
      </button>
    </form>
  );
}
