import type { EventPayload } from '@group-room/shared';
import type { ShownSignal } from './e2ee/room-encryption';
import { attempt, type ActionResult } from './action-result';
import type { RoomSnapshot } from './room-snapshot';
import type { SignalClient } from './signal-client';
import { ValueStore } from './value-store';

/** The latest speaking times (facilitators only), as the server last reported them. */
export type TalkTimeReport = EventPayload<'talk:time'>;

/** Private signals kept in this tab's memory (newest first), never stored anywhere. */
export const PRIVATE_SIGNALS_KEPT = 50;

/** What the facilitator's tools need from the room's client. */
export interface FacilitationHost {
  /** The room's connection now, if any. */
  signal(): SignalClient | undefined;
  snapshot(): RoomSnapshot;
  update(patch: Partial<RoomSnapshot>): void;
}

/**
 * What a facilitator has beside commands: the links they hand out (invites, their own link and
 * its replacement), the private signals members sent them, and everyone's speaking time.
 */
export class FacilitatorTools {
  /** Each member's speaking time so far, about once a second (see useTalkTime). */
  readonly talkTime = new ValueStore<TalkTimeReport | undefined>(undefined);
  readonly #host: FacilitationHost;
  #linkToken: string | null = null;

  constructor(host: FacilitationHost) {
    this.#host = host;
  }

  /**
   * The token this tab entered with, kept only in memory (the page drops it from the address
   * bar): after a reload, which resumes the seat, there is none until the facilitator makes one.
   */
  get linkToken(): string | null {
    return this.#linkToken;
  }

  enteredWith(token: string): void {
    this.#linkToken = token;
  }

  /**
   * Out of the room, or no longer facilitating: the talk time goes, and so do the private
   * signals (returned as the snapshot's part, so the caller changes it in its own update).
   */
  forget(): Pick<RoomSnapshot, 'privateSignals'> {
    this.talkTime.set(undefined);
    return { privateSignals: [] };
  }

  /** A private signal arrived (a repeat, e.g. after a resume, is kept once). */
  received(signal: ShownSignal): void {
    const kept = this.#host.snapshot().privateSignals;
    if (kept.some((s) => s.id === signal.id)) return;
    this.#host.update({ privateSignals: [signal, ...kept].slice(0, PRIVATE_SIGNALS_KEPT) });
  }

  /** Take a private signal off the list (it was only ever in this tab). */
  dismissSignal(id: string): void {
    const kept = this.#host.snapshot().privateSignals;
    if (!kept.some((s) => s.id === id)) return;
    this.#host.update({ privateSignals: kept.filter((s) => s.id !== id) });
  }

  /** A fresh invite link's token and id, e.g. one personal link per member. */
  createInvite(): Promise<ActionResult<{ inviteToken: string; inviteId: string }>> {
    return attempt(this.#host.signal(), (signal) => signal.request('invite:create', {}));
  }

  /**
   * Replace the facilitator link: the old one stops working at once, everyone inside keeps
   * their seat. Answers the new link's token (kept in memory, as the tab's own).
   */
  rotateFacilitatorLink(): Promise<ActionResult<string>> {
    return attempt(this.#host.signal(), async (signal) => {
      const { facilitatorToken } = await signal.request('link:rotateFacilitator', {});
      this.#linkToken = facilitatorToken;
      return facilitatorToken;
    });
  }
}
