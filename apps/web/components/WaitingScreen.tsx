'use client';

import type { RoomView } from '@group-room/shared';
import { dayAndTime } from '@/lib/format';
import type { RoomClient, RoomSnapshot } from '@/lib/room-client';
import { MediaControls } from './MediaControls';
import { MediaTile } from './MediaTile';
import { PrivateSignalMenu } from './PrivateSignalMenu';
import { useFocusOnMount } from './useFocusOnMount';

interface Props {
  client: RoomClient;
  view: RoomView;
  room: RoomSnapshot;
  onToggle: (source: 'mic' | 'camera', enabled: boolean) => void;
  onLeave: () => void;
}

/** A calm place to wait: when the session starts, and that the facilitator lets people in. */
export function WaitingScreen({ client, view, room, onToggle, onLeave }: Props) {
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const { startsAt } = view.session;
  const started = startsAt <= client.serverNow();
  return (
    <section className="waiting" aria-labelledby="waiting-heading">
      <div className="breath" aria-hidden="true" />
      <h1 id="waiting-heading" ref={heading} tabIndex={-1}>
        You are in the waiting room
      </h1>
      <p className="lead">The facilitator will let you in. You do not need to do anything.</p>
      <dl className="facts">
        {view.title && (
          <>
            <dt>Session</dt>
            <dd>{view.title}</dd>
          </>
        )}
        <dt>{started ? 'Started at' : 'Starts at'}</dt>
        <dd>{dayAndTime(startsAt)}</dd>
      </dl>
      <p className="hint">Nobody can see or hear you while you wait. This preview is only for you.</p>
      <div className="waiting-preview">
        <MediaTile name={view.self.displayName} video={room.localStream} self micOn={room.micOn} camOn={room.camOn} testId="self-preview" />
      </div>
      <MediaControls room={room} onToggle={onToggle} onLeave={onLeave} leaveLabel="Leave the waiting room" />
      {/* The facilitators can be told something privately while one waits, as in the room. */}
      {view.self.role === 'member' && <PrivateSignalMenu client={client} />}
    </section>
  );
}
