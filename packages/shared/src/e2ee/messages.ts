import { z } from 'zod';
import { MAX_GEN, MAX_STEP } from './key-schedule.js';

/*
 * What browsers say to each other inside the server's opaque `e2ee:relay` blobs (JSON, then
 * base64url). A `hello` is in the clear (a public key and its MAC: nothing secret); everything
 * else is `sealed` under the pair's key and parsed only once opened.
 */

const B64 = z.string().regex(/^[A-Za-z0-9_-]*$/).max(200);

export const KeyAlgorithm = z.enum(['X25519', 'P-256']);
export type KeyAlgorithm = z.infer<typeof KeyAlgorithm>;

export const Hello = z
  .object({
    t: z.literal('hello'),
    alg: KeyAlgorithm,
    pub: B64,
    mac: B64,
    /** An answer to the other side's hello (no answer is sent to an answer). */
    reply: z.boolean(),
  })
  .strict();
export type Hello = z.infer<typeof Hello>;

export const SealedEnvelope = z.object({ t: z.literal('sealed'), iv: B64, ct: z.string().regex(/^[A-Za-z0-9_-]+$/).max(4000) }).strict();
export type SealedEnvelope = z.infer<typeof SealedEnvelope>;

export const Wire = z.discriminatedUnion('t', [Hello, SealedEnvelope]);
export type Wire = z.infer<typeof Wire>;

export const KeyRefSchema = z.object({ gen: z.number().int().min(0).max(MAX_GEN), step: z.number().int().min(0).max(MAX_STEP) }).strict();

/** What a sealed envelope carries. */
export const Sealed = z.discriminatedUnion('k', [
  /**
   * From a holder of the room secret: epoch keys to keep (base64url), and which one to encrypt
   * with from now on (null: keep sending as now; the switch comes later, once everyone has it).
   */
  z
    .object({
      k: z.literal('keys'),
      keys: z.array(KeyRefSchema.extend({ key: B64 }).strict()).max(4),
      use: KeyRefSchema.nullable(),
    })
    .strict(),
  /**
   * To the two in an aside only (the aside that started at `at`), from the aside's facilitator or,
   * for a co-facilitator's aside, the key leader (aside-keys.ts): a key of their own (generation
   * `gen`, step 0) to send with while they are aside; the group never gets it.
   */
  z
    .object({
      k: z.literal('aside'),
      at: z.number().int().min(0),
      gen: z.number().int().min(0).max(MAX_GEN),
      key: B64,
    })
    .strict(),
  /** This browser has the key with that generation. */
  z.object({ k: z.literal('ack'), gen: z.number().int().min(0).max(MAX_GEN) }).strict(),
  /** A member's private message to a facilitator. */
  z.object({ k: z.literal('message'), text: z.string().max(2000) }).strict(),
]);
export type Sealed = z.infer<typeof Sealed>;
