import { z } from 'zod';
import { EntityId } from './domain.js';

/*
 * Private signals: a member to the facilitators only. Never stored, never sent to members.
 */

export const SignalKind = z.enum(['need-moment', 'stepping-away', 'back', 'message']);
export type SignalKind = z.infer<typeof SignalKind>;

export const PRIVATE_MESSAGE_MAX = 280;

export const PrivateMessageText = z
  .string()
  .max(2000, 'is too long')
  .transform((t) => t.normalize('NFC').replace(/[\p{Cc}\p{Cf}]/gu, (ch) => (/\s/u.test(ch) ? ' ' : '')).replace(/\s+/gu, ' ').trim())
  .pipe(z.string().min(1, 'must not be empty').max(PRIVATE_MESSAGE_MAX, `must be at most ${PRIVATE_MESSAGE_MAX} characters`));

/** What a member sends; a message carries text, the others none. */
export const PrivateSignalRequest = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('need-moment') }).strict(),
  z.object({ kind: z.literal('stepping-away') }).strict(),
  z.object({ kind: z.literal('back') }).strict(),
  z.object({ kind: z.literal('message'), text: PrivateMessageText }).strict(),
]);
export type PrivateSignalRequest = z.output<typeof PrivateSignalRequest>;

/** What facilitators receive. */
export const PrivateSignal = z.object({
  id: EntityId,
  from: EntityId,
  displayName: z.string(),
  kind: SignalKind,
  text: z.string().nullable(),
  at: z.number(),
});
export type PrivateSignal = z.infer<typeof PrivateSignal>;

/** One member's speaking time this session, as facilitators see it. */
export const TalkTimeEntry = z.object({
  memberId: EntityId,
  speakingMs: z.number().int().min(0),
  /** Server time when they were last heard, or null if not yet. */
  lastSpokeAt: z.number().nullable(),
});
export type TalkTimeEntry = z.infer<typeof TalkTimeEntry>;
