'use client';

import { createContext, useCallback, useContext, useState, type ReactNode } from 'react';

const AnnounceContext = createContext<(message: string) => void>(() => undefined);

/**
 * The page's one aria-live region. Components call `useAnnounce()(message)`; a message equal
 * to the last one gets an invisible change so screen readers say it again.
 */
export function Announcer({ children }: { children: ReactNode }) {
  const [message, setMessage] = useState('');
  const announce = useCallback((next: string) => setMessage((previous) => (previous === next ? `${next}\u00a0` : next)), []);
  return (
    <AnnounceContext value={announce}>
      {children}
      <div className="sr-only" aria-live="polite" aria-atomic="true" data-testid="announcer">
        {message}
      </div>
    </AnnounceContext>
  );
}

export const useAnnounce = (): ((message: string) => void) => useContext(AnnounceContext);
