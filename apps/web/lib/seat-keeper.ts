import { ConnectRefusal, type RoomView, type SeatResume } from '@group-room/shared';
import { describeError as describe } from './describe-error';
import { resumeOutcome, resumeRetryDelay } from './reconnect';
import type { ReconnectCause } from './room-snapshot';
import { forgetSeat, keepSeat, keptSeat } from './seat';
import { newTabId, SeatTabs, type HeldSeat } from './seat-tabs';
import type { SignalClient } from './signal-client';

/** What keeping the seat needs from the room's connection, and what it tells it. */
export interface SeatHost {
  /** Whether `signal` is still the room's connection: a replaced one is let be. */
  isCurrent(signal: SignalClient): boolean;
  /** Whether a drop now keeps the seat to resume: in the room, or taking it back after a reload. */
  holdsSeat(): boolean;
  /** Views received so far: an answer's view is older than one pushed while it was asked. */
  viewsSeen(): number;
  /** The connection dropped (`first`), or, already reconnecting, it dropped again or the server said it is going away. */
  reconnecting(cause: ReconnectCause, first: boolean): void;
  /** Back in the seat on `signal`, with the answer's view (none if a newer one was pushed already). */
  resumed(signal: SignalClient, view: RoomView | undefined): void;
  /** The resume was refused: the seat, or the whole session, is gone. */
  refused(outcome: 'seat-lost' | 'session-gone'): void;
  /** The seat could not be taken back: the grace period is over, or there is no credential. */
  notRestored(): void;
}

/** How long the seat is kept, should the server not have said (it always does). */
const DEFAULT_GRACE_SECONDS = 120;
/** How much later than the drop the server may start counting (a node's lease, a sweep, a restart). */
const SERVER_GRACE_LAG_SECONDS = 30;
/** After `server:draining` the server closes the connection; if it has not after this, we do. */
const DRAIN_WAIT_MS = 5000;
/** After the server closed the connection itself, a new one is opened after this (to twice this). */
const SERVER_CLOSED_WAIT_MS = 500;
/**
 * A connection the server refused (rather than could not be reached) is tried again after this
 * (to twice this): a node that lost Redis refuses until it has its lease again, often within
 * a second, and a refusal costs the server next to nothing.
 */
const RETRY_REFUSED_MS = 500;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * This tab's seat across connections. Entering gives a resume credential, kept in the tab's
 * sessionStorage (lib/seat). When the connection drops, socket.io reconnects by itself (or we
 * do, when the server closed it or refused us) and each new connection asks `room:resume`
 * (retrying with backoff while the server is unavailable) until the seat is back or the grace
 * period is over. Each resume answers with a new credential: once it is stored, the page
 * confirms it (`room:confirmResume`) and the one before stops working. A reload takes the seat
 * back the same way, unless another tab of this browser holds it (this one is a copy of it:
 * see seat-tabs).
 */
