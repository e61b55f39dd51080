'use client';

import type { RequestPayload } from '@group-room/shared';
import { useState } from 'react';
import { Announcer } from '@/components/Announcer';
import { PasteLink } from '@/components/PasteLink';
import { SessionLinks } from '@/components/SessionLinks';
import { StartSessionForm } from '@/components/StartSessionForm';
import { rememberInviteLink, roomLink } from '@/lib/links';
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
      const { roomId, facilitatorToken, inviteToken } = await signal.request('room:create', payload);
      const origin = window.location.origin;
      const links = { facilitatorLink: roomLink(origin, roomId, facilitatorToken), inviteLink: roomLink(origin, roomId, inviteToken) };
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
