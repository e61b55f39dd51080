'use client';

import Link from 'next/link';
import type { EndReason, RoomSnapshot } from '@/lib/room-client';
import { useFocusOnMount } from './useFocusOnMount';

const endings: Record<EndReason, { title: string; body: string; canReturn: boolean }> = {
  'session-ended': { title: 'The session has ended', body: 'Thank you for taking part.', canReturn: false },
  removed: { title: 'You are no longer in the session', body: 'The facilitator has removed you from this session.', canReturn: false },
  'server-shutdown': {
    title: 'The session was interrupted',
    body: 'The service is restarting. Try your link again in a few minutes, or contact your facilitator.',
    canReturn: true,
  },
  'media-failure': {
    title: 'The connection failed',
    body: 'Audio and video stopped working for this session. Try your link again; if it keeps happening, contact your facilitator.',
    canReturn: true,
  },
};

interface Props {
  room: RoomSnapshot;
  onReturn: () => void;
}

/** The last screen: why this person is no longer in the room, and what they can do now. */
export function EndScreen({ room, onReturn }: Props) {
  const heading = useFocusOnMount<HTMLHeadingElement>();
  let title: string;
  let body: string | undefined;
  let canReturn = true;
  if (room.status === 'ended' && room.endReason) {
    ({ title, body, canReturn } = endings[room.endReason]);
  } else if (room.status === 'left') {
    title = 'You have left the session';
    body = 'Your camera and microphone are off.';
  } else {
    title = 'You are not in the session';
    body = room.message;
  }
  return (
    <section className="card end-screen" aria-labelledby="end-heading">
      <h1 id="end-heading" ref={heading} tabIndex={-1}>
        {title}
      </h1>
      {body && <p className="lead">{body}</p>}
      <div className="actions">
        {canReturn && (
          <button type="button" className="primary" onClick={onReturn}>
            {room.status === 'left' ? 'Go back in' : 'Try again'}
          </button>
        )}
        <Link href="/">Go to the start page</Link>
      </div>
    </section>
  );
}
