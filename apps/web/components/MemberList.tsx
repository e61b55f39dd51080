'use client';

import type { DeviceSource, MemberDetail, RoomView } from '@group-room/shared';
import { useEffect, useId, useRef, useState } from 'react';
import { queuePlace } from '@/lib/floor-status';
import type { RoomClient } from '@/lib/room-client';
import { TakeAsideButton } from './AsideBanner';
import { roleLabel } from './roles';
import { ShareMemberControls, shareNotes } from './ShareMemberControls';
import { useAction } from './useAction';

interface Props {
  client: RoomClient;
  view: RoomView;
  everyone: MemberDetail[];
}

/** Beside the role of the person who created the session (entered with its owner key). */
const OWNER_MARK = 'created the session';

/** "mic off", "hand raised"…: what a facilitator should know of someone at a glance. */
function describeState(view: RoomView, m: MemberDetail): string[] {
  const floor = view.floor;
  const notes: string[] = [];
  // First: while their connection is down, nothing else about them is live.
  if (m.connection === 'reconnecting') notes.push('reconnecting…');
  if (view.aside?.memberId === m.id) notes.push('aside');
  if (view.aside?.facilitatorId === m.id) notes.push('has someone aside');
  if (floor?.holder === m.id) notes.push(floor.mode === 'round' ? (floor.turnPausedMs !== null ? 'turn paused' : 'speaking in the round') : 'has the floor');
  const place = floor ? queuePlace(floor, m.id) : null;
  if (place !== null) notes.push(`hand raised (${place})`);
  if (!m.sending.mic) notes.push('mic off');
  if (!m.sending.camera) notes.push('camera off');
  notes.push(...shareNotes(m));
  return notes;
}

/** Everyone in the room, with muting, role changes and removal (which asks first). */
export function MemberList({ client, view, everyone }: Props) {
  const id = useId();
  const { busy, error, run } = useAction();
  const [removing, setRemoving] = useState<string | null>(null);
  const [block, setBlock] = useState(false);
  const confirmRef = useRef<HTMLDivElement>(null);
  const admitted = everyone.filter((m) => m.stage === 'admitted');
  const target = admitted.find((m) => m.id === removing);
  const self = everyone.find((m) => m.id === view.self.id);

  useEffect(() => {
    if (removing) confirmRef.current?.focus();
  }, [removing]);

  // Someone who left while being confirmed: close the question.
  useEffect(() => {
    if (removing && !target) setRemoving(null);
  }, [removing, target]);

  const cancel = (memberId: string) => {
    setRemoving(null);
    document.getElementById(`${id}-remove-${memberId}`)?.focus();
  };

  const remove = async (member: MemberDetail) => {
    const result = await run(() => client.command({ type: 'member.remove', memberId: member.id, block }), `${member.displayName} was removed${block ? ' and their link blocked' : ''}.`);
    if (result.ok) setRemoving(null);
  };

  return (
    <section className="panel-section" aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>
        In the room <span className="count">{admitted.length}</span>
      </h2>
      <ul className="people" data-testid="member-list">
        {admitted.map((m) => {
          const isSelf = m.id === view.self.id;
          const canManage = !isSelf && m.role !== 'facilitator';
          // Another facilitator who came in after this one (e.g. with a leaked link) can be removed by
          // them; the person who created the session removes any, and nobody removes them.
          const canRemoveFacilitator =
            !isSelf && m.role === 'facilitator' && !m.owner && self?.role === 'facilitator' && (self.owner || self.enteredAt < m.enteredAt);
          const removeButton = (
            <button
              type="button"
              id={`${id}-remove-${m.id}`}
              className="danger small"
              disabled={busy}
              aria-label={`Remove ${m.displayName}`}
              onClick={() => {
                setBlock(false);
                setRemoving(m.id);
              }}
            >
              Remove
            </button>
          );
          return (
            <li
              key={m.id}
              data-member-name={m.displayName}
              data-connection={m.connection}
              data-owner={m.owner ? 'true' : undefined}
              className={[removing === m.id && 'confirming', m.connection === 'reconnecting' && 'reconnecting'].filter(Boolean).join(' ') || undefined}
            >
              <span className="person">
                <span className="person-name">
                  {m.displayName}
                  {isSelf && ' (you)'}
                </span>
                <span className="person-meta">{[roleLabel[m.role], ...(m.owner ? [OWNER_MARK] : []), ...describeState(view, m)].join(' · ')}</span>
              </span>
              {canRemoveFacilitator && removing !== m.id && (
                <span className="person-actions">
                  {removeButton}
                </span>
              )}
              {canManage && removing !== m.id && (
                <span className="person-actions">
                  <button
                    type="button"
                    className="small"
                    disabled={busy}
                    // The visible text first, then whose (WCAG 2.5.3 label in name: speech users say what they see).
                    aria-label={`${m.role === 'cofacilitator' ? 'Revoke co-facilitator' : 'Make co-facilitator'}: ${m.displayName}`}
                    onClick={() =>
                      void run(
                        () => client.command({ type: 'member.setRole', memberId: m.id, role: m.role === 'cofacilitator' ? 'member' : 'cofacilitator' }),
                        m.role === 'cofacilitator' ? `${m.displayName} is a member again.` : `${m.displayName} is now a co-facilitator.`,
                      )
                    }
                  >
                    {m.role === 'cofacilitator' ? 'Revoke co-facilitator' : 'Make co-facilitator'}
                  </button>
                  {removeButton}
                </span>
              )}
              {m.role === 'member' && removing !== m.id && <MuteControls client={client} member={m} busy={busy} run={run} />}
              {m.role === 'member' && removing !== m.id && !view.aside && (
                <span className="person-actions">
                  <TakeAsideButton client={client} view={view} member={m} busy={busy} run={run} />
                </span>
              )}
              {!isSelf && removing !== m.id && <ShareMemberControls client={client} member={m} busy={busy} run={run} />}
              {removing === m.id && (
                <div className="confirm" ref={confirmRef} tabIndex={-1} role="group" aria-labelledby={`${id}-confirm-${m.id}`}>
                  <p id={`${id}-confirm-${m.id}`}>
                    <strong>Remove {m.displayName} from the session?</strong> They will be told that the facilitator removed them.
                  </p>
                  {m.role === 'facilitator' ? (
                    <p className="hint">
                      They came in with the facilitator link: replace it (under Links) so it cannot be used to come back; that also lets go of anyone else
                      inside on the old one.
                    </p>
                  ) : (
                    <label className="check">
                      <input type="checkbox" checked={block} onChange={(e) => setBlock(e.target.checked)} />
                      <span>Also block the invite link they used, so it cannot be used to come back</span>
                    </label>
                  )}
                  {block && (
                    <p className="hint">
                      If they came in with a personal invite link, anyone else in the session who came in with that link is removed too. If they came in with
                      the shared invite link, only they are removed, and the link stops working for everyone who has not joined yet; send those people a new
                      link.
                    </p>
                  )}
                  <div className="actions">
                    <button type="button" className="danger" disabled={busy} onClick={() => void remove(m)}>
                      Remove {m.displayName}
                    </button>
                    <button type="button" onClick={() => cancel(m.id)}>
                      Cancel
                    </button>
                  </div>
                </div>
              )}
            </li>
          );
        })}
      </ul>
      {error && <p className="error">{error}</p>}
    </section>
  );
}

