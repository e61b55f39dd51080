import { describe, expect, it } from 'vitest';
import { addAnswer, followView, type CheckoutRecord } from './checkout-answers';
import { checkoutCsv, checkoutFileName } from './checkout-file';
import { answer, facilitatorView } from './checkout-view.test-support';

describe('the check-out file the facilitator saves', () => {
  it('has a line per member asked, flagged first, as CSV a spreadsheet reads safely', () => {
    let record: CheckoutRecord | null = followView(null, facilitatorView({ id: 'co-1', startedAt: Date.UTC(2026, 11, 7, 18) }, [], ['ada', 'bea', 'cyd', 'dan']));
    record = addAnswer(record, 'co-1', { from: 'bea', displayName: 'Bea', at: Date.UTC(2026, 11, 7, 18, 5), answer: answer('co-1', 5, false, 'Lighter, "thanks", all') });
    record = addAnswer(record, 'co-1', { from: 'cyd', displayName: '=Cyd', at: Date.UTC(2026, 11, 7, 18, 6), answer: answer('co-1', 1, true) });
    const csv = checkoutCsv(record!);
    expect(csv.startsWith('\uFEFF')).toBe(true);
    expect(csv.slice(1).split('\r\n')).toEqual([
      'name,rating,rating_words,words,follow_up,flagged,answered_at',
      "'=Cyd,1,Very low,,yes,yes,2026-12-07T18:06:00.000Z",
      'Bea,5,Very good,"Lighter, ""thanks"", all",no,no,2026-12-07T18:05:00.000Z',
      'Dan,,no answer,,,,',
      '',
    ]);
    expect(checkoutFileName(record!)).toBe('check-out-2026-12-07.csv');
  });
});
