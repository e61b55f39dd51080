'use client';

import { isFacilitatorRole, type RoomView } from '@group-room/shared';
import { floorHoldHint, floorStatus } from '@/lib/floor-status';
import type { RoomClient } from '@/lib/room-client';
import { useAnnounce } from './Announcer';
import { useAction } from './useAction';
import { useNow } from './useNow';
import { useShortcuts } from './useShortcuts';

export interface FloorBarIds {
  /** Why the floor holds the microphone, and what one's own switch means meanwhile (described by the mic button). */
  floorHint: string;
  /** The facilitator's hold on the microphone or camera. */
  heldNotice: string;
}

interface Props {
  client: RoomClient;
  view: RoomView;
  micOn: boolean;
  ids: FloorBarIds;
  /** Single-key shortcuts are on: H raises or lowers a member's hand. */
  shortcuts: boolean;
}

/**
 * Where this person stands on the floor, for everyone in the room: the status line, and for
 * members raise/lower hand, "I'm done", "Pass" and why their microphone is held.
 */
export function MemberFloorBar({ client, view, micOn, ids, shortcuts }: Props) {
  const announce = useAnnounce();
  const { busy, error, run } = useAction();
  const floor = view.floor;
  const now = useNow(1000, floor?.turnEndsAt != null, client.serverNow);
  const me = view.self.id;
  const isMember = !isFacilitatorRole(view.self.role);

  // The Raise hand / Lower hand button and the H key: one at a time, failures in the error line below.
  const toggleHand = () => {
    if (busy || !isMember || !floor) return;
    if (floor.mode !== 'hands') return announce('Hands are raised when the facilitator asks for them.');
    if (floor.holder === me) return announce('You have been given the floor already: press I’m done when you have finished.');
    const up = floor.hands.includes(me);
    void run(() => client.command(up ? { type: 'hand.lower' } : { type: 'hand.raise' }), up ? 'Your hand is down.' : 'Your hand is up.');
  };
  useShortcuts({ h: toggleHand }, shortcuts && isMember);

  if (!floor) return null;
  const holding = floor.holder === me;
  const handUp = floor.hands.includes(me);
  const { held } = view.self;
  const status = floorStatus(view, now);
  const limited = floor.mode === 'round' && holding && floor.turnEndsAt !== null;
  const timeUp = limited && floor.turnEndsAt !== null && floor.turnEndsAt <= now;

  return (
    <section className={`floor-bar${holding ? ' holding' : ''}${timeUp ? ' time-up' : ''}`} aria-label="Speaking">
      <div className="floor-row">
        <p className="floor-status" data-testid="floor-status">
          {status}
        </p>
        {isMember && (
          <span className="floor-actions">
            {floor.mode === 'hands' && !holding && (
              <button
                type="button"
                className={handUp ? undefined : 'primary'}
                disabled={busy}
                aria-keyshortcuts={shortcuts ? 'H' : undefined}
                title={shortcuts ? 'Shortcut: H' : undefined}
                onClick={toggleHand}
              >
                {handUp ? 'Lower hand' : 'Raise hand'}
              </button>
            )}
            {floor.mode === 'hands' && holding && (
              <button type="button" className="primary" disabled={busy} onClick={() => void run(() => client.command({ type: 'floor.release' }))}>
                I&apos;m done
              </button>
            )}
            {floor.mode === 'round' && holding && (
              <button type="button" className="primary" disabled={busy} onClick={() => void run(() => client.command({ type: 'round.pass' }), 'You passed the round on.')}>
                Pass
              </button>
            )}
          </span>
        )}
      </div>
      {isMember && held.mic === 'floor' && (
        <p className="hint floor-hint" id={ids.floorHint}>
          {floorHoldHint(floor, micOn)}
        </p>
      )}
      {isMember && holding && !micOn && held.mic === null && <p className="hint floor-hint">Your microphone is off: unmute to be heard.</p>}
      {(held.mic === 'facilitator' || held.camera === 'facilitator') && (
        <div className="held-notice" data-testid="held-notice" id={ids.heldNotice}>
          {held.mic === 'facilitator' && <p>Muted by the facilitator</p>}
          {held.camera === 'facilitator' && <p>Your camera was turned off by the facilitator</p>}
          <p className="hint">Only you can turn {held.mic === 'facilitator' && held.camera === 'facilitator' ? 'them' : 'it'} back on, once the facilitator asks you to.</p>
        </div>
      )}
      {error && <p className="error">{error}</p>}
    </section>
  );
}
