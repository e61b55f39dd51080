'use client';

import type { RoomView } from '@group-room/shared';
import { useEffect, useId, useState } from 'react';
import { inviteLinkSecret, keptLinkSecret } from '@/lib/e2ee/link-secrets';
import { rememberInviteLink, rememberedInviteLink, roomLink } from '@/lib/links';
import type { RoomClient } from '@/lib/room-client';
import { CopyField } from './CopyField';
import { useAction } from './useAction';

interface Props {
  client: RoomClient;
  view: RoomView;
}

/** The links a facilitator hands out: the shared invite, personal invites, their own link. */
export function InviteLinks({ client, view }: Props) {
  const id = useId();
  const { busy, error, run } = useAction();
  const [inviteLink, setInviteLink] = useState<string | null>(null);
  const [personal, setPersonal] = useState<string[]>([]);
  const [facilitatorLink, setFacilitatorLink] = useState<string | null>(null);
  const [replaced, setReplaced] = useState(false);
  const isFacilitator = view.self.role === 'facilitator';

  useEffect(() => {
    setInviteLink(rememberedInviteLink(view.roomId));
    // The facilitator link is the one this tab entered with (kept in memory only, not in the address bar).
    const token = client.facilitation.linkToken;
    const secret = keptLinkSecret(view.roomId);
    if (isFacilitator && token && secret?.kind === 'room') setFacilitatorLink(roomLink(window.location.origin, view.roomId, token, secret));
  }, [client, view.roomId, isFacilitator]);

  /** The room secret this browser holds (facilitator link), from which every link's secret is made here. */
  const roomSecret = keptLinkSecret(view.roomId)?.kind === 'room' ? keptLinkSecret(view.roomId)!.secret : null;

  const makeLink = async (): Promise<string | null> => {
    if (!roomSecret) return null;
    const result = await run(() => client.facilitation.createInvite());
    if (!result.ok) return null;
    return roomLink(window.location.origin, view.roomId, result.data.inviteToken, await inviteLinkSecret(roomSecret, result.data.inviteId));
  };

  const makeShared = async () => {
    const link = await makeLink();
    if (!link) return;
    rememberInviteLink(view.roomId, link);
    setInviteLink(link);
  };

  const replaceFacilitatorLink = async () => {
    const result = await run(() => client.facilitation.rotateFacilitatorLink(), 'The facilitator link was replaced: the old one no longer works.');
    if (result.ok) {
      if (roomSecret) setFacilitatorLink(roomLink(window.location.origin, view.roomId, result.data, { kind: 'room', secret: roomSecret }));
      setReplaced(true);
    }
  };

  const makePersonal = async () => {
    const link = await makeLink();
    if (link) setPersonal((list) => [...list, link]);
  };

  if (!roomSecret) {
    return (
      <section className="panel-section" aria-labelledby={`${id}-heading`}>
        <h2 id={`${id}-heading`}>Links</h2>
        <p className="hint">Links carry the room&rsquo;s encryption secret, so they are made on a device that came in with the facilitator link.</p>
      </section>
    );
  }

  return (
    <section className="panel-section" aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>Links</h2>
      {inviteLink ? (
        <CopyField label="Invite link for members" copyLabel="Copy invite link" value={inviteLink} tone="share" testId="invite-link" hint="Share with members. Everyone with it can ask to come in." />
      ) : (
        <button type="button" disabled={busy} onClick={() => void makeShared()}>
          Make an invite link for members
        </button>
      )}
      {personal.map((link, i) => (
        <CopyField
          key={link}
          label={`Personal invite link ${i + 1}`}
          copyLabel={`Copy personal invite link ${i + 1}`}
          value={link}
          tone="share"
          testId="personal-invite-link"
        />
      ))}
      <button type="button" disabled={busy} onClick={() => void makePersonal()}>
        New personal invite link
      </button>
      <p className="hint">
        A link for each member lets you block one person&rsquo;s link without affecting anyone else; blocking it also removes whoever came in with it.
      </p>
      {facilitatorLink && (
        <CopyField
          label={replaced ? 'New facilitator link (keep private)' : 'Facilitator link (keep private)'}
          copyLabel="Copy facilitator link"
          value={facilitatorLink}
          tone="private"
          testId="room-facilitator-link"
          hint="Anyone with this link can help run the session, but never remove, mute or end it on the person who created it. Give it only to a co-facilitator."
        />
      )}
      {isFacilitator && (
        <>
          <button type="button" disabled={busy} onClick={() => void replaceFacilitatorLink()}>
            Replace the facilitator link
          </button>
          <p className="hint">
            {replaced
              ? 'The old facilitator link no longer works, and whoever was inside with it has been let go. Send the new link to your co-facilitators.'
              : 'If the facilitator link reached the wrong person: the old link stops working at once, and every other facilitator inside who came in with it is let go (never you, nor the person who created the session). Members and co-facilitators keep their place.'}
          </p>
        </>
      )}
      {error && <p className="error">{error}</p>}
    </section>
  );
}
