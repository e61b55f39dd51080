/*
 * Room states are immutable once stored: a change builds a new state that shares every part it
 * did not change with the old one (see room/state.ts), so the store can keep and hand out the
 * same objects instead of copying them, provided nobody can write to them. Freezing makes
 * that hold: a write to a stored state throws (ESM code is strict) instead of changing what
 * every other holder sees.
 */

/** Objects frozen all the way down by `freezeDeep`: where a walk can stop. */
const deepFrozen = new WeakSet<object>();

/**
 * Freeze `value` and everything it reaches. Parts already frozen by an earlier call are not
 * walked again, so freezing a state made by a change costs only what the change made new.
 * (Object.isFrozen cannot be the stop mark: something frozen shallowly elsewhere may hold
 * parts that are not.)
 */
export function freezeDeep<T>(value: T): T {
  if (typeof value !== 'object' || value === null || deepFrozen.has(value)) return value;
  Object.freeze(value);
  for (const child of Object.values(value)) freezeDeep(child);
  deepFrozen.add(value);
  return value;
}
