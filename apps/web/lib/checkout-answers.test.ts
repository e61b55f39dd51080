import type { CheckoutAnswer } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { addAnswer, answeredCount, checkoutRows, followView, isFlagged, ratingWords } from './checkout-answers';
import { NAMES, answer, facilitatorView } from './checkout-view.test-support';

describe('the check-out as a facilitator’s page holds it', () => {
  it('starts a record when a check-out opens, lists the admitted members, and keeps them after it ends', () => {
    const opened = followView(null, facilitatorView({ id: 'co-1', startedAt: 5 }, [], ['ada', 'bea', 'cyd', '~eve']));
    expect(opened).toMatchObject({ checkoutId: 'co-1', startedAt: 5, open: true, answers: [] });
    // The facilitator and someone still waiting are not asked.
    expect(opened!.invitees.map((i) => i.id)).toEqual(['bea', 'cyd']);
    // Nothing changed: the same object (no re-render, no storage write).
    expect(followView(opened, facilitatorView({ id: 'co-1', startedAt: 5 }, [], ['ada', 'bea', 'cyd', '~eve']))).toBe(opened);
    // Bea answered and left; Dan came in: Bea stays listed, answered; Dan is asked too.
    const later = followView(opened, facilitatorView({ id: 'co-1', startedAt: 5 }, ['bea'], ['ada', 'cyd', 'dan']));
    expect(later!.invitees).toEqual([
      { id: 'bea', displayName: 'Bea', answered: true },
      { id: 'cyd', displayName: 'Cyd', answered: false },
      { id: 'dan', displayName: 'Dan', answered: false },
    ]);
    const ended = followView(later, facilitatorView(null));
    expect(ended).toMatchObject({ checkoutId: 'co-1', open: false });
    expect(ended!.invitees).toHaveLength(3);
    expect(followView(ended, facilitatorView(null))).toBe(ended);
    expect(followView(null, facilitatorView(null))).toBeNull();
  });

  it('a new check-out replaces the earlier one’s answers', () => {
    let record = followView(null, facilitatorView({ id: 'co-1', startedAt: 5 }));
    record = addAnswer(record, 'co-1', { from: 'bea', displayName: 'Bea', at: 6, answer: answer('co-1', 4) });
    const next = followView(record, facilitatorView({ id: 'co-2', startedAt: 9 }));
    expect(next).toMatchObject({ checkoutId: 'co-2', startedAt: 9, answers: [] });
  });

  it('takes an answer only for the check-out it follows, under the id it was delivered with, once per member', () => {
    const record = followView(null, facilitatorView({ id: 'co-1', startedAt: 5 }));
    const bea = { from: 'bea', displayName: 'Bea', at: 6 };
    expect(addAnswer(null, 'co-1', { ...bea, answer: answer('co-1', 3) })).toBeNull();
    // Another check-out's answer, or one the server delivers under another id than the sealed one.
    expect(addAnswer(record, 'co-0', { ...bea, answer: answer('co-0', 3) })).toBeNull();
    expect(addAnswer(record, 'co-1', { ...bea, answer: answer('co-0', 3) })).toBeNull();
    expect(addAnswer(record, 'co-0', { ...bea, answer: answer('co-1', 3) })).toBeNull();
    const once = addAnswer(record, 'co-1', { ...bea, answer: answer('co-1', 3, false, 'Tired but ok') });
    expect(once!.answers).toEqual([{ from: 'bea', displayName: 'Bea', rating: 3, words: 'Tired but ok', followUp: false, at: 6 }]);
    expect(once!.invitees.find((i) => i.id === 'bea')?.answered).toBe(true);
    expect(addAnswer(once, 'co-1', { ...bea, at: 7, answer: answer('co-1', 5) })).toBeNull();
  });

  it('flags a low rating or a follow-up and sorts them first, then other answers, then unread, then no answer', () => {
    let record = followView(null, facilitatorView({ id: 'co-1', startedAt: 5 }, [], ['ada', 'bea', 'cyd', 'dan', 'eve']));
    const add = (from: string, at: number, a: CheckoutAnswer) => {
      record = addAnswer(record, 'co-1', { from, displayName: NAMES[from]!, at, answer: a });
    };
    add('bea', 1, answer('co-1', 5));
    add('cyd', 2, answer('co-1', 4, true));
    add('ada', 3, answer('co-1', 2)); // a name not in the list: added as asked
    add('dan', 4, answer('co-1', 1));
    // Eve is counted done by the server, but her answer never reached this page.
    record = followView(record, facilitatorView({ id: 'co-1', startedAt: 5 }, ['bea', 'cyd', 'dan', 'eve'], ['ada', 'bea', 'cyd', 'dan', 'eve']));
    const rows = checkoutRows(record!);
    expect(rows.map((r) => [r.kind, r.id, r.kind === 'answer' && r.flagged])).toEqual([
      ['answer', 'dan', true],
      ['answer', 'ada', true],
      ['answer', 'cyd', true],
      ['answer', 'bea', false],
      ['unread', 'eve', false],
    ]);
    record = followView(null, facilitatorView({ id: 'co-9', startedAt: 5 }, [], ['ada', 'dan', 'bea']));
    expect(checkoutRows(record!).map((r) => [r.kind, r.displayName])).toEqual([
      ['none', 'Bea'],
      ['none', 'Dan'],
    ]);
    expect(answeredCount(record!)).toEqual({ done: 0, of: 2 });
  });

  it('puts each step of the scale in words', () => {
    expect([1, 2, 3, 4, 5].map((r) => ratingWords(r))).toEqual(['Very low', 'Low', 'Okay', 'Good', 'Very good']);
    expect(isFlagged({ rating: 2, followUp: false })).toBe(true);
    expect(isFlagged({ rating: 3, followUp: false })).toBe(false);
    expect(isFlagged({ rating: 5, followUp: true })).toBe(true);
  });
});
