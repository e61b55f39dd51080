'use client';

import { useSyncExternalStore } from 'react';
import type { TalkTimeReport } from '@/lib/facilitator-tools';
import type { RoomClient } from '@/lib/room-client';

/**
 * The latest talk-time report (facilitators only, about once a second), from its own small
 * store: only the components that show it re-render when it arrives, not the whole room.
 * With `select`, only when what is selected changes (return a primitive, e.g. an id).
 */
export function useTalkTime(client: RoomClient): TalkTimeReport | undefined;
export function useTalkTime<T>(client: RoomClient, select: (report: TalkTimeReport | undefined) => T): T;
export function useTalkTime<T>(client: RoomClient, select?: (report: TalkTimeReport | undefined) => T): T | TalkTimeReport | undefined {
  const { subscribe, getSnapshot } = client.facilitation.talkTime;
  const read = () => (select ? select(getSnapshot()) : getSnapshot());
  return useSyncExternalStore(subscribe, read, read);
}
