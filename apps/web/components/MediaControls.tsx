'use client';

import type { HeldBy } from '@group-room/shared';
import type { RoomSnapshot } from '@/lib/room-client';

interface Props {
  room: RoomSnapshot;
  onToggle: (source: 'mic' | 'camera', enabled: boolean) => void;
  onLeave: () => void;
  leaveLabel?: string;
  /** What the server holds off, if anything: that button shows "off" and cannot be pressed. */
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
  const micHeld = Boolean(held?.mic);
  const camHeld = Boolean(held?.camera);
  // While the server holds a source, the button never claims it reaches anyone.
  const micOn = room.micOn && !micHeld;
  const camOn = room.camOn && !camHeld;
  return (
    <nav className="controls" aria-label="Your camera and microphone">
      <button
        type="button"
        disabled={!hasMic || micHeld}
        aria-describedby={micHeld ? heldReasonId?.mic : undefined}
        aria-keyshortcuts={shortcuts ? 'M' : undefined}
        title={shortcuts && !micHeld ? 'Shortcut: M' : undefined}
        onClick={() => onToggle('mic', !room.micOn)}
      >
        {micOn ? 'Mute' : 'Unmute'}
      </button>
      <button
        type="button"
        disabled={!hasCam || camHeld}
        aria-describedby={camHeld ? heldReasonId?.camera : undefined}
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
