import { LinkToken } from '@group-room/shared';

/*
 * The owner key of a session this browser created (see `room:create`): what makes whoever
 * enters with a facilitator link from this browser the session's owner. Kept in localStorage
 * by room id, so a closed tab or another tab of the same browser still has it; never in a link,
 * never shown. The same facilitator link on another device gives a facilitator seat, not the
 * owner's. Forgotten when the session ends.
 */

/** The part of Storage used here, so tests can pass a stand-in. */
export type OwnerKeyStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

const ownerKeyKey = (roomId: string) => `group-room:owner:${roomId}`;

function localStore(): OwnerKeyStorage | null {
  try {
    return typeof window === 'undefined' ? null : window.localStorage;
  } catch {
    return null; // storage blocked: this browser enters as any facilitator link's holder does
  }
}

export function keepOwnerKey(roomId: string, ownerKey: string, storage: OwnerKeyStorage | null = localStore()): void {
  try {
    storage?.setItem(ownerKeyKey(roomId), ownerKey);
  } catch {
    // without storage the creator enters as a facilitator like any other
  }
}

/** The owner key kept for this room, if any (a damaged entry counts as none). */
export function keptOwnerKey(roomId: string, storage: OwnerKeyStorage | null = localStore()): string | null {
  try {
    const kept = storage?.getItem(ownerKeyKey(roomId));
    return kept && LinkToken.safeParse(kept).success ? kept : null;
  } catch {
    return null;
  }
}

export function forgetOwnerKey(roomId: string, storage: OwnerKeyStorage | null = localStore()): void {
  try {
    storage?.removeItem(ownerKeyKey(roomId));
  } catch {
    // nothing was kept
  }
}