export class SeatKeeper {
  readonly #roomId: string;
  readonly #host: SeatHost;
  /** The resume credential to use next (also in sessionStorage); single-use, replaced by each resume. */
  #seat: SeatResume | undefined;
  /**
   * A copied tab's credential, kept in memory only while the tab it was copied from holds the
   * seat: taken back (takeBack) if this person carries on here once that tab is closed.
   */
  #spare: SeatResume | undefined;
  /** This tab's id, kept with the credential; a copied tab starts with its original's. */
  #tabId: string;
  readonly #tabs: SeatTabs;
  /** While this page asks whether another tab holds its kept seat, it does not answer for it itself. */
  #asking = false;
  /** From a drop (or a reload) until the seat is taken back on a new connection. */
  #reconnecting = false;
  /** The connection a resume is running on (one at a time: a credential is good once). */
  #resuming: SignalClient | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(roomId: string, host: SeatHost) {
    this.#roomId = roomId;
    this.#host = host;
    const kept = keptSeat(roomId);
    this.#tabId = kept?.tabId ?? newTabId();
    if (kept) {
      // A reload (or a copied tab): the seat is to be taken back (takeBack) instead of entering again.
      const { tabId: _tabId, ...seat } = kept;
      this.#seat = seat;
      this.#reconnecting = true;
    }
    this.#tabs = new SeatTabs(roomId, () => this.#heldHere());
  }

  /** What this tab holds (or is taking back), for another tab that asks. */
  #heldHere(): HeldSeat | undefined {
    if (!this.#seat || this.#asking) return undefined;
    return { tabId: this.#tabId, memberId: this.#seat.memberId };
  }

  /** Whether there is a seat to take back. */
  get held(): boolean {
    return this.#seat !== undefined;
  }

  get reconnecting(): boolean {
    return this.#reconnecting;
  }

  /** Keep the latest credential, here and in the tab's storage. */
  keep(seat: SeatResume): void {
    this.#seat = seat;
    this.#spare = undefined;
    keepSeat(this.#roomId, { ...seat, tabId: this.#tabId });
  }

  /** Out of the room: forget the seat and stop waiting for it. */
  release(): void {
    clearTimeout(this.#graceTimer);
    clearTimeout(this.#drainTimer);
    this.#resuming = undefined;
    this.#seat = undefined;
    this.#spare = undefined;
    forgetSeat(this.#roomId);
    this.#reconnecting = false;
  }

  /** The page is going away: stop answering the other tabs. */
  close(): void {
    this.#tabs.close();
  }

  /**
   * After a reload: take the kept seat back on a new connection (`connect`), unless another
   * live tab of this browser holds it: this tab is then a copy of that one (a browser's
   * "Duplicate tab" copies sessionStorage), and resuming would take the seat from it. A copy
   * stands down instead: the copied credential leaves this tab's storage (a reload here finds
   * none) and stays in memory, for another `takeBack` once the other tab is closed. Resolves
   * true once the resume has started, false when another tab holds the seat (or there is none).
   */
  async takeBack(connect: () => SignalClient): Promise<boolean> {
    const seat = this.#seat ?? this.#spare;
    if (!seat) return false;
    this.#asking = true;
    let elsewhere: boolean;
    try {
      elsewhere = await this.#tabs.heldElsewhere({ tabId: this.#tabId, memberId: seat.memberId });
    } finally {
      this.#asking = false;
    }
    // Let go of meanwhile (the page left, or the seat was released): nothing to take back.
    if (seat !== (this.#seat ?? this.#spare)) return false;
    if (elsewhere) {
      this.#seat = undefined;
      this.#spare = seat;
      this.#reconnecting = false;
      forgetSeat(this.#roomId);
      // Not the tab that kept it: should it carry on here later, it does so as a tab of its own.
      this.#tabId = newTabId();
      return false;
    }
    this.#seat = seat;
    this.#spare = undefined;
    this.#reconnecting = true;
    keepSeat(this.#roomId, { ...seat, tabId: this.#tabId });
    const signal = connect();
    this.#startGrace();
    // Asks as soon as the socket is connected (the 'connect' listener asks too; only one runs).
    void this.#resume(signal);
    return true;
  }

  /** Follow a new connection's drops and reconnections. */
  watch(signal: SignalClient): void {
    signal.socket.on('disconnect', (reason) => {
      if (!this.#host.isCurrent(signal) || reason === 'io client disconnect') return;
      // An enter in flight fails by itself (socket.io lets its request go); a seat is kept and resumed.
      if (!this.#host.holdsSeat()) return;
      this.#lost(signal, 'dropped');
      // socket.io reconnects by itself, except when the server closed the connection: then we do,
      // after a moment (a server that keeps closing connections is not asked in a tight loop).
      if (reason === 'io server disconnect') {
        setTimeout(() => {
          if (this.#host.isCurrent(signal) && this.#reconnecting && !signal.socket.active) signal.socket.connect();
        }, SERVER_CLOSED_WAIT_MS * (1 + Math.random()));
      }
    });
    signal.socket.on('connect', () => {
      if (this.#host.isCurrent(signal) && this.#reconnecting) void this.#resume(signal);
    });
    signal.socket.on('connect_error', (error) => {
      // Handed over to the room's home node: the connection does that itself (SignalClient).
      if (ConnectRefusal.safeParse((error as { data?: unknown }).data).success) return;
      // Refused (not merely unreachable), socket.io stops trying: try again a little later.
      if (!this.#host.isCurrent(signal) || !this.#reconnecting || signal.socket.active) return;
      setTimeout(() => {
        if (this.#host.isCurrent(signal) && !signal.socket.active) signal.socket.connect();
      }, RETRY_REFUSED_MS * (1 + Math.random()));
    });
  }

  /** The server is going away (`server:draining`): resume on the next connection, to whichever server is up. */
  draining(signal: SignalClient): void {
    this.#lost(signal, 'server-restart');
    clearTimeout(this.#drainTimer);
    // The server closes this connection next; if it does not, close it so the resume reaches whichever server is up.
    this.#drainTimer = setTimeout(() => {
      if (!this.#host.isCurrent(signal) || !this.#reconnecting || !signal.socket.connected) return;
      signal.socket.disconnect();
      signal.socket.connect();
    }, DRAIN_WAIT_MS);
  }

  /** The connection dropped (or is about to): keep the seat, and wait for the next one. */
  #lost(signal: SignalClient, cause: ReconnectCause): void {
    signal.unseat();
    const first = !this.#reconnecting;
    if (first) {
      this.#reconnecting = true;
      this.#startGrace();
    }
    this.#host.reconnecting(cause, first);
  }

  /**
   * The seat is kept this long after the drop (or the reload): past it, stop and say so. The
   * server's own grace period can start later than this page's drop (after a killed server,
   * once the dead node's heartbeat has lapsed), so this waits a little longer: the server's
   * refusal, not this timer, is the real answer while it can be reached.
   */
  #startGrace(): void {
    clearTimeout(this.#graceTimer);
    const seconds = (this.#seat?.graceSeconds ?? DEFAULT_GRACE_SECONDS) + SERVER_GRACE_LAG_SECONDS;
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = undefined;
      if (this.#reconnecting) this.#host.notRestored();
    }, seconds * 1000);
  }

  /** Take the seat back on this connection; one resume at a time (each credential is good once). */
  async #resume(signal: SignalClient): Promise<void> {
    if (this.#resuming === signal) return;
    this.#resuming = signal;
    try {
      await this.#resumeUntilAnswered(signal);
    } finally {
      if (this.#resuming === signal) this.#resuming = undefined;
    }
  }

  /**
   * Ask `room:resume` until the server says yes or no. While it is unavailable, ask again with
   * backoff (the grace timer ends it); once the socket is down, stop: the next connection asks.
   */
  async #resumeUntilAnswered(signal: SignalClient): Promise<void> {
    let attempt = 0;
    while (this.#host.isCurrent(signal) && this.#reconnecting && signal.socket.connected) {
      const seat = this.#seat;
      if (!seat) return this.#host.notRestored();
      const seen = this.#host.viewsSeen();
      try {
        const { view, resume } = await signal.request('room:resume', { roomId: this.#roomId, credential: seat.credential });
        if (!this.#host.isCurrent(signal)) return;
        return this.#resumed(signal, this.#host.viewsSeen() === seen ? view : undefined, resume);
      } catch (error) {
        if (!this.#host.isCurrent(signal)) return;
        const outcome = resumeOutcome(error);
        if (outcome !== 'retry') return this.#host.refused(outcome);
        console.warn('the seat could not be taken back yet:', describe(error));
        await sleep(resumeRetryDelay(++attempt));
      }
    }
  }

  #resumed(signal: SignalClient, view: RoomView | undefined, seat: SeatResume): void {
    this.keep(seat);
    clearTimeout(this.#graceTimer);
    clearTimeout(this.#drainTimer);
    signal.seat();
    // Stored: the credential this page resumed with may stop working now (a copy of it, or one
    // read from this tab, no longer takes the seat). Unconfirmed, it stays good while the seat
    // is away, so a lost confirmation costs nothing.
    void signal.request('room:confirmResume', { credential: seat.credential }).catch(() => undefined);
    this.#reconnecting = false;
    this.#host.resumed(signal, view);
  }
}
