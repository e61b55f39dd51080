'use client';

import { useState } from 'react';
import type { ActionResult } from '@/lib/action-result';
import { useAnnounce } from './Announcer';

/** Run one facilitator action: busy while it runs, its failure shown and announced. */
export function useAction() {
  const announce = useAnnounce();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function run<T>(action: () => Promise<ActionResult<T>>, success?: string): Promise<ActionResult<T>> {
    setBusy(true);
    setError(null);
    const result = await action();
    setBusy(false);
    if (result.ok) {
      if (success) announce(success);
    } else {
      setError(result.message);
      announce(result.message);
    }
    return result;
  }

  return { busy, error, run };
}
