'use client';

import type { ActionResult } from '@/lib/action-result';
import type { RoomSnapshot } from '@/lib/room-client';
import { useAction } from './useAction';

interface Props {
  state: NonNullable<RoomSnapshot['ackRecord']>;
  onDownload: () => Promise<ActionResult>;
}

/**
 * On the facilitator's end screen: the session's acknowledgement record (who accepted the group
 * agreement, under the name they chose, which version, when) as a file. The server hands it
 * out once and deletes it then, or unread after a while: this is the only copy there will be.
 */
export function AckRecordOffer({ state, onDownload }: Props) {
  const { busy, error, run } = useAction();
  return (
    <section className="ack-record" aria-labelledby="ack-record-heading" data-testid="ack-record">
      <h2 id="ack-record-heading">Acknowledgement record</h2>
      {state === 'offered' && (
        <>
          <p>
            Who accepted the group agreement, with the name each person chose, the version they accepted and when. The server keeps it only until
            you download it, once, and deletes it unread after a few days.
          </p>
          <button type="button" disabled={busy} onClick={() => void run(onDownload, 'The acknowledgement record was downloaded.')}>
            Download the acknowledgement record (CSV)
          </button>
        </>
      )}
      {state === 'downloaded' && <p>Downloaded. The server no longer keeps it: keep the file somewhere safe.</p>}
      {state === 'gone' && <p>The server no longer has the acknowledgement record: it was downloaded already, or it has expired.</p>}
      {error && state === 'offered' && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
