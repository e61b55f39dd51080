'use client';

import { Component, Suspense, useId, type ReactNode } from 'react';
import { retryFailedParts } from '@/lib/lazy-part';
import { useFocusOnMount } from './useFocusOnMount';

interface Props {
  /** Shown while the part loads (it does not when preloaded): a status, so it is announced. */
  fallback: ReactNode;
  children: ReactNode;
  /** Which part is shown (e.g. the room's status): a failed one is tried again when it changes. */
  resetKey?: string;
}

/**
 * Around a part of the page loaded apart (room-screens.ts): <Suspense> for its loading, and, if
 * it could not load (after lazy-part.ts's tries), a notice in its place with "Try again" instead
 * of the whole page failing. Trying again loads it anew, without a reload, so what the page
 * holds in memory (a facilitator's check-out answers at the end) is kept.
 */
export class PartBoundary extends Component<Props, { failed: boolean }> {
  override state = { failed: false };

  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true };
  }

  override componentDidCatch(error: unknown): void {
    // The error's kind only: a message could quote what the part showed.
    console.warn('part of the page could not load:', error instanceof Error ? error.name : typeof error);
  }

  override componentDidUpdate(previous: Props): void {
    if (this.state.failed && previous.resetKey !== this.props.resetKey) this.#retry();
  }

  #retry = () => {
    retryFailedParts();
    this.setState({ failed: false });
  };

  override render() {
    if (this.state.failed) return <PartFailed onRetry={this.#retry} />;
    return <Suspense fallback={this.props.fallback}>{this.props.children}</Suspense>;
  }
}

/** What a part that could not load shows; its heading takes focus, so a screen reader reads it. */
function PartFailed({ onRetry }: { onRetry: () => void }) {
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const headingId = useId();
  return (
    <section className="card" aria-labelledby={headingId} data-part-failed="">
      <h2 id={headingId} ref={heading} tabIndex={-1}>
        Part of this page could not load
      </h2>
      <p>The connection may have dropped for a moment.</p>
      <div className="actions">
        <button type="button" className="primary" onClick={onRetry}>
          Try again
        </button>
      </div>
    </section>
  );
}
