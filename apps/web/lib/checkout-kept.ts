import { CheckoutRating, EntityId } from '@group-room/shared';
import type { CheckoutRecord } from './checkout-answers';
import { browserStorage, readItem, removeItem, writeItem, type KeptStorage } from './kept-items';

/*
 * A facilitator tab's check-out answers, kept in its sessionStorage so a reload keeps them:
 * this tab only (sessionStorage), never sent anywhere, forgotten when the person leaves the
 * session, the session ends, or they stop facilitating.
 */

type Loose = Record<string, unknown>;
const isObject = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is string => EntityId.safeParse(v).success;
const isName = (v: unknown): v is string => typeof v === 'string' && v.length <= 200;
const isInvitee = (v: unknown) => isObject(v) && isId(v['id']) && isName(v['displayName']) && typeof v['answered'] === 'boolean';
const isEntry = (v: unknown) =>
  isObject(v) &&
  isId(v['from']) &&
  isName(v['displayName']) &&
  CheckoutRating.safeParse(v['rating']).success &&
  (v['words'] === null || (typeof v['words'] === 'string' && v['words'].length <= 2000)) &&
  typeof v['followUp'] === 'boolean' &&
  typeof v['at'] === 'number';

/** The kept JSON, checked field by field (the web app has no schema library of its own). */
function asRecord(v: unknown): CheckoutRecord | null {
  if (!isObject(v) || !isId(v['checkoutId']) || typeof v['startedAt'] !== 'number' || typeof v['open'] !== 'boolean') return null;
  const { invitees, answers } = v;
  if (!Array.isArray(invitees) || !invitees.every(isInvitee) || !Array.isArray(answers) || !answers.every(isEntry)) return null;
  return v as unknown as CheckoutRecord;
}

const keptKey = (roomId: string) => `group-room:checkout:${roomId}`;
const sessionStore = () => browserStorage('sessionStorage');

export function keepCheckout(roomId: string, record: CheckoutRecord, storage: KeptStorage | null = sessionStore()): void {
  writeItem(storage, keptKey(roomId), JSON.stringify(record));
}

/** The record this tab kept for the room, if any (a damaged entry counts as none). */
export function keptCheckout(roomId: string, storage: KeptStorage | null = sessionStore()): CheckoutRecord | null {
  return readItem(storage, keptKey(roomId), (raw) => asRecord(JSON.parse(raw)));
}

export function forgetCheckout(roomId: string, storage: KeptStorage | null = sessionStore()): void {
  removeItem(storage, keptKey(roomId));
}
