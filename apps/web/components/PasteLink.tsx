'use client';

import { useId, useState, type FormEvent } from 'react';
import { parsePastedLink } from '@/lib/links';
import { useAnnounce } from './Announcer';

/** "Have a link? Paste it": opens a room link on this site, and nowhere else. */
export function PasteLink() {
  const id = useId();
  const announce = useAnnounce();
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const parsed = parsePastedLink(value, window.location.origin);
    if (!parsed.ok) {
      setError(parsed.message);
      announce(parsed.message);
      return;
    }
    window.location.assign(parsed.href);
  };

  return (
    <form className="card paste-link" onSubmit={submit} aria-labelledby={`${id}-heading`} noValidate>
      <h2 id={`${id}-heading`}>Have a link?</h2>
      <div className="field">
        <label htmlFor={`${id}-link`}>Paste it here</label>
        <div className="copy-row">
          <input
            id={`${id}-link`}
            value={value}
            onChange={(e) => setValue(e.target.value)}
            placeholder="https://…/room/…#k=…"
            autoComplete="off"
            spellCheck={false}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? `${id}-error` : undefined}
          />
          <button type="submit">Open</button>
        </div>
        {error && (
          <p className="error" id={`${id}-error`}>
            {error}
          </p>
        )}
      </div>
    </form>
  );
}
