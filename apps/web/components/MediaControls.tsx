'use client';

import type { RoomSnapshot } from '@/lib/room-client';

interface Props {
  room: RoomSnapshot;
  onToggle: (source: 'mic' | 'camera', enabled: boolean) => void;
  onLeave: () => void;
  leaveLabel?: string;
}

/** Microphone, camera and leave: the same three buttons wherever they appear. */
export function MediaControls({ room, onToggle, onLeave, leaveLabel = 'Leave' }: Props) {
  const hasMic = Boolean(room.localStream?.getAudioTracks().length);
  const hasCam = Boolean(room.localStream?.getVideoTracks().length);
  return (
    <nav className="controls" aria-label="Your camera and microphone">
      <button type="button" disabled={!hasMic} onClick={() => onToggle('mic', !room.micOn)}>
        {room.micOn ? 'Mute' : 'Unmute'}
      </button>
      <button type="button" disabled={!hasCam} onClick={() => onToggle('camera', !room.camOn)}>
        {room.camOn ? 'Stop video' : 'Start video'}
      </button>
      <button type="button" className="danger" onClick={onLeave}>
        {leaveLabel}
      </button>
    </nav>
  );
}
