'use client';

import type { HeldBy } from '@group-room/shared';
import type { RoomSnapshot } from '@/lib/room-client';

interface Props {
  room: RoomSnapshot;
  onToggle: (source: 'mic' | 'camera', enabled: boolean) => void;
  onLeave: () => void;
  leaveLabel?: string;
  /**
   * What the server holds off, if anything. Held by the facilitator: the button shows "off" and
   * cannot be pressed (only accepting their ask turns it back on). Held by the floor: the button
   * is still the person's own switch (the hint says when the group hears them).
   */
  held?: { mic: HeldBy | null; camera: HeldBy | null };
  /** The id of the text saying why the microphone or camera is held (for screen readers). */
  heldReasonId?: { mic?: string; camera?: string };
  /** Show the single-key shortcuts (in the room). */
  shortcuts?: boolean;
}

/** Microphone, camera and leave: the same three buttons wherever they appear. */
export function MediaControls({ room, onToggle, onLeave, leaveLabel = 'Leave', held, heldReasonId, shortcuts = false }: Props) {
  const hasMic = Boolean(room.localStream?.getAudioTracks().length);
  const hasCam = Boolean(room.localStream?.getVideoTracks().length);
  // Turned off by a facilitator: the button never claims it is on, and cannot turn it on.
  const micLocked = held?.mic === 'facilitator';
  const camLocked = held?.camera === 'facilitator';
  const micOn = room.micOn && !micLocked;
  const camOn = room.camOn && !camLocked;
  return (
    <nav className="controls" aria-label="Your camera and microphone">
      <button
        type="button"
        disabled={!hasMic || micLocked}
        aria-describedby={held?.mic ? heldReasonId?.mic : undefined}
        aria-keyshortcuts={shortcuts ? 'M' : undefined}
        title={shortcuts && !micLocked ? 'Shortcut: M' : undefined}
        onClick={() => onToggle('mic', !room.micOn)}
      >
        {micOn ? 'Mute' : 'Unmute'}
      </button>
      <button
        type="button"
        disabled={!hasCam || camLocked}
        aria-describedby={held?.camera ? heldReasonId?.camera : undefined}
        onClick={() => onToggle('camera', !room.camOn)}
      >
        {camOn ? 'Stop video' : 'Start video'}
      </button>
      <button type="button" className="danger" onClick={onLeave}>
        {leaveLabel}
      </button>
    </nav>
  );
}
