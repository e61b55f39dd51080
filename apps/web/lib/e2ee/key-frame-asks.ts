/*
 * Asking for key frames when a receiver's decoder cannot start. A video decoder needs a key
 * frame after a gap: at the start, and after frames that were dropped here (no key for them
 * yet, an aside's key this page does not hold). A newcomer's first key is for a new ratchet step
 * its senders move to a little later, so the key frame asked for when the key arrived may still
 * be under the old step and be dropped, and the deltas that follow decrypt but cannot be decoded:
 * nothing else asks again, and browsers send almost no key frame by themselves.
 */

/** VP8's P bit (byte 0, bit 0: 0 = key frame), as frame-codec.ts reads it: never the engine's frame type. */
export function isVp8KeyFrame(frame: Uint8Array): boolean {
  return frame.length > 0 && (frame[0]! & 0x01) === 0;
}

/** One receiver, in the frame worker: whether the decoder still waits for a key frame. */
export class KeyFrameWait {
  readonly #everyMs: number;
  #waiting = true;
  #askedAt = -Infinity;

  /** At most one ask per `everyMs` (frames come 30 a second). */
  constructor(everyMs = 400) {
    this.#everyMs = everyMs;
  }

  get waiting(): boolean {
    return this.#waiting;
  }

  /** A frame was dropped here: the decoder misses it, and what follows needs a key frame. */
  dropped(): void {
    this.#waiting = true;
  }

  /** A frame decrypted and passed on; true: ask for a key frame now. */
  passed(key: boolean, now: number): boolean {
    if (key) {
      this.#waiting = false;
      return false;
    }
    if (!this.#waiting || now - this.#askedAt < this.#everyMs) return false;
    this.#askedAt = now;
    return true;
  }
}

export interface AskTimers {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: AskTimers = {
  now: () => performance.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * The page's asks, in the main thread. One ask (media:keysReady) has the server ask a key frame
 * of every video this person receives, so the receivers' wishes within `windowMs` make one ask;
 * asks are then at least `gapMs` apart, and `slowGapMs` once `burst` were made in the last 10 s:
 * under the server's limit (KeysReadyLimit: one per 2 s, plus 4 per 10 s), which also counts the
 * key exchange's own ask when a key is installed.
 */
export class KeyFrameAsks {
  readonly #ask: () => void;
  readonly #timers: AskTimers;
  readonly #windowMs: number;
  readonly #gapMs: number;
  readonly #slowGapMs: number;
  readonly #burst: number;
  #recent: number[] = [];
  #pending: unknown = null;

  constructor(ask: () => void, timers: AskTimers = realTimers, options = { windowMs: 200, gapMs: 1000, slowGapMs: 2000, burst: 3 }) {
    this.#ask = ask;
    this.#timers = timers;
    this.#windowMs = options.windowMs;
    this.#gapMs = options.gapMs;
    this.#slowGapMs = options.slowGapMs;
    this.#burst = options.burst;
  }

  /** A receiver wants a key frame: asked within the window, or when the gap allows. */
  want(): void {
    if (this.#pending !== null) return;
    const now = this.#timers.now();
    this.#recent = this.#recent.filter((at) => now - at < 10_000);
    const last = this.#recent.at(-1);
    const gap = this.#recent.length >= this.#burst ? this.#slowGapMs : this.#gapMs;
    const wait = Math.max(this.#windowMs, last === undefined ? 0 : last + gap - now);
    this.#pending = this.#timers.setTimeout(() => {
      this.#pending = null;
      this.#recent.push(this.#timers.now());
      this.#ask();
    }, wait);
  }

  close(): void {
    if (this.#pending !== null) this.#timers.clearTimeout(this.#pending);
    this.#pending = null;
  }
}
