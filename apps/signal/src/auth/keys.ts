import { hkdfSync, randomBytes } from 'node:crypto';

/*
 * One secret (TOKEN_SECRET), one key per purpose, derived from it with HKDF (SHA-256): a key
 * that shows through one use (log tags, address digests) tells nothing of the others, and no
 * key signs two kinds of thing. Without TOKEN_SECRET each key is random for this process, as
 * rooms in memory are.
 */

export type KeyPurpose = 'link-tokens' | 'address-digests' | 'log-tags';

const SALT = 'group-room keys v1';

/** The key for `purpose`, the same on every node with the same secret; random when there is none. */
export function derivedKey(secret: string | undefined, purpose: KeyPurpose): Buffer {
  if (secret === undefined) return randomBytes(32);
  return Buffer.from(hkdfSync('sha256', secret, SALT, `group-room ${purpose}`, 32));
}
