'use client';

import type { ReconnectCause } from '@/lib/room-client';

/** What the banner (and the announcement) says while the connection is being restored. */
export function reconnectingText(cause: ReconnectCause | undefined): string {
  return cause === 'server-restart' ? 'The server is restarting. Reconnecting…' : 'Reconnecting…';
}

/**
 * Shown over whatever screen one is on while the connection is down: nothing has ended, and
 * one keeps one's place. (The Announcer says it out loud too.)
 */
export function ReconnectingBanner({ cause }: { cause: ReconnectCause | undefined }) {
  return (
    <p className="reconnecting-banner" role="status" data-testid="reconnecting">
      <strong>{reconnectingText(cause)}</strong> <span>You keep your place in the session.</span>
    </p>
  );
}
