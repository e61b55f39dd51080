import { CheckoutAnswer, isFacilitatorRole, type CheckoutAnswerDelivery, type CheckoutRating, type RoomView, type SealedFor } from '@group-room/shared';
import { NOT_CONNECTED, attempt, done, type ActionResult } from './action-result';
import { saveFile } from './save-file';
import { addAnswer, followView, type CheckoutRecord } from './checkout-answers';
import { forgetCheckout, keepCheckout, keptCheckout } from './checkout-kept';
import type { KeptStorage } from './kept-items';
import type { SignalClient } from './signal-client';
import { ValueStore } from './value-store';

/** What the check-out needs from the room's client. */
export interface CheckoutHost {
  roomId: string;
  signal(): SignalClient | undefined;
  view(): RoomView | undefined;
  /** Seal a text for each facilitator's browser this page is paired with (the room's encryption). */
  seal(text: string): Promise<SealedFor[]>;
  /** Open a box a member sealed for this browser; null when it does not open. */
  open(from: string, sealed: string): Promise<string | null>;
}

/** What a member answers: the rating, optional words, and whether they would like a follow-up. */
export interface CheckoutInput {
  rating: CheckoutRating;
  words: string;
  followUp: boolean;
}

/** The answers' CSV file: a facilitator's, not in the page's first screen (asked for with a facilitator's first view). */
const loadCheckoutFile = () => import('./checkout-file');

const NOT_OPEN = 'The check-out has ended.';
const NO_FACILITATOR_DEVICE = "The facilitator's device is not connected to the encrypted room yet, so your answer cannot be sent. Try again in a moment.";

/**
 * The check-out on this page. A member's answer is sealed here for each facilitator's browser
 * and sent once (`checkout:answer`); the server only counts it. A facilitator's page opens the
 * boxes addressed to it, checks them, and keeps the answers in memory and in this tab's
 * sessionStorage (`record`), to show and to save as a file; forgotten with the session.
 */
export class CheckoutTools {
  /** The facilitator's check-out as this page holds it (null: none, or not a facilitator). */
  readonly record: ValueStore<CheckoutRecord | null>;
  /** Whether this page holds answers not saved as a file yet (the end of the session warns). */
  readonly unsaved = new ValueStore(false);
  readonly #host: CheckoutHost;
  readonly #storage: KeptStorage | null | undefined;
  /** The record last saved as a file. */
  #saved: CheckoutRecord | null = null;
  /** The session ended: the answers are held in memory only, for one save on the end screen. */
  #afterEnd = false;

  /** `storage`: a stand-in for tests (default: this tab's sessionStorage). */
  constructor(host: CheckoutHost, storage?: KeptStorage | null) {
    this.#host = host;
    this.#storage = storage;
    this.record = new ValueStore(keptCheckout(host.roomId, storage));
  }

  #set(record: CheckoutRecord | null): void {
    if (record === this.record.getSnapshot()) return;
    this.record.set(record);
    this.#syncUnsaved();
    if (this.#afterEnd) return;
    if (record) keepCheckout(this.#host.roomId, record, this.#storage);
    else forgetCheckout(this.#host.roomId, this.#storage);
  }

  #syncUnsaved(): void {
    const record = this.record.getSnapshot();
    this.unsaved.set(record !== null && record.answers.length > 0 && record !== this.#saved);
  }

  /** Every view: a facilitator's record follows it; anyone else keeps nothing. */
  view(view: RoomView): void {
    if (this.#afterEnd) return;
    if (!isFacilitatorRole(view.self.role) || !view.facilitation) {
      if (this.record.getSnapshot()) this.forget();
      return;
    }
    loadCheckoutFile().catch(() => undefined);
    this.#set(followView(this.record.getSnapshot(), view));
  }

  /**
   * A member's sealed answer for this page: kept when it opens, is a check-out answer, and is
   * for the check-out this page follows (the server's claimed id and the sealed one agree).
   */
  async received(delivery: CheckoutAnswerDelivery): Promise<boolean> {
    const text = await this.#host.open(delivery.from, delivery.sealed).catch(() => null);
    if (text === null) return false;
    let answer: CheckoutAnswer;
    try {
      const parsed = CheckoutAnswer.safeParse(JSON.parse(text));
      if (!parsed.success) return false;
      answer = parsed.data;
    } catch {
      return false;
    }
    const view = this.#host.view();
    if (!view?.facilitation) return false;
    const displayName = view.facilitation.everyone.find((m) => m.id === delivery.from)?.displayName ?? 'A member who left';
    const next = addAnswer(this.record.getSnapshot(), delivery.checkoutId, { from: delivery.from, displayName, at: delivery.at, answer });
    if (!next) return false;
    this.#set(next);
    return true;
  }

  /** A member answers the check-out now open: sealed here, the server sees only that they did. */
  async answer(input: CheckoutInput): Promise<ActionResult> {
    const signal = this.#host.signal();
    if (!signal) return NOT_CONNECTED;
    const open = this.#host.view()?.checkout;
    if (!open) return { ok: false, message: NOT_OPEN };
    // Well-formed, so the sealed answer fits the one padded size every message has (handshake.ts).
    // From the key handshake's code, not in the page's first screen (loaded on the way in: encryption-code.ts).
    const { wellFormed } = await import('@group-room/shared/e2ee');
    const words = input.words.trim() === '' ? null : wellFormed(input.words);
    const parsed = CheckoutAnswer.safeParse({ checkoutId: open.id, rating: input.rating, words, followUp: input.followUp });
    if (!parsed.success) return { ok: false, message: `Your words ${parsed.error.issues[0]?.message ?? 'are not valid'}.` };
    const sealed = await this.#host.seal(JSON.stringify(parsed.data)).catch(() => []);
    if (!sealed.length) return { ok: false, message: NO_FACILITATOR_DEVICE };
    return attempt(signal, async (connection) => {
      await connection.request('checkout:answer', { checkoutId: open.id, sealed });
      return undefined;
    });
  }

  /** The facilitator saves the answers this page holds as a CSV file, made here. */
  async save(): Promise<ActionResult> {
    const record = this.record.getSnapshot();
    if (!record) return { ok: false, message: 'There are no check-out answers on this page.' };
    const { checkoutCsv, checkoutFileName } = await loadCheckoutFile();
    saveFile(checkoutFileName(record), checkoutCsv(record));
    this.#saved = record;
    this.#syncUnsaved();
    // After the session, one save: then they go.
    if (this.#afterEnd) this.forget();
    return done;
  }

  /**
   * The session is over for this page. They leave this tab's storage at once; with `offer` (the
   * facilitator's end screen) answers are held in memory for one save, until the person saves,
   * leaves the end screen or closes the tab (`forget`); otherwise they go now.
   */
  sessionOver(offer: boolean): void {
    forgetCheckout(this.#host.roomId, this.#storage);
    if (!offer || !this.record.getSnapshot()?.answers.length) return this.forget();
    this.#afterEnd = true;
  }

  /** Out of the session, or no longer facilitating: the answers go from memory and storage. */
  forget(): void {
    this.record.set(null);
    this.#saved = null;
    this.#afterEnd = false;
    this.#syncUnsaved();
    forgetCheckout(this.#host.roomId, this.#storage);
  }
}
