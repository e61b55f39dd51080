'use client';

import { CHECKOUT_LOW_RATING, type RoomView } from '@group-room/shared';
import { useEffect, useId, useRef, useSyncExternalStore } from 'react';
import { playChime } from '@/lib/chime';
import { checkoutRows, isFlagged, ratingWords, type CheckoutRecord, type CheckoutRow } from '@/lib/checkout-answers';
import type { RoomClient } from '@/lib/room-client';
import { useAnnounce } from './Announcer';
import { useAction } from './useAction';

/** The facilitator page's check-out answers, from their own small store (see CheckoutTools). */
function useCheckoutRecord(client: RoomClient): CheckoutRecord | null {
  const { subscribe, getSnapshot } = client.checkout.record;
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

/** Each answer that arrives chimes and is said once (not those already here when the panel shows, e.g. after a reload). */
function useArrivalAnnouncements(record: CheckoutRecord | null): void {
  const announce = useAnnounce();
  const seen = useRef<Set<string> | null>(null);
  useEffect(() => {
    const answers = record?.answers ?? [];
    const before = seen.current;
    seen.current = new Set(answers.map((a) => `${record?.checkoutId}/${a.from}`));
    if (!before) return;
    const arrived = answers.filter((a) => !before.has(`${record?.checkoutId}/${a.from}`));
    // Heard like a private signal, for a facilitator who is looking at the group.
    if (arrived.length > 0) playChime();
    for (const a of arrived) announce(`${a.displayName} answered the check-out${isFlagged(a) ? ': flagged' : ''}.`);
  }, [announce, record]);
}

function flagWhy(row: Extract<CheckoutRow, { kind: 'answer' }>): string {
  const low = row.entry.rating <= CHECKOUT_LOW_RATING;
  return low && row.entry.followUp ? 'low, follow-up' : low ? 'low' : 'follow-up';
}

function Answer({ row, open }: { row: CheckoutRow; open: boolean }) {
  if (row.kind === 'none') {
    return (
      <li className="checkout-row none" data-testid="checkout-row" data-member-name={row.displayName} data-kind="none">
        <span className="checkout-name">{row.displayName}</span>
        <span className="checkout-meta">{open ? 'No answer yet' : 'No answer'}</span>
      </li>
    );
  }
  if (row.kind === 'unread') {
    return (
      <li className="checkout-row unread" data-testid="checkout-row" data-member-name={row.displayName} data-kind="unread">
        <span className="checkout-name">{row.displayName}</span>
        <span className="checkout-meta">Answered, but the answer did not reach this device</span>
      </li>
    );
  }
  const { entry, flagged } = row;
  return (
    <li className={`checkout-row answer${flagged ? ' flagged' : ''}`} data-testid="checkout-row" data-member-name={row.displayName} data-kind="answer" data-flagged={flagged}>
      <span className="checkout-name">{row.displayName}</span>
      {flagged && <span className="checkout-flag">Flagged: {flagWhy(row)}</span>}
      <span className="checkout-rating">
        {entry.rating} of 5: {ratingWords(entry.rating)}
      </span>
      {entry.words && <q className="checkout-words">{entry.words}</q>}
      {entry.followUp && <span className="checkout-follow-up">Would like a follow-up</span>}
    </li>
  );
}

/**
 * The facilitator's check-out: start and end it (it does not end the session), the answers as
 * they arrive (low ratings and follow-up requests flagged and first, "no answer" for the rest),
 * and saving them as a file from this browser. Answers reach only facilitators' devices.
 */
export function CheckoutPanel({ client, view }: { client: RoomClient; view: RoomView }) {
  const id = useId();
  const record = useCheckoutRecord(client);
  const action = useAction();
  useArrivalAnnouncements(record);
  const open = view.checkout ?? null;
  const rows = record ? checkoutRows(record) : [];
  const flagged = rows.filter((r) => r.kind === 'answer' && r.flagged).length;
  const cofacilitator = view.self.role === 'cofacilitator';

  return (
    <section className="panel-section checkout-panel" aria-labelledby={`${id}-heading`} data-testid="checkout-panel">
      <h2 id={`${id}-heading`}>
        Check-out {flagged > 0 && <span className="count flagged-count">{flagged} flagged</span>}
      </h2>
      {open ? (
        <p className="checkout-progress" data-testid="checkout-count">
          {open.done} of {open.of} answered
        </p>
      ) : (
        <p className="hint">Ask each member privately how they are leaving today. This does not end the session.</p>
      )}
      {open ? (
        <button type="button" disabled={action.busy} onClick={() => void action.run(() => client.command({ type: 'checkout.end' }), 'The check-out has ended.')}>
          End check-out
        </button>
      ) : (
        <button type="button" className="primary" disabled={action.busy} onClick={() => void action.run(() => client.command({ type: 'checkout.start' }), 'The check-out has started.')}>
          Start check-out
        </button>
      )}
      {!open && record && record.answers.length > 0 && <p className="hint">Starting a new check-out clears these answers from this page: save them first.</p>}
      {cofacilitator && <p className="hint">Answers are sealed for the facilitator’s device, so they show there rather than here.</p>}
      {record && rows.length > 0 && (
        <ol className="checkout-answers" aria-label="Check-out answers">
          {rows.map((row) => (
            <Answer key={row.id} row={row} open={Boolean(open)} />
          ))}
        </ol>
      )}
      {record && record.answers.length > 0 && (
        <>
          <button type="button" onClick={() => void action.run(() => client.checkout.save(), 'The answers were saved as a file on this device.')}>
            Save answers
          </button>
          <p className="hint">A file on this device only. Nothing is kept on the server; when the session ends this page offers them once more, then forgets them.</p>
        </>
      )}
      {/* Already said by the page's announcer (useAction). */}
      {action.error && <p className="error">{action.error}</p>}
    </section>
  );
}
