import { describe, expect, it } from 'vitest';
import { addAnswer, followView } from './checkout-answers';
import { forgetCheckout, keepCheckout, keptCheckout } from './checkout-kept';
import { memoryStorage } from './memory-storage.test-support';
import { answer, facilitatorView } from './checkout-view.test-support';

describe('the check-out answers kept in the facilitator tab', () => {
  const record = addAnswer(followView(null, facilitatorView({ id: 'co-1', startedAt: 5 })), 'co-1', {
    from: 'bea',
    displayName: 'Bea',
    at: 6,
    answer: answer('co-1', 2, true, 'A hard day'),
  })!;

  it('are kept per room and forgotten', () => {
    const storage = memoryStorage();
    keepCheckout('room-a', record, storage);
    expect(keptCheckout('room-a', storage)).toEqual(record);
    expect(keptCheckout('room-b', storage)).toBeNull();
    forgetCheckout('room-a', storage);
    expect(keptCheckout('room-a', storage)).toBeNull();
    expect(storage.items.size).toBe(0);
  });

  it('count a damaged entry as none', () => {
    const storage = memoryStorage();
    for (const damaged of ['{', 'null', '[]', JSON.stringify({ ...record, answers: [{ ...record.answers[0], rating: 9 }] }), JSON.stringify({ ...record, invitees: 'x' })]) {
      storage.items.set('group-room:checkout:room-a', damaged);
      expect(keptCheckout('room-a', storage), damaged).toBeNull();
    }
    expect(keptCheckout('room-a', null)).toBeNull();
  });
});
