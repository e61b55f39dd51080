'use client';

import { useEffect, useState } from 'react';

/** A clock: this browser's (`Date.now`) or the server's as this page estimates it (`RoomClient.serverNow`). */
export type Clock = () => number;

/**
 * The current time, refreshed every `intervalMs` while `active` (a countdown ticks once a second).
 * Pass the server's clock when counting down to a time the server set.
 */
export function useNow(intervalMs = 1000, active = true, clock: Clock = Date.now): number {
  const [now, setNow] = useState(clock);
  useEffect(() => {
    if (!active) return;
    setNow(clock());
    const timer = setInterval(() => setNow(clock()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs, active, clock]);
  return now;
}
