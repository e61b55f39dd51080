'use client';

import { isFacilitatorRole, type RoomView } from '@group-room/shared';
import type { RemotePeer, RoomClient, RoomSnapshot } from '@/lib/room-client';
import { FacilitatorPanel } from './FacilitatorPanel';
import { MediaControls } from './MediaControls';
import { MediaTile } from './MediaTile';
import { SessionTimer } from './SessionTimer';
import { roleLabel } from './roles';
import { useRoomArrivals, useWaitingArrivals } from './useArrivals';
import { useFocusOnMount } from './useFocusOnMount';

const isOn = (peer: RemotePeer, source: 'mic' | 'camera') => peer.producers.some((p) => p.source === source && !p.paused);

interface Props {
  client: RoomClient;
  room: RoomSnapshot;
  view: RoomView;
}

/** The room itself: the timer, everyone's tiles, the controls and, for facilitators, their panel. */
export function InRoom({ client, room, view }: Props) {
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const facilitating = isFacilitatorRole(view.self.role) && Boolean(view.facilitation);
  const { waiting, arrived } = useWaitingArrivals(view.facilitation?.everyone);
  useRoomArrivals(room.peers);

  // Facilitators can tell who is paused until they accept a changed agreement.
  const reading = new Set(
    (view.facilitation?.everyone ?? []).filter((m) => m.role === 'member' && m.acknowledgedVersion !== view.agreement.version).map((m) => m.id),
  );

  const toggle = (source: 'mic' | 'camera', enabled: boolean) => void client.setEnabled(source, enabled);

  return (
    <div className={`in-room${facilitating ? ' with-panel' : ''}`}>
      <header className="room-header">
        <div>
          <h1 ref={heading} tabIndex={-1}>
            {view.title || 'Group session'}
          </h1>
          {view.self.role !== 'member' && <p className="role-note">You are the {roleLabel[view.self.role].toLowerCase()}</p>}
        </div>
        <SessionTimer session={view.session} />
      </header>

      {facilitating && waiting.length > 0 && (
        <a href="#waiting-list" className={`waiting-banner${arrived ? ' arrived' : ''}`} data-testid="waiting-banner">
          {waiting.length === 1 ? `${waiting[0]?.displayName ?? 'Someone'} is waiting to come in` : `${waiting.length} people are waiting to come in`}
          <span aria-hidden="true"> →</span>
        </a>
      )}
      {view.locked && <p className="notice subtle">The room is locked: nobody new can come in.</p>}
      {room.status === 'connecting' && <p className="notice subtle">Connecting your camera and microphone…</p>}
      {room.deviceWarning && <p className="notice">{room.deviceWarning}</p>}

      <div className="room-layout">
        <div className="stage">
          <section className="grid" aria-label="People in the room">
            <MediaTile
              name={view.self.displayName}
              video={room.localStream}
              self
              roleLabel={view.self.role !== 'member' ? roleLabel[view.self.role] : undefined}
              micOn={room.micOn}
              camOn={room.camOn}
              testId="self-tile"
            />
            {room.peers.map((peer) => (
              <MediaTile
                key={peer.id}
                name={peer.displayName}
                video={peer.video}
                audio={peer.audio}
                roleLabel={peer.role !== 'member' ? roleLabel[peer.role] : undefined}
                note={reading.has(peer.id) ? 'Reading the new agreement' : undefined}
                micOn={isOn(peer, 'mic')}
                camOn={isOn(peer, 'camera')}
                testId="peer-tile"
              />
            ))}
          </section>
          {room.peers.length === 0 && <p className="hint">Nobody else is in the room yet. Others appear here when they come in.</p>}
          <MediaControls room={room} onToggle={toggle} onLeave={() => void client.leave()} />
        </div>
        {facilitating && <FacilitatorPanel client={client} view={view} arrived={arrived} />}
      </div>
    </div>
  );
}
