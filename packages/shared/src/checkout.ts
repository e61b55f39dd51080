import { z } from 'zod';
import { EntityId } from './domain.js';
import { SealedBlob } from './e2ee-relay.js';
import { PRIVATE_MESSAGE_MAX, PrivateMessageText, SealedFor, MAX_SEALED_ADDRESSEES } from './signals.js';

/*
 * The check-out at the end of a session: "how are you leaving today?". A facilitator opens it
 * (`checkout.start`); each member answers privately. The answer is sealed in the member's
 * browser for each facilitator's browser (as private messages are); the server records only
 * that they answered, hands each facilitator the box addressed to them, and forgets it.
 */

/** How someone is leaving, 1 (lowest) to 5, each step with words (not only a face). */
export const CHECKOUT_SCALE = [
  { value: 1, words: 'Very low' },
  { value: 2, words: 'Low' },
  { value: 3, words: 'Okay' },
  { value: 4, words: 'Good' },
  { value: 5, words: 'Very good' },
] as const;

export const CheckoutRating = z.number().int().min(1).max(5);
export type CheckoutRating = z.infer<typeof CheckoutRating>;

/** At or below this, an answer is flagged for the facilitators and sorted first. */
export const CHECKOUT_LOW_RATING = 2;
export const CHECKOUT_WORDS_MAX = PRIVATE_MESSAGE_MAX;

/**
 * What a member's browser seals (as JSON) and a facilitator's browser opens and checks: never
 * seen by the server. `checkoutId` binds it to the check-out it answers.
 */
export const CheckoutAnswer = z
  .object({
    checkoutId: EntityId,
    rating: CheckoutRating,
    /** An optional word or sentence. */
    words: PrivateMessageText.nullable(),
    followUp: z.boolean(),
  })
  .strict();
export type CheckoutAnswer = z.output<typeof CheckoutAnswer>;

/** `checkout:answer`: one sealed box per facilitator's browser the member has paired with. */
export const CheckoutAnswerRequest = z
  .object({ checkoutId: EntityId, sealed: z.array(SealedFor).min(1).max(MAX_SEALED_ADDRESSEES) })
  .strict();
export type CheckoutAnswerRequest = z.output<typeof CheckoutAnswerRequest>;

/** What a facilitator receives: the box sealed for their browser, opened there. */
export const CheckoutAnswerDelivery = z.object({ checkoutId: EntityId, from: EntityId, sealed: SealedBlob, at: z.number() });
export type CheckoutAnswerDelivery = z.infer<typeof CheckoutAnswerDelivery>;
