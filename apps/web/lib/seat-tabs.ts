/*
 * One seat, one tab. A browser's "Duplicate tab" copies sessionStorage, the seat's resume
 * credential (and the tab's id kept with it) included, and the copy would resume and take the
 * seat from the tab it was copied from. So before taking a kept seat back, a page asks the
 * room's other tabs in this browser (a BroadcastChannel per room, same origin only) whether
 * one of them is live with that tab id or that seat; the tab holding it answers, and the copy
 * stands down instead.
 */

/** How long a page waits for an answer before taking its kept seat back (a live tab answers within milliseconds). */
export const TAB_ANSWER_WAIT_MS = 300;

/** Asked by a page about to take a kept seat back, answered by the tab holding it. */
type Message = { type: 'holding?' | 'holding'; tabId: string; memberId: string };

/** Another tab's message, as far as it is one (same origin, but a page checks what it reads). */
function message(data: unknown): Message | null {
  if (typeof data !== 'object' || data === null) return null;
  const { type, tabId, memberId } = data as Record<string, unknown>;
  if ((type !== 'holding?' && type !== 'holding') || typeof tabId !== 'string' || typeof memberId !== 'string') return null;
  return { type, tabId, memberId };
}

/** What this tab holds now (or is taking back), if anything: its id and the seat's member id. */
export interface HeldSeat {
  tabId: string;
  memberId: string;
}

/** A new tab id: random, not secret (it only tells this browser's tabs apart). */
export function newTabId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class SeatTabs {
  readonly #channel: BroadcastChannel | null;
  readonly #held: () => HeldSeat | undefined;
  readonly #waiting = new Set<(answer: HeldSeat) => void>();

  /** `held`: what this tab holds now, so it can answer another tab's question. */
  constructor(roomId: string, held: () => HeldSeat | undefined) {
    this.#held = held;
    // Without BroadcastChannel (old browsers) tabs cannot ask each other: a copy resumes, as before.
    this.#channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(`group-room:tabs:${roomId}`);
    this.#channel?.addEventListener('message', (event: MessageEvent<unknown>) => this.#received(event.data));
  }

  #received(data: unknown): void {
    const received = message(data);
    if (!received) return;
    if (received.type === 'holding') {
      for (const resolve of this.#waiting) resolve(received);
      return;
    }
    const mine = this.#held();
    if (mine && (mine.tabId === received.tabId || mine.memberId === received.memberId)) {
      this.#post({ type: 'holding', tabId: mine.tabId, memberId: mine.memberId });
    }
  }

  #post(message: Message): void {
    try {
      this.#channel?.postMessage(message);
    } catch {
      // closed meanwhile: nothing to tell
    }
  }

  /** Whether another live tab of this browser holds `seat` (its tab id or its seat); false after `waitMs` without an answer. */
  async heldElsewhere(seat: HeldSeat, waitMs = TAB_ANSWER_WAIT_MS): Promise<boolean> {
    if (!this.#channel) return false;
    return new Promise<boolean>((resolve) => {
      const done = (held: boolean) => {
        clearTimeout(timer);
        this.#waiting.delete(answered);
        resolve(held);
      };
      const answered = (answer: HeldSeat) => {
        if (answer.tabId === seat.tabId || answer.memberId === seat.memberId) done(true);
      };
      const timer = setTimeout(() => done(false), waitMs);
      this.#waiting.add(answered);
      this.#post({ type: 'holding?', ...seat });
    });
  }

  close(): void {
    this.#channel?.close();
  }
}
