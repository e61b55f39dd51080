'use client';

import type { ActionResult } from '@/lib/action-result';
import type { CheckoutTools } from '@/lib/checkout-client';
import type { EndReason, RoomSnapshot } from '@/lib/room-client';
import { PartBoundary } from './PartBoundary';
import { LazyAckRecordOffer, LazyCheckoutEndOffer } from './room-screens';
import { useFocusOnMount } from './useFocusOnMount';

/** `returnLabel`: the button back to the entry form, for endings where entering again makes sense. */
const endings: Record<EndReason, { title: string; body: string; returnLabel?: string }> = {
  'session-ended': { title: 'The session has ended', body: 'Thank you for taking part.' },
  removed: { title: 'You are no longer in the session', body: 'The facilitator has removed you from this session.' },
  replaced: { title: 'Continued in another tab', body: 'This session is open in another tab or window. You can carry on there.' },
  'seat-lost': {
    title: 'You are not in the session',
    body: 'Your place in this session was not kept while you were away. You can enter again.',
    returnLabel: 'Enter again',
  },
  'agreement-timeout': {
    title: 'You are not in the session yet',
    body: 'The group agreement was open for a long time, so your place in line was let go. You can enter again when you are ready.',
    returnLabel: 'Enter again',
  },
  cleared: {
    title: 'You are not in the session yet',
    body: 'The facilitator cleared the line of people on their way in. Your link still works: you can enter again now.',
    returnLabel: 'Enter again',
  },
  'session-gone': {
    title: 'You are not in the session',
    body: 'This session is no longer available. If you think it should still be going on, contact your facilitator.',
  },
};

interface Props {
  room: RoomSnapshot;
  onReturn: () => void;
  /** The facilitator's copy of the acknowledgement record, offered once the session ended (see `room.ackRecord`). */
  onDownloadRecord: () => Promise<ActionResult>;
  /** The check-out answers a facilitator's page still holds, offered for one save. */
  checkout?: CheckoutTools;
}

/** The last screen: why this person is no longer in the room, and what they can do now. */
export function EndScreen({ room, onReturn, onDownloadRecord, checkout }: Props) {
  const heading = useFocusOnMount<HTMLHeadingElement>();
  let title: string;
  let body: string | undefined;
  let returnLabel: string | undefined = 'Try again';
  if (room.status === 'ended' && room.endReason) {
    ({ title, body, returnLabel } = endings[room.endReason]);
  } else if (room.status === 'left') {
    title = 'You have left the session';
    body = 'Your camera and microphone are off.';
    returnLabel = 'Go back in';
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
      <PartBoundary fallback={null}>
        {room.ackRecord && <LazyAckRecordOffer state={room.ackRecord} onDownload={onDownloadRecord} />}
        {checkout && <LazyCheckoutEndOffer checkout={checkout} />}
      </PartBoundary>
      <div className="actions">
        {returnLabel && (
          <button type="button" className="primary" onClick={onReturn}>
            {returnLabel}
          </button>
        )}
        <a href="/">Go to the start page</a>
      </div>
    </section>
  );
}
