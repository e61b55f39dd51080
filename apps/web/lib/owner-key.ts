import { LinkToken } from '@group-room/shared';
import { browserStorage, readItem, removeItem, writeItem, type KeptStorage } from './kept-items';

/*
 * The owner key of a session this browser created (see `room:create`): what makes whoever
 * enters with a facilitator link from this browser the session's owner. Kept in localStorage
 * by room id, so a closed tab or another tab of the same browser still has it; never in a link,
 * never shown. The same facilitator link on another device gives a facilitator seat, not the
 * owner's. Forgotten when the session ends.
 */

/** Without storage (blocked) this browser enters as any facilitator link's holder does. */
export type OwnerKeyStorage = KeptStorage;

const ownerKeyKey = (roomId: string) => `group-room:owner:${roomId}`;
const localStore = () => browserStorage('localStorage');

export function keepOwnerKey(roomId: string, ownerKey: string, storage: OwnerKeyStorage | null = localStore()): void {
  writeItem(storage, ownerKeyKey(roomId), ownerKey);
}

/** The owner key kept for this room, if any (a damaged entry counts as none). */
export function keptOwnerKey(roomId: string, storage: OwnerKeyStorage | null = localStore()): string | null {
  return readItem(storage, ownerKeyKey(roomId), (kept) => (LinkToken.safeParse(kept).success ? kept : null));
}

export function forgetOwnerKey(roomId: string, storage: OwnerKeyStorage | null = localStore()): void {
  removeItem(storage, ownerKeyKey(roomId));
}
