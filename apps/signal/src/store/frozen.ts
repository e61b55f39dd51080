/*
 * Room states are immutable once stored: a change builds a new state that shares every part it
 * did not change with the old one (see room/state.ts), so the store can keep and hand out the
 * same objects instead of copying them, provided nobody can write to them. Freezing makes
 * that hold: a write to a stored state throws (ESM code is strict) instead of changing what
 * every other holder sees.
 */

/**
 * Freeze `value` and everything it reaches. A frozen object is taken to be frozen all the way
 * down (everything frozen here is, and nothing in a room state is frozen elsewhere), so the
 * walk stops there: freezing a state made by a change costs only what the change made new.
 * (Object.isFrozen is the mark rather than a WeakSet of our own: several times cheaper.)
 */
export function freezeDeep<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const child of Object.values(value)) freezeDeep(child);
  return value;
}
