'use client';

import type { MemberDetail } from '@group-room/shared';
import { useEffect, useRef, useState } from 'react';
import { playChime } from '@/lib/chime';
import type { RemotePeer } from '@/lib/room-client';
import { useAnnounce } from './Announcer';

/** Announce who joins and leaves the room (names only reach those allowed to see them). */
export function useRoomArrivals(peers: RemotePeer[]): void {
  const announce = useAnnounce();
  const known = useRef<Map<string, string> | null>(null);
  useEffect(() => {
    const now = new Map(peers.map((p) => [p.id, p.displayName]));
    const before = known.current;
    known.current = now;
    if (!before) return; // the people already here when one arrives are not news
    const messages: string[] = [];
    for (const [id, name] of now) if (!before.has(id)) messages.push(`${name} joined`);
    for (const [id, name] of before) if (!now.has(id)) messages.push(`${name} left`);
    if (messages.length) announce(`${messages.join('. ')}.`);
  }, [peers, announce]);
}

/**
 * For facilitators: someone new in the waiting room is announced, chimes softly, and
 * `arrived` is true for a few seconds so the panel can show it.
 */
export function useWaitingArrivals(everyone: MemberDetail[] | undefined): { waiting: MemberDetail[]; arrived: boolean } {
  const announce = useAnnounce();
  const known = useRef(new Set<string>());
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const [arrived, setArrived] = useState(false);
  const waiting = (everyone ?? []).filter((m) => m.stage === 'waiting');
  // Changes exactly when the set of waiting people does.
  const key = waiting.map((m) => m.id).join(',');

  useEffect(() => {
    const current = key ? key.split(',') : [];
    const fresh = current.filter((id) => !known.current.has(id));
    known.current = new Set(current);
    if (fresh.length === 0) return;
    const names = (everyone ?? []).filter((m) => fresh.includes(m.id)).map((m) => m.displayName);
    announce(`${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} in the waiting room.`);
    playChime();
    setArrived(true);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setArrived(false), 6000);
    // `everyone` is read for the names only: the effect runs when the set of ids changes.
  }, [key, announce]);

  useEffect(() => () => clearTimeout(timer.current), []);

  return { waiting, arrived };
}
