import { describe, expect, it } from 'vitest';
import { markCheckedOut, unmarkCheckedOut } from './checkout-commands.js';
import { leave } from './entry.js';
import { viewFor } from './projection.js';
import type { RoomState } from './state.js';
import { deepFreeze, expectRefused } from './rules.test-support.js';
import { by, run, T, toolsRoom } from './tools.test-support.js';

/*
 * The check-out: a facilitator opens it, each member answers once (the answer goes sealed to
 * the facilitators' browsers; the state keeps only that they answered), everyone in the room
 * sees how many are done, facilitators who.
 */

const start = (actor = 'host', now = T) => by(actor, { type: 'checkout.start' }, now);
const end = (actor = 'host') => by(actor, { type: 'checkout.end' });
const open = () => deepFreeze(start()({ ...toolsRoom(), version: 7 }));
const idOf = (state: RoomState) => state.checkout!.id;

describe('checkout.start and checkout.end', () => {
  it('opens a check-out with a fresh id and nobody done; ends it', () => {
    const state = open();
    expect(state.checkout).toEqual({ id: `co-${T.toString(36)}-7`, startedAt: T, done: [] });
    expect(end('co')(state).checkout).toBeNull();
    const none = deepFreeze(end()(state));
    expect(end()(none)).toBe(none);
  });

  it('one at a time; only facilitators', () => {
    expectRefused(open(), start('co'), 'INVALID_STATE', /open already/);
    expectRefused(toolsRoom(), start('a'), 'FORBIDDEN');
    expectRefused(open(), end('a'), 'FORBIDDEN');
  });

  it('a new check-out has a new id and starts with nobody done', () => {
    const answered = run(open(), markCheckedOut('a', idOf(open())), end());
    const again = start('host', T + 1)({ ...answered, version: 9 });
    expect(again.checkout).toEqual({ id: `co-${(T + 1).toString(36)}-9`, startedAt: T + 1, done: [] });
    expectRefused(again, markCheckedOut('a', idOf(open())), 'INVALID_STATE', /not open/);
  });
});

describe('markCheckedOut (the checkout:answer request)', () => {
  it('records that a member answered, once', () => {
    const state = markCheckedOut('a', idOf(open()))(open());
    expect(state.checkout?.done).toEqual(['a']);
    expectRefused(state, markCheckedOut('a', idOf(open())), 'INVALID_STATE', /answered already/);
  });

  it('is taken back (the answer reached no facilitator) only for that check-out, and may then be given again', () => {
    const id = idOf(open());
    const answered = deepFreeze(run(open(), markCheckedOut('a', id), markCheckedOut('b', id)));
    const undone = unmarkCheckedOut('a', id)(answered);
    expect(undone.checkout?.done).toEqual(['b']);
    expect(markCheckedOut('a', id)(undone).checkout?.done).toEqual(['b', 'a']);
    expect(unmarkCheckedOut('a', 'co-older')(answered)).toBe(answered);
    expect(unmarkCheckedOut('c', id)(answered)).toBe(answered);
    const ended = deepFreeze(end()(answered));
    expect(unmarkCheckedOut('a', id)(ended)).toBe(ended);
  });

  it('only for the check-out open now', () => {
    expectRefused(toolsRoom(), markCheckedOut('a', 'co-anything'), 'INVALID_STATE', /not open/);
    expectRefused(open(), markCheckedOut('a', 'co-older'), 'INVALID_STATE', /not open/);
  });

  it('only by a member in the room: not a facilitator, not someone waiting or re-reading the agreement, not someone gone', () => {
    const id = idOf(open());
    expectRefused(open(), markCheckedOut('co', id), 'FORBIDDEN');
    expectRefused(open(), markCheckedOut('host', id), 'FORBIDDEN');
    expectRefused(open(), markCheckedOut('w', id), 'FORBIDDEN');
    expectRefused(by('host', { type: 'agreement.set', text: 'Be very kind.' })(open()), markCheckedOut('a', id), 'FORBIDDEN');
    expectRefused(open(), markCheckedOut('ghost', id), 'NOT_FOUND');
    expectRefused(by('host', { type: 'session.end' })(open()), markCheckedOut('a', id), 'NOT_FOUND');
  });
});

describe('views of a check-out', () => {
  it('everyone in the room sees how many are done; only facilitators see who; a member sees their own', () => {
    const id = idOf(open());
    const state = run(open(), markCheckedOut('a', id), markCheckedOut('b', id));
    expect(viewFor(state, 'c')?.checkout).toEqual({ id, startedAt: T, done: 2, of: 3 });
    expect(viewFor(state, 'a')?.self.checkedOut).toBe(true);
    expect(viewFor(state, 'c')?.self.checkedOut).toBe(false);
    expect(viewFor(state, 'host')?.facilitation?.checkedOut).toEqual(['a', 'b']);
    expect(viewFor(state, 'c')?.facilitation).toBeUndefined();
    expect(JSON.stringify(viewFor(state, 'c'))).not.toContain('checkedOut":["');
    // Someone still waiting sees nothing of it.
    expect(viewFor(state, 'w')?.checkout).toBeUndefined();
  });

  it('counts the members in the room now: someone who answered and left is no longer counted', () => {
    const id = idOf(open());
    const state = run(open(), markCheckedOut('a', id), leave('a', T + 5));
    expect(viewFor(state, 'b')?.checkout).toMatchObject({ done: 0, of: 2 });
    // And off the list: the facilitators' view names nobody who is gone.
    expect(state.checkout?.done).toEqual([]);
    expect(viewFor(state, 'host')?.facilitation?.checkedOut).toEqual([]);
    const removed = run(open(), markCheckedOut('b', id), by('host', { type: 'member.remove', memberId: 'b', block: false }));
    expect(removed.checkout?.done).toEqual([]);
  });

  it('none open: null for those in the room, and nobody is checked out', () => {
    expect(viewFor(toolsRoom(), 'a')?.checkout).toBeNull();
    expect(viewFor(toolsRoom(), 'host')?.facilitation?.checkedOut).toEqual([]);
  });
});
