import { ProtocolFailure } from '@group-room/shared';
import { expect } from 'vitest';
import type { RoomChange, RoomState } from './state.js';

/* Shared by the room-rule tests: frozen states, and refusals that must change nothing. */

/** Freeze a state all the way down, so a rule that mutates instead of copying throws. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The change must refuse with `code` (and `message`), leaving the (frozen) state as it was. */
export function expectRefused(state: RoomState, change: RoomChange, code: string, message?: RegExp): void {
  deepFreeze(state);
  const before = structuredClone(state);
  let error: unknown;
  try {
    change(state);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ProtocolFailure);
  expect((error as ProtocolFailure).code).toBe(code);
  if (message) expect((error as ProtocolFailure).message).toMatch(message);
  expect(state).toEqual(before);
}
