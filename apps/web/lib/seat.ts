import { SeatResume } from '@group-room/shared';

/*
 * This tab's seat in a room: the resume credential `room:enter` and `room:resume` answer with,
 * kept in sessionStorage so a reload (or a dropped connection) takes the same place back. It
 * lives and dies with the tab; nothing else about the person is kept here.
 */

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
export function keptSeat(roomId: string, storage: SeatStorage | null = sessionStore()): SeatResume | null {
  try {
    const raw = storage?.getItem(seatKey(roomId));
    if (!raw) return null;
    const parsed = SeatResume.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Keep the latest credential: each one is good for a single resume. */
export function keepSeat(roomId: string, seat: SeatResume, storage: SeatStorage | null = sessionStore()): void {
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
