import type { RoomView } from '@group-room/shared';
import { freezeDeep } from '../store/frozen.js';

/*
 * A view as JSON, byte for byte what JSON.stringify(view) gives, without encoding the same
 * parts again for every viewer: after a change each person's view of the new state holds
 * the same objects for everything but `self` (the member list, the floor, the facilitators'
 * block: see projection.ts), and most of them are also the same objects from one state to
 * the next (a change shares what it did not change). Their JSON is kept, by object, for as
 * long as the object lives.
 */

/** The view's parts that are the same object in every view of a state (never `self`). */
const SHARED_KEYS: ReadonlySet<string> = new Set(['session', 'agreement', 'members', 'floor', 'share', 'checkout', 'aside', 'facilitation']);

/** JSON of the shared parts seen so far, by object (which is frozen from then on, so it cannot drift from its JSON). */
const encoded = new WeakMap<object, string>();

function partJson(value: object): string {
  let json = encoded.get(value);
  if (json === undefined) {
    json = JSON.stringify(value);
    encoded.set(freezeDeep(value), json);
  }
  return json;
}

/** JSON.stringify(view), with the parts viewers share encoded once. */
export function viewJson(view: RoomView): string {
  let json = '{';
  for (const key of Object.keys(view)) {
    const value: unknown = view[key as keyof RoomView];
    // What JSON.stringify leaves out of an object (no view holds these, but the bytes must match).
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    if (json.length > 1) json += ',';
    json += `${JSON.stringify(key)}:`;
    json += typeof value === 'object' && value !== null && SHARED_KEYS.has(key) ? partJson(value) : JSON.stringify(value);
  }
  return `${json}}`;
}

/** The `room:view` event's payload as JSON: JSON.stringify({ view, serverNow }). */
export function viewEventJson(view: RoomView, serverNow: number): string {
  return `{"view":${viewJson(view)},"serverNow":${JSON.stringify(serverNow)}}`;
}
