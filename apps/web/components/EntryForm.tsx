'use client';

import { useEffect, useId, useState, type FormEvent } from 'react';
import { checkName, rememberName, rememberedName } from '@/lib/display-name';
import type { RoomSnapshot } from '@/lib/room-client';
import { useAnnounce } from './Announcer';
import { MediaTile } from './MediaTile';
import { useFocusOnMount } from './useFocusOnMount';

interface Props {
  room: RoomSnapshot;
  onEnter: (displayName: string) => void;
}

export const PRIVATE_SPACE_LABEL = 'I am somewhere private where others cannot see or hear the group';

/** The first screen for everyone with a link: a name, a promise of privacy, a preview. */
export function EntryForm({ room, onEnter }: Props) {
  const id = useId();
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const announce = useAnnounce();
  const [name, setName] = useState('');
  const [isPrivate, setIsPrivate] = useState(false);
  const [nameError, setNameError] = useState<string | null>(null);
  const [privateError, setPrivateError] = useState<string | null>(null);
  const entering = room.status === 'entering';

  useEffect(() => setName(rememberedName()), []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const checked = checkName(name);
    const nameProblem = checked.ok ? null : checked.message;
    const privateProblem = isPrivate ? null : 'Please find a private place first, then tick the box.';
    setNameError(nameProblem);
    setPrivateError(privateProblem);
    if (!checked.ok || privateProblem) {
      announce([nameProblem, privateProblem].filter(Boolean).join(' '));
      return;
    }
    rememberName(checked.name);
    onEnter(checked.name);
  };

  const previewName = checkName(name).ok ? name.trim() : 'You';

  return (
    <div className="entry">
      <h1 ref={heading} tabIndex={-1}>
        Join the group session
      </h1>
      {room.notice && (
        <p className="notice" data-testid="entry-notice">
          {room.notice}
        </p>
      )}
      <p className="lead">Nothing is recorded. Only you can see this preview until you are let into the room.</p>
      <div className="entry-layout">
        <MediaTile name={previewName} video={room.localStream} self micOn={room.micOn} camOn={room.camOn} testId="self-preview" />
        <form className="card" onSubmit={submit} noValidate>
          <div className="field">
            <label htmlFor={`${id}-name`}>Your name, as the group will see it</label>
            <p className="field-hint" id={`${id}-name-hint`}>
              A first name or a pseudonym is enough.
            </p>
            <input
              id={`${id}-name`}
              name="displayName"
              value={name}
              onChange={(e) => setName(e.target.value)}
              maxLength={40}
              autoComplete="given-name"
              aria-invalid={nameError ? true : undefined}
              aria-describedby={`${id}-name-hint${nameError ? ` ${id}-name-error` : ''}`}
            />
            {nameError && (
              <p className="error" id={`${id}-name-error`}>
                {nameError}
              </p>
            )}
          </div>
          <div className="field check">
            <input
              id={`${id}-private`}
              type="checkbox"
              checked={isPrivate}
              onChange={(e) => setIsPrivate(e.target.checked)}
              aria-invalid={privateError ? true : undefined}
              aria-describedby={privateError ? `${id}-private-error` : undefined}
            />
            <label htmlFor={`${id}-private`}>{PRIVATE_SPACE_LABEL}</label>
          </div>
          {privateError && (
            <p className="error" id={`${id}-private-error`}>
              {privateError}
            </p>
          )}
          {room.deviceWarning && <p className="notice">{room.deviceWarning}</p>}
          <button type="submit" className="primary" disabled={entering}>
            {entering ? 'Connecting…' : 'Continue'}
          </button>
        </form>
      </div>
    </div>
  );
}
