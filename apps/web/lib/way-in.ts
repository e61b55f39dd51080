import type { SeatStorage } from './seat';

/*
 * The way back in for someone still at the entry agreement: the link's token and the name
 * they entered with. Their seat is freed as soon as their connection drops (it holds nothing
 * but a place on the way in), so after a reload there is no seat to take back, and the page
 * enters again with these instead, showing the agreement again rather than an error. Kept in
 * this tab's sessionStorage only while they read the entry agreement (the token already lives
 * there, as the link secret does); forgotten once they are past it, or out of the session.
 */

export interface WayIn {
  token: string;
  displayName: string;
}

const wayInKey = (roomId: string) => `group-room:way-in:${roomId}`;

function sessionStore(): SeatStorage | null {
  try {
    return typeof window === 'undefined' ? null : window.sessionStorage;
  } catch {
    return null; // storage unavailable: a reload at the agreement shows the entry form instead
  }
}

export function keptWayIn(roomId: string, storage: SeatStorage | null = sessionStore()): WayIn | null {
  try {
    const raw = storage?.getItem(wayInKey(roomId));
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<WayIn>;
    const { token, displayName } = parsed;
    return typeof token === 'string' && token.length >= 16 && token.length <= 4096 && typeof displayName === 'string' && displayName.length <= 200 ? { token, displayName } : null;
  } catch {
    return null;
  }
}

export function keepWayIn(roomId: string, wayIn: WayIn, storage: SeatStorage | null = sessionStore()): void {
  try {
    storage?.setItem(wayInKey(roomId), JSON.stringify(wayIn));
  } catch {
    // without storage a reload at the agreement shows the entry form
  }
}

export function forgetWayIn(roomId: string, storage: SeatStorage | null = sessionStore()): void {
  try {
    storage?.removeItem(wayInKey(roomId));
  } catch {
    // nothing was kept
  }
}
