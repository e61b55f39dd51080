import { z } from 'zod';
import { EntityId } from './domain.js';
import { SealedBlob } from './e2ee-relay.js';

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

/**
 * A message's text never reaches the server: the member's browser seals it for each
 * facilitator's browser it has paired with (see e2ee-relay.ts), one box per addressee; the
 * server hands each facilitator only the box addressed to them. The other kinds carry nothing.
 */
export const SealedFor = z.object({ to: EntityId, data: SealedBlob }).strict();
export type SealedFor = z.infer<typeof SealedFor>;
export const MAX_SEALED_ADDRESSEES = 8;

/** What a member sends; a message carries sealed boxes, the others nothing. */
export const PrivateSignalRequest = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('need-moment') }).strict(),
  z.object({ kind: z.literal('stepping-away') }).strict(),
  z.object({ kind: z.literal('back') }).strict(),
  z.object({ kind: z.literal('message'), sealed: z.array(SealedFor).min(1).max(MAX_SEALED_ADDRESSEES) }).strict(),
]);
export type PrivateSignalRequest = z.output<typeof PrivateSignalRequest>;

/** What facilitators receive. */
export const PrivateSignal = z.object({
  id: EntityId,
  from: EntityId,
  displayName: z.string(),
  kind: SignalKind,
  /** For a message: the box the sender sealed for this facilitator's browser (opened there). */
  sealed: SealedBlob.nullable(),
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
