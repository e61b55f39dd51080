'use client';

import { useFocusOnMount } from './useFocusOnMount';

/** After a reload, while this tab takes its seat back: calm, and a way out. */
export function ReturningScreen({ onLeave }: { onLeave: () => void }) {
  const heading = useFocusOnMount<HTMLHeadingElement>();
  return (
    <section className="waiting returning" aria-labelledby="returning-heading" data-testid="returning">
      <div className="breath" aria-hidden="true" />
      <h1 id="returning-heading" ref={heading} tabIndex={-1}>
        Returning to the session…
      </h1>
      <p className="lead">You keep your place. This takes a moment.</p>
      <div className="actions">
        <button type="button" onClick={onLeave}>
          Leave instead
        </button>
      </div>
    </section>
  );
}
