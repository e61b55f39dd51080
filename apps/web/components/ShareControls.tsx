'use client';

import type { RoomView } from '@group-room/shared';
import { useEffect, useId, useRef } from 'react';
import type { RoomClient, RoomSnapshot } from '@/lib/room-client';
import { NOTIFICATIONS_WARNING } from '@/lib/screen-capture';
import { useAnnounce } from './Announcer';
import { useAction } from './useAction';

interface Props {
  client: RoomClient;
  room: RoomSnapshot;
  view: RoomView;
}

const SURFACE_WORDS = { monitor: 'your whole screen', window: 'a window', browser: 'a browser tab', unknown: 'your screen' } as const;

/**
 * Sharing one's screen: facilitators share at any time; a member asks, waits for a facilitator
 * to let them, then shares. Grants, withdrawals and a share's end are said to screen readers.
 */
export function ShareControls({ client, room, view }: Props) {
  const id = useId();
  const announce = useAnnounce();
  const action = useAction();
  const { may, asking } = view.self.share;
  const isMember = view.self.role === 'member';
  const share = room.share;
  const sharing = share.phase === 'starting' || share.phase === 'on';
  const allowWholeScreen = view.share?.allowWholeScreen ?? false;

  // A member hears when a facilitator lets them share, or no longer does.
  const mayBefore = useRef(may);
  useEffect(() => {
    if (mayBefore.current === may) return;
    mayBefore.current = may;
    if (!isMember) return;
    // A withdrawal during a share is said by the share's own notice.
    if (may) announce('A facilitator let you share your screen. Press “Share screen” when you are ready.');
    else if (!sharing) announce('You can no longer share your screen.');
  }, [may, isMember, sharing, announce]);

  // Why one's own share ended (stopped, withdrawn, replaced), said once.
  const notice = room.shareNotice;
  useEffect(() => {
    if (notice) announce(notice.text);
  }, [notice, announce]);

  const ask = (asking: boolean) =>
    void action.run(
      () => client.command({ type: 'share.ask', asking }),
      asking ? 'You asked to share your screen. A facilitator will answer.' : 'You took back your request to share.',
    );

  return (
    <div className="share-controls" role="group" aria-labelledby={`${id}-label`} data-testid="share-controls">
      <span id={`${id}-label`} className="sr-only">
        Screen sharing
      </span>
      <div className="share-buttons">
        {sharing ? (
          <button type="button" className="danger" onClick={() => void action.run(() => client.share.stop())}>
            Stop sharing
          </button>
        ) : may ? (
          <button
            type="button"
            className="primary"
            disabled={share.phase === 'choosing' || room.status !== 'joined'}
            aria-describedby={`${id}-hint`}
            onClick={() => void action.run(() => client.share.start())}
          >
            Share screen
          </button>
        ) : isMember && asking ? (
          <>
            <span className="share-waiting" role="status">
              Waiting for a facilitator to let you share…
            </span>
            <button type="button" disabled={action.busy} onClick={() => ask(false)}>
              Take back the request
            </button>
          </>
        ) : isMember ? (
          <button type="button" disabled={action.busy} onClick={() => ask(true)}>
            Ask to share screen
          </button>
        ) : null}
      </div>
      {sharing && (
        <p className="notice subtle share-on" data-testid="sharing-notice">
          You are sharing {SURFACE_WORDS[share.surface]} with the group. {NOTIFICATIONS_WARNING}
        </p>
      )}
      {may && !sharing && (
        <p className="hint" id={`${id}-hint`}>
          {allowWholeScreen ? 'Choose a screen, a window or a tab.' : 'Choose a window or a tab (a whole screen is not shared in this session).'} {NOTIFICATIONS_WARNING}
        </p>
      )}
      {notice && !sharing && !action.error && <p className="hint share-ended">{notice.text}</p>}
      {action.error && <p className="error">{action.error}</p>}
    </div>
  );
}
