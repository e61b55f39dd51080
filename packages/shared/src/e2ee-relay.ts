import { z } from 'zod';

/*
 * End-to-end encryption's messages between browsers, as the server sees them: opaque,
 * size-bounded blobs addressed to one seat. What is inside (public keys, MACs, media keys
 * sealed for one browser, private message text) is defined and parsed only by the browsers,
 * in `@group-room/shared/e2ee`; the server relays each blob to its addressee and forgets it.
 */

/** Largest relayed blob, in base64url characters: room for a hello or a few sealed keys. */
export const SEALED_BLOB_MAX = 4096;

export const SealedBlob = z
  .string()
  .min(1)
  .max(SEALED_BLOB_MAX, `must be at most ${SEALED_BLOB_MAX} characters`)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');
export type SealedBlob = z.infer<typeof SealedBlob>;

/** A browser's message for one other browser in the room. */
export const RelayRequest = z.object({ to: z.string().min(1).max(64), data: SealedBlob }).strict();
export type RelayRequest = z.infer<typeof RelayRequest>;

/** What the addressee receives: the server stamps who sent it (the seat, never a claim). */
export const RelayedMessage = z.object({ from: z.string().min(1).max(64), data: SealedBlob });
export type RelayedMessage = z.infer<typeof RelayedMessage>;
