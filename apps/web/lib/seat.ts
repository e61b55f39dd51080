import { SeatResume } from '@group-room/shared';

/*
 * This tab's seat in a room: the resume credential `room:enter` and `room:resume` answer with,
 * kept in sessionStorage so a reload (or a dropped connection) takes the same place back, with
 * the id of the tab that kept it (a copied tab finds it in its copy: see seat-tabs). It lives
 * and dies with the tab; nothing else about the person is kept here.
 */

/** A kept seat: its resume credential, and the id of the tab that kept it (if one was kept with it). */
export type KeptSeat = SeatResume & { tabId?: string };

/** The part of Storage used here, so tests can pass a stand-in. */
export type SeatStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

const seatKey = (roomId: string) => `group-room:seat:${roomId}`;

function sessionStore(): SeatStorage | null {
  try {
    return typeof window === 'undefined' ? null : window.sessionStorage;
  } catch {
    return null; // storage can be unavailable (private modes, blocked cookies): no seat to keep
  }
}

/** The seat this tab kept for the room, if any (a damaged entry counts as none). */
export function keptSeat(roomId: string, storage: SeatStorage | null = sessionStore()): KeptSeat | null {
  try {
    const raw = storage?.getItem(seatKey(roomId));
    if (!raw) return null;
    const json: unknown = JSON.parse(raw);
    const parsed = SeatResume.safeParse(json);
    if (!parsed.success) return null;
    const tabId = (json as { tabId?: unknown }).tabId;
    return typeof tabId === 'string' && tabId.length <= 64 ? { ...parsed.data, tabId } : parsed.data;
  } catch {
    return null;
  }
}

/** Keep the latest credential (each one is good for a single resume), and this tab's id with it. */
export function keepSeat(roomId: string, seat: KeptSeat, storage: SeatStorage | null = sessionStore()): void {
  try {
    storage?.setItem(seatKey(roomId), JSON.stringify(seat));
  } catch {
    // without storage a reload enters again; a dropped connection still resumes from memory
  }
}

export function forgetSeat(roomId: string, storage: SeatStorage | null = sessionStore()): void {
  try {
    storage?.removeItem(seatKey(roomId));
  } catch {
    // nothing was kept
  }
}
