'use client';

import { AGREEMENT_MAX, type Acknowledgement, type Agreement, type MemberDetail } from '@group-room/shared';
import { useEffect, useId, useState } from 'react';
import { clockTime, shortVersion } from '@/lib/format';
import type { RoomClient } from '@/lib/room-client';
import { useAction } from './useAction';

interface Props {
  client: RoomClient;
  agreement: Agreement;
  everyone: MemberDetail[];
  acknowledgements: Acknowledgement[];
}

function acknowledgementState(member: MemberDetail, current: string): string {
  if (member.acknowledgedVersion === current) return 'accepted this version';
  if (member.acknowledgedVersion) return `accepted an earlier version (${shortVersion(member.acknowledgedVersion)}), not yet this one`;
  return member.stage === 'agreement' ? 'reading it now' : 'not yet';
}

/** The agreement's current version, who accepted which version, and editing it mid-session. */
export function AgreementEditor({ client, agreement, everyone, acknowledgements }: Props) {
  const id = useId();
  const { busy, error, run } = useAction();
  const [text, setText] = useState(agreement.text);
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const members = everyone.filter((m) => m.role === 'member');
  const pending = members.filter((m) => m.acknowledgedVersion !== agreement.version).length;

  // A new version from another facilitator replaces an unedited draft.
  useEffect(() => {
    if (!editing) setText(agreement.text);
  }, [agreement.text, editing]);

  const save = async () => {
    const result = await run(() => client.command({ type: 'agreement.set', text }), 'The agreement was updated. Members are asked to accept the new text.');
    if (result.ok) {
      setConfirming(false);
      setEditing(false);
    }
  };

  return (
    <section className="panel-section" aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>Group agreement</h2>
      <p className="meta">
        Version {shortVersion(agreement.version)}, set at {clockTime(agreement.updatedAt)}.{' '}
        {members.length > 0 && (pending === 0 ? 'Everyone has accepted it.' : `${pending} of ${members.length} still to accept it.`)}
      </p>
      {members.length > 0 && (
        <ul className="acks" data-testid="acknowledgements">
          {members.map((m) => (
            <li key={m.id}>
              <span className="person-name">{m.displayName}</span>: {acknowledgementState(m, agreement.version)}
            </li>
          ))}
        </ul>
      )}
      {acknowledgements.length > 0 && (
        <details>
          <summary>Record of acceptances ({acknowledgements.length})</summary>
          <ul className="acks">
            {acknowledgements.map((a, i) => (
              <li key={`${a.memberId}-${a.at}-${i}`}>
                {clockTime(a.at)}: {a.displayName} accepted version {shortVersion(a.version)}
                {a.version === agreement.version ? ' (current)' : ''}
              </li>
            ))}
          </ul>
        </details>
      )}
      {!editing ? (
        <button type="button" onClick={() => setEditing(true)}>
          Edit the agreement
        </button>
      ) : (
        <div className="editor">
          <label htmlFor={`${id}-text`}>Agreement text</label>
          <textarea id={`${id}-text`} value={text} onChange={(e) => setText(e.target.value)} rows={10} maxLength={AGREEMENT_MAX} />
          {!confirming ? (
            <div className="actions">
              <button type="button" className="primary" disabled={busy || text.trim() === '' || text.trim() === agreement.text} onClick={() => setConfirming(true)}>
                Save as a new version
              </button>
              <button
                type="button"
                onClick={() => {
                  setEditing(false);
                  setText(agreement.text);
                }}
              >
                Cancel
              </button>
            </div>
          ) : (
            <div className="confirm" role="group" aria-labelledby={`${id}-confirm`}>
              <p id={`${id}-confirm`}>
                <strong>Ask everyone to accept the new text?</strong> Members&rsquo; cameras and microphones pause until each of them accepts it. People
                waiting go back to reading it.
              </p>
              <div className="actions">
                <button type="button" className="primary" disabled={busy} onClick={() => void save()}>
                  Update the agreement
                </button>
                <button type="button" onClick={() => setConfirming(false)}>
                  Keep editing
                </button>
              </div>
            </div>
          )}
        </div>
      )}
      {error && <p className="error">{error}</p>}
    </section>
  );
}
