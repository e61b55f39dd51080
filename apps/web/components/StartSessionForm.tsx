'use client';

import { AGREEMENT_MAX, DEFAULT_AGREEMENT, RoomCreationInfo, requests, summariseZodError, type RequestPayload } from '@group-room/shared';
import { useEffect, useId, useState, type FormEvent } from 'react';
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

/** Whether this server wants the facilitator access key (asked once; a failure shows the field anyway). */
function useNeedsAccessKey(): boolean {
  const [needsKey, setNeedsKey] = useState(false);
  useEffect(() => {
    let live = true;
    fetch('/api/room-creation')
      .then((response) => response.json())
      .then((body: unknown) => {
        const info = RoomCreationInfo.safeParse(body);
        if (live) setNeedsKey(!info.success || info.data.mode === 'key');
      })
      .catch(() => live && setNeedsKey(true));
    return () => {
      live = false;
    };
  }, []);
  return needsKey;
}

/** The facilitator's form: title, length, start time, the group agreement (and the access key where one is set). */
export function StartSessionForm({ onCreate }: Props) {
  const id = useId();
  const announce = useAnnounce();
  const [title, setTitle] = useState('');
  const [minutes, setMinutes] = useState('90');
  const [startsAt, setStartsAt] = useState('');
  const [agreement, setAgreement] = useState(DEFAULT_AGREEMENT);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const needsKey = useNeedsAccessKey();
  const [accessKey, setAccessKey] = useState('');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const payload: RequestPayload<'room:create'> = {
      title: title.trim(),
      durationMinutes: Number(minutes),
      agreement,
      ...(startsAtFrom(startsAt) !== undefined ? { startsAt: startsAtFrom(startsAt) } : {}),
      ...(needsKey && accessKey ? { accessKey } : {}),
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
      {needsKey && (
        <div className="field">
          <label htmlFor={`${id}-key`}>Facilitator access key</label>
          <input
            id={`${id}-key`}
            type="password"
            autoComplete="off"
            value={accessKey}
            onChange={(e) => setAccessKey(e.target.value)}
            aria-describedby={`${id}-key-hint`}
          />
          <p className="field-hint" id={`${id}-key-hint`}>
            The passphrase your organisation gave facilitators for creating sessions.
          </p>
        </div>
      )}
      {error && <p className="error">{error}</p>}
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create the session'}
      </button>
    </form>
  );
}