// Holds belong to the room, not to whoever pressed the button: any facilitator may ask.
const HELD_TEXT: Record<DeviceSource, { held: string; asked: string }> = {
  mic: { held: 'Muted by a facilitator', asked: 'Asked to unmute' },
  camera: { held: 'Video stopped by a facilitator', asked: 'Asked to start video' },
};

interface MuteProps {
  client: RoomClient;
  member: MemberDetail;
  busy: boolean;
  run: ReturnType<typeof useAction>['run'];
}

/**
 * Turn a member's microphone or camera off (the server holds it off), and ask them to turn it
 * (back) on whenever the group does not receive it: nobody can turn it on for them.
 */
function MuteControls({ client, member: m, busy, run }: MuteProps) {
  const name = m.displayName;
  const held = (source: DeviceSource) => m.heldOff.includes(source);
  const asked = (source: DeviceSource) => m.asked.includes(source);
  // Not reaching the group (held, muted by themselves, or not their turn) and not asked yet.
  const askable = (source: DeviceSource) => !m.sending[source] && !asked(source);
  const states = (['mic', 'camera'] as const)
    .filter((source) => held(source) || asked(source))
    .map((source) => (asked(source) ? HELD_TEXT[source].asked : HELD_TEXT[source].held));
  const waiting = (['mic', 'camera'] as const).some(asked);
  return (
    <span className="mute-controls">
      {states.length > 0 && <span className={`held-state${waiting ? ' asked' : ''}`}>{states.join(' · ')}</span>}
      <span className="person-actions">
        <button
          type="button"
          className="small"
          disabled={busy || (held('mic') && !asked('mic'))}
          aria-label={`Mute ${name}`}
          onClick={() => void run(() => client.command({ type: 'member.mute', memberId: m.id, source: 'mic' }), `${name}’s microphone is off.`)}
        >
          Mute
        </button>
        {askable('mic') && (
          <button
            type="button"
            className="small"
            disabled={busy}
            aria-label={`Ask to unmute: ${name}`}
            onClick={() => void run(() => client.command({ type: 'member.ask', memberId: m.id, source: 'mic' }), `${name} was asked to turn their microphone back on.`)}
          >
            Ask to unmute
          </button>
        )}
        <button
          type="button"
          className="small"
          disabled={busy || (held('camera') && !asked('camera'))}
          aria-label={`Stop video: ${name}`}
          onClick={() => void run(() => client.command({ type: 'member.mute', memberId: m.id, source: 'camera' }), `${name}’s camera is off.`)}
        >
          Stop video
        </button>
        {askable('camera') && (
          <button
            type="button"
            className="small"
            disabled={busy}
            aria-label={`Ask to start video: ${name}`}
            onClick={() => void run(() => client.command({ type: 'member.ask', memberId: m.id, source: 'camera' }), `${name} was asked to turn their camera back on.`)}
          >
            Ask to start video
          </button>
        )}
      </span>
    </span>
  );
}
