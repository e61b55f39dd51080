'use client';

import { CHECKOUT_SCALE, CHECKOUT_WORDS_MAX, type CheckoutRating, type CheckoutView } from '@group-room/shared';
import { useEffect, useId, useState, type FormEvent } from 'react';
import type { RoomClient } from '@/lib/room-client';
import { useAnnounce } from './Announcer';
import { useAction } from './useAction';

interface Props {
  client: RoomClient;
  checkout: CheckoutView;
  /** This member has answered this check-out (the server's word: a reload keeps it). */
  answered: boolean;
}

/**
 * A member's check-out: how they are leaving (five steps, each with words), an optional word or
 * sentence and "I would like a follow-up", sealed in this browser for the facilitators. The
 * group sees only how many are done.
 */
export function CheckoutForm({ client, checkout, answered }: Props) {
  const id = useId();
  const announce = useAnnounce();
  const [rating, setRating] = useState<CheckoutRating | null>(null);
  const [words, setWords] = useState('');
  const [followUp, setFollowUp] = useState(false);
  const [missing, setMissing] = useState(false);
  const { busy, error, run } = useAction();

  // A check-out opening is news for a screen reader too (its section appears above the tiles).
  useEffect(() => {
    if (!answered) announce('The facilitator started the check-out. Your answer goes only to the facilitator.');
  }, [announce, checkout.id, answered]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (rating === null) {
      setMissing(true);
      announce('Choose how you are leaving first.');
      return;
    }
    await run(() => client.checkout.answer({ rating, words, followUp }), 'Thank you. Your answer went privately to the facilitator.');
  };

  return (
    <section className="card checkout" aria-labelledby={`${id}-heading`} data-testid="checkout-form">
      <h2 id={`${id}-heading`}>Check-out</h2>
      {answered ? (
        <p className="checkout-thanks" data-testid="checkout-thanks">
          Thank you. Your answer went privately to the facilitator.
        </p>
      ) : (
        <form onSubmit={(e) => void submit(e)} noValidate>
          <fieldset className="checkout-scale" aria-describedby={missing ? `${id}-missing` : undefined}>
            <legend>How are you leaving today?</legend>
            {CHECKOUT_SCALE.map((step) => (
              <label key={step.value} className="scale-step">
                <input
                  type="radio"
                  name={`${id}-rating`}
                  value={step.value}
                  checked={rating === step.value}
                  onChange={() => {
                    setRating(step.value);
                    setMissing(false);
                  }}
                />
                <span className="scale-value" aria-hidden="true">
                  {step.value}
                </span>
                <span className="scale-words">{step.words}</span>
              </label>
            ))}
          </fieldset>
          {missing && (
            <p className="error" id={`${id}-missing`}>
              Choose how you are leaving first.
            </p>
          )}
          <div className="field">
            <label htmlFor={`${id}-words`}>A word or a sentence (optional)</label>
            <input
              id={`${id}-words`}
              type="text"
              value={words}
              maxLength={CHECKOUT_WORDS_MAX}
              autoComplete="off"
              aria-describedby={`${id}-count`}
              onChange={(e) => setWords(e.target.value)}
            />
            <p className="field-hint" id={`${id}-count`}>
              {CHECKOUT_WORDS_MAX - words.length} characters left
            </p>
          </div>
          <label className="check">
            <input type="checkbox" checked={followUp} onChange={(e) => setFollowUp(e.target.checked)} />
            <span>I would like a follow-up</span>
          </label>
          <p className="hint">Only the facilitator sees your answer. It is encrypted on this device and not stored on the server.</p>
          <button type="submit" className="primary" disabled={busy}>
            Send my answer
          </button>
          {/* Already said by the page's announcer (useAction). */}
          {error && <p className="error">{error}</p>}
        </form>
      )}
      <p className="hint checkout-progress" data-testid="checkout-progress">
        {checkout.done} of {checkout.of} done
      </p>
    </section>
  );
}
