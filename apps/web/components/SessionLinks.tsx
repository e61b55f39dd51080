'use client';

import { CopyField } from './CopyField';
import { useFocusOnMount } from './useFocusOnMount';

interface Props {
  facilitatorLink: string;
  inviteLink: string;
  onStartAnother: () => void;
}

/** The two links a new session comes with, and the way into the room as its facilitator. */
export function SessionLinks({ facilitatorLink, inviteLink, onStartAnother }: Props) {
  const heading = useFocusOnMount<HTMLHeadingElement>();
  return (
    <section className="card session-links" aria-labelledby="links-heading">
      <h2 id="links-heading" ref={heading} tabIndex={-1}>
        Your session is ready
      </h2>
      <CopyField
        label="Facilitator link (keep private)"
        copyLabel="Copy facilitator link"
        value={facilitatorLink}
        tone="private"
        testId="facilitator-link"
        hint="Keep private: this link lets anyone help run the session, and it holds the key that lets people into the encrypted room (no server keeps it). Use it yourself, or give it only to a co-facilitator."
      />
      <p className="hint" data-testid="owner-key-note">
        Open it in this browser to run the session as the person who created it: this browser keeps a key (not in the link) that nobody else who
        comes in with the link can override: they cannot remove or mute you, or end the session while you are in it. On another device the same link
        makes you a facilitator like any other.
      </p>
      <CopyField
        label="Invite link for members"
        copyLabel="Copy invite link"
        value={inviteLink}
        tone="share"
        testId="invite-link"
        hint="Share with members. Each of them gives a name, accepts the agreement and waits until you let them in. You can make a personal link for each member from the room."
      />
      <div className="actions">
        <a className="button primary" href={facilitatorLink}>
          Open the room as facilitator
        </a>
        <button type="button" onClick={onStartAnother}>
          Start another session
        </button>
      </div>
    </section>
  );
}
