'use client';

import { useState, useSyncExternalStore } from 'react';
import type { CheckoutTools } from '@/lib/checkout-client';
import { useAction } from './useAction';

interface Props {
  checkout: CheckoutTools;
}

/**
 * On the facilitator's end screen: the check-out answers this page still holds (in memory only,
 * since the session ended), to save once as a file. They are gone once saved, or when the
 * person leaves this screen or closes the tab.
 */
export function CheckoutEndOffer({ checkout }: Props) {
  const record = useSyncExternalStore(checkout.record.subscribe, checkout.record.getSnapshot, checkout.record.getSnapshot);
  const { busy, error, run } = useAction();
  const [saved, setSaved] = useState(false);
  if (!saved && !record?.answers.length) return null;
  return (
    <section className="ack-record" aria-labelledby="checkout-end-heading" data-testid="checkout-end-offer">
      <h2 id="checkout-end-heading">Check-out answers</h2>
      {saved ? (
        <p>Saved as a file on this device. This page no longer holds the answers.</p>
      ) : (
        <>
          <p>
            The check-out answers are only on this page, never on the server. Save them now if you want to keep them: they are gone once saved, or when you
            leave this screen or close the tab.
          </p>
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              void run(async () => {
                const result = await checkout.save();
                if (result.ok) setSaved(true);
                return result;
              }, 'The check-out answers were saved as a file on this device.')
            }
          >
            Save the check-out answers (CSV)
          </button>
        </>
      )}
      {error && !saved && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
