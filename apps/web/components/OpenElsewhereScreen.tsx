'use client';

import { useFocusOnMount } from './useFocusOnMount';

/**
 * A copy of a tab that holds the seat (a browser's "Duplicate tab" copies the seat with the
 * page): this one does not take the seat from the other. Carrying on here is offered for when
 * that tab has been closed; while it is still open, it keeps the seat and the page says so.
 */
export function OpenElsewhereScreen({ notice, onContinue }: { notice?: string; onContinue: () => void }) {
  const heading = useFocusOnMount<HTMLHeadingElement>();
  return (
    <section className="card" aria-labelledby="elsewhere-heading" data-testid="open-elsewhere">
      <h1 id="elsewhere-heading" ref={heading} tabIndex={-1}>
        This session is open in another tab
      </h1>
      <p className="lead">You keep your place there. Carry on in that tab, and close this one.</p>
      <p>If you have closed the other tab, you can carry on here instead.</p>
      {notice && <p className="notice">{notice}</p>}
      <div className="actions">
        <button type="button" className="primary" onClick={onContinue}>
          Continue here
        </button>
      </div>
    </section>
  );
}
