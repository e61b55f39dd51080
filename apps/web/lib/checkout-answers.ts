import { CHECKOUT_LOW_RATING, CHECKOUT_SCALE, type CheckoutAnswer, type CheckoutRating, type RoomView } from '@group-room/shared';

/*
 * The check-out as a facilitator's page holds it: who was asked, who answered, and the answers
 * opened here. Pure functions over one plain record, so the page can keep it in sessionStorage
 * (a reload keeps it) and tests need no browser. The server never has any of this but `done`.
 */

/** One member's answer as opened on this page, with the name they had when it arrived. */
export interface CheckoutEntry {
  from: string;
  displayName: string;
  rating: CheckoutRating;
  words: string | null;
  followUp: boolean;
  at: number;
}

/** Someone asked to answer (an admitted member while the check-out was open). */
export interface CheckoutInvitee {
  id: string;
  displayName: string;
  /** The server counts them as done (their answer may not have reached this page: see rows). */
  answered: boolean;
}

export interface CheckoutRecord {
  checkoutId: string;
  startedAt: number;
  /** Still open in the room (false once ended: the answers stay here until saved or the session ends). */
  open: boolean;
  /** Members stay listed once asked, even if they leave, so the record says who did not answer. */
  invitees: CheckoutInvitee[];
  answers: CheckoutEntry[];
}

export const ratingWords = (rating: CheckoutRating): string => CHECKOUT_SCALE.find((s) => s.value === rating)?.words ?? String(rating);

/** A low rating or a wish for a follow-up: shown flagged, and first. */
export const isFlagged = (entry: Pick<CheckoutEntry, 'rating' | 'followUp'>): boolean => entry.rating <= CHECKOUT_LOW_RATING || entry.followUp;

/**
 * The record after a facilitator's view: a newly opened check-out starts a fresh record (the
 * earlier one's answers go), an open one adds whoever is asked now and who the server counts
 * as done, an ended one is closed. The same object when nothing changed.
 */
export function followView(record: CheckoutRecord | null, view: RoomView): CheckoutRecord | null {
  const open = view.checkout ?? null;
  if (!open) return record?.open ? { ...record, open: false } : record;
  const base: CheckoutRecord =
    record?.checkoutId === open.id ? record : { checkoutId: open.id, startedAt: open.startedAt, open: true, invitees: [], answers: [] };
  const everyone = view.facilitation?.everyone ?? [];
  const done = new Set(view.facilitation?.checkedOut ?? []);
  const invitees = [...base.invitees];
  let changed = base !== record || !base.open;
  for (const m of everyone) {
    if (m.role !== 'member' || m.stage !== 'admitted') continue;
    const at = invitees.findIndex((i) => i.id === m.id);
    const answered = done.has(m.id) || (at >= 0 && invitees[at]!.answered);
    if (at < 0) invitees.push({ id: m.id, displayName: m.displayName, answered });
    else if (invitees[at]!.answered !== answered || invitees[at]!.displayName !== m.displayName) invitees[at] = { ...invitees[at]!, displayName: m.displayName, answered };
    else continue;
    changed = true;
  }
  // Someone counted done who is no longer listed admitted (e.g. left meanwhile) keeps their mark.
  for (const [at, invitee] of invitees.entries()) {
    if (!invitee.answered && done.has(invitee.id)) {
      invitees[at] = { ...invitee, answered: true };
      changed = true;
    }
  }
  return changed ? { ...base, open: true, invitees } : base;
}

/**
 * The record with an opened answer added, or null when it does not belong: another check-out
 * than the one this record is of (`claimed`: the id the server delivered it under, which the
 * sealed answer must repeat), or a second answer from the same member.
 */
export function addAnswer(
  record: CheckoutRecord | null,
  claimed: string,
  entry: { from: string; displayName: string; at: number; answer: CheckoutAnswer },
): CheckoutRecord | null {
  const { answer } = entry;
  if (!record || answer.checkoutId !== claimed || answer.checkoutId !== record.checkoutId) return null;
  if (record.answers.some((a) => a.from === entry.from)) return null;
  const kept: CheckoutEntry = {
    from: entry.from,
    displayName: entry.displayName,
    rating: answer.rating,
    words: answer.words,
    followUp: answer.followUp,
    at: entry.at,
  };
  const invitees = record.invitees.some((i) => i.id === entry.from)
    ? record.invitees.map((i) => (i.id === entry.from ? { ...i, answered: true } : i))
    : [...record.invitees, { id: entry.from, displayName: entry.displayName, answered: true }];
  return { ...record, invitees, answers: [...record.answers, kept] };
}

/**
 * One line of the facilitator's list: an answer opened here; `unread`: the server counts them
 * as done but their answer did not reach this page (sent while it was reloading, or sealed
 * for another facilitator's device only); `none`: no answer (yet, while it is open).
 */
export type CheckoutRow =
  | { kind: 'answer'; id: string; displayName: string; entry: CheckoutEntry; flagged: boolean }
  | { kind: 'unread'; id: string; displayName: string }
  | { kind: 'none'; id: string; displayName: string };

const KIND_ORDER: Record<CheckoutRow['kind'], number> = { answer: 0, unread: 1, none: 2 };

/**
 * Flagged answers first (lowest rating first, then a follow-up, then as they arrived), then the
 * other answers as they arrived, then who answered unread here, then who did not answer, by name.
 */
export function checkoutRows(record: CheckoutRecord): CheckoutRow[] {
  const byId = new Map(record.answers.map((a) => [a.from, a]));
  const rows: CheckoutRow[] = record.answers.map((entry) => ({ kind: 'answer', id: entry.from, displayName: entry.displayName, entry, flagged: isFlagged(entry) }));
  for (const i of record.invitees) {
    if (byId.has(i.id)) continue;
    rows.push({ kind: i.answered ? 'unread' : 'none', id: i.id, displayName: i.displayName });
  }
  return rows.sort((a, b) => {
    if (a.kind !== b.kind) return KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
    if (a.kind === 'answer' && b.kind === 'answer') {
      if (a.flagged !== b.flagged) return a.flagged ? -1 : 1;
      if (a.flagged) {
        if (a.entry.rating !== b.entry.rating) return a.entry.rating - b.entry.rating;
        if (a.entry.followUp !== b.entry.followUp) return a.entry.followUp ? -1 : 1;
      }
      return a.entry.at - b.entry.at;
    }
    return a.displayName.localeCompare(b.displayName);
  });
}

/** "3 of 5 answered", as far as this page knows (the view's count while open). */
export function answeredCount(record: CheckoutRecord): { done: number; of: number } {
  return { done: record.invitees.filter((i) => i.answered).length, of: record.invitees.length };
}
