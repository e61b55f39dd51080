import { SeatResume } from '@group-room/shared';
import { browserStorage, readItem, removeItem, writeItem, type KeptStorage } from './kept-items';

/*
 * This tab's seat in a room: the resume credential `room:enter` and `room:resume` answer with,
 * kept in sessionStorage so a reload (or a dropped connection) takes the same place back, with
 * the id of the tab that kept it (a copied tab finds it in its copy: see seat-tabs). It lives
 * and dies with the tab; nothing else about the person is kept here.
 */

/** A kept seat: its resume credential, and the id of the tab that kept it (if one was kept with it). */
export type KeptSeat = SeatResume & { tabId?: string };

/** Without storage a reload enters again; a dropped connection still resumes from memory. */
export type SeatStorage = KeptStorage;

const seatKey = (roomId: string) => `group-room:seat:${roomId}`;
const sessionStore = () => browserStorage('sessionStorage');

/** The seat this tab kept for the room, if any (a damaged entry counts as none). */
export function keptSeat(roomId: string, storage: SeatStorage | null = sessionStore()): KeptSeat | null {
  return readItem(storage, seatKey(roomId), (raw) => {
    const json: unknown = JSON.parse(raw);
    const parsed = SeatResume.safeParse(json);
    if (!parsed.success) return null;
    const tabId = (json as { tabId?: unknown }).tabId;
    return typeof tabId === 'string' && tabId.length <= 64 ? { ...parsed.data, tabId } : parsed.data;
  });
}

/** Keep the latest credential (each one is good for a single resume), and this tab's id with it. */
export function keepSeat(roomId: string, seat: KeptSeat, storage: SeatStorage | null = sessionStore()): void {
  writeItem(storage, seatKey(roomId), JSON.stringify(seat));
}

export function forgetSeat(roomId: string, storage: SeatStorage | null = sessionStore()): void {
  removeItem(storage, seatKey(roomId));
}
