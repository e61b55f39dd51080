'use client';

import type { RequestPayload } from '@group-room/shared';
import { useState } from 'react';
import { Announcer } from '@/components/Announcer';
import { PasteLink } from '@/components/PasteLink';
import { SessionLinks } from '@/components/SessionLinks';
import { StartSessionForm } from '@/components/StartSessionForm';
import { newRoomSecret } from '@group-room/shared/e2ee';
import { inviteLinkSecret } from '@/lib/e2ee/link-secrets';
import { rememberInviteLink, roomLink } from '@/lib/links';
import { keepOwnerKey } from '@/lib/owner-key';
import { describeError } from '@/lib/describe-error';
import { SignalClient } from '@/lib/signal-client';

interface Created {
  facilitatorLink: string;
  inviteLink: string;
}

export default function HomePage() {
  const [created, setCreated] = useState<Created | null>(null);

  /** Resolves with a message when creating failed. */
  const create = async (payload: RequestPayload<'room:create'>): Promise<string | null> => {
    const signal = new SignalClient();
    try {
      // The room secret is made here, in the facilitator's browser, and only ever travels in link fragments.
      const roomSecret = newRoomSecret();
      const { roomId, facilitatorToken, inviteToken, inviteId, ownerKey } = await signal.request('room:create', payload);
      // This browser made the session: entering with its facilitator link from here gives the owner's seat.
      keepOwnerKey(roomId, ownerKey);
      const origin = window.location.origin;
      const links = {
        facilitatorLink: roomLink(origin, roomId, facilitatorToken, { kind: 'room', secret: roomSecret }),
        inviteLink: roomLink(origin, roomId, inviteToken, await inviteLinkSecret(roomSecret, inviteId)),
      };
      rememberInviteLink(roomId, links.inviteLink);
      setCreated(links);
      return null;
    } catch (error) {
      return `The session could not be created: ${describeError(error)}`;
    } finally {
      signal.close();
    }
  };

  return (
    <Announcer>
      <main className="page narrow home" data-status={created ? 'created' : 'start'}>
        <h1>Group room</h1>
        <p className="lead">A private video room for facilitated group sessions, in the browser. Nothing is recorded.</p>
        {created ? (
          <SessionLinks {...created} onStartAnother={() => setCreated(null)} />
        ) : (
          <StartSessionForm onCreate={create} />
        )}
        <PasteLink />
      </main>
    </Announcer>
  );
}
