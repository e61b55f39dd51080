import { browserStorage, readItem, removeItem, writeItem, type KeptStorage } from './kept-items';

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

/** Without storage a reload at the agreement shows the entry form. */
const sessionStore = () => browserStorage('sessionStorage');

export function keptWayIn(roomId: string, storage: KeptStorage | null = sessionStore()): WayIn | null {
  return readItem(storage, wayInKey(roomId), (raw) => {
    const { token, displayName } = JSON.parse(raw) as Partial<WayIn>;
    return typeof token === 'string' && token.length >= 16 && token.length <= 4096 && typeof displayName === 'string' && displayName.length <= 200 ? { token, displayName } : null;
  });
}

export function keepWayIn(roomId: string, wayIn: WayIn, storage: KeptStorage | null = sessionStore()): void {
  writeItem(storage, wayInKey(roomId), JSON.stringify(wayIn));
}

export function forgetWayIn(roomId: string, storage: KeptStorage | null = sessionStore()): void {
  removeItem(storage, wayInKey(roomId));
}
