import { ProtocolFailure, type RoomView } from '@group-room/shared';
import type { Producer } from 'mediasoup-client/types';
import { done, NOT_CONNECTED, type ActionResult } from './action-result';
import { describeError as describe } from './describe-error';
import type { RoomMedia, VideoPreference } from './room-media';
import type { RoomSnapshot } from './room-snapshot';
import { captureScreen, surfaceRefusal, type DisplaySurface } from './screen-capture';
import type { SignalClient } from './signal-client';

/**
 * This page's own screen share: `choosing` while the browser's picker is open, `starting` while
 * the server is asked to take it, `on` while it is sent.
 */
export type ShareState = { phase: 'off' } | { phase: 'choosing' } | { phase: 'starting' | 'on'; track: MediaStreamTrack; surface: DisplaySurface };

export const SHARE_OFF: ShareState = { phase: 'off' };

/** What the screen share needs from the room's client. */
export interface ShareHost {
  /** The room's connection now, if any. */
  signal(): SignalClient | undefined;
  snapshot(): RoomSnapshot;
  update(patch: Partial<RoomSnapshot>): void;
  readonly media: RoomMedia;
}

const ENDED = {
  self: 'You stopped sharing your screen.',
  browser: 'You stopped sharing your screen from the browser.',
  withdrawn: 'A facilitator withdrew your permission to share: your screen is no longer shared.',
  closed: 'Your screen is no longer shared: a facilitator stopped it, or another share took its place.',
  media: 'Your screen is no longer shared: audio and video were connected again. Share it again if you wish.',
} as const;

/**
 * Sharing this person's screen: the browser's picker (screen-capture.ts), the `screen` producer
 * (RoomMedia.produceScreen), and its end, whichever way it comes: the person's "Stop sharing",
 * the browser's own stop bar (the track ends), or the server (the grant withdrawn, a facilitator
 * stopped it, another share replaced it: the producer leaves the view), or media set up again.
 * Whatever ends it stops the capture here, so nothing is captured that is not sent.
 */
export class ScreenShare {
  readonly #host: ShareHost;
  #producer: Producer | undefined;
  #track: MediaStreamTrack | undefined;
  /** The producer has been in a view: leaving the view later means the server closed it. */
  #seen = false;
  /** Bumped whenever a share ends, so a start still under way knows it is no longer current. */
  #attempt = 0;

  constructor(host: ShareHost) {
    this.#host = host;
  }

  /**
   * Open the browser's picker and share what is picked. Call it straight from a click (the
   * browser requires one): nothing is awaited before the picker.
   */
  async start(): Promise<ActionResult> {
    const view = this.#host.snapshot().view;
    if (!view?.self.share.may) return { ok: false, message: 'A facilitator has not let you share your screen.' };
    if (this.#host.snapshot().share.phase !== 'off') return done;
    const attempt = ++this.#attempt;
    const picking = captureScreen(view.share?.allowWholeScreen ?? false);
    this.#host.update({ share: { phase: 'choosing' }, shareNotice: undefined });
    const captured = await picking;
    if (attempt !== this.#attempt) {
      if (captured.ok) captured.track.stop();
      return done;
    }
    if (!captured.ok) {
      this.#host.update({ share: SHARE_OFF });
      return { ok: false, message: captured.message };
    }
    const { track, surface } = captured;
    // The grant or the policy may have changed while the picker was open.
    const refusal = this.#refusal(this.#host.snapshot().view, surface);
    if (refusal) {
      track.stop();
      this.#host.update({ share: SHARE_OFF });
      return { ok: false, message: refusal };
    }
    this.#track = track;
    // The browser's own "Stop sharing" bar ends the track.
    track.addEventListener('ended', () => {
      if (this.#track === track) void this.stop(ENDED.browser);
    });
    this.#host.update({ share: { phase: 'starting', track, surface } });
    let producer: Producer;
    try {
      producer = await this.#host.media.produceScreen(track);
    } catch (error) {
      if (attempt === this.#attempt) this.#release();
      return { ok: false, message: `Your screen could not be shared (${describe(error)}).` };
    }
    if (attempt !== this.#attempt) {
      // Ended while the server took it: it goes there too.
      this.#closeOnServer(producer);
      return done;
    }
    this.#producer = producer;
    this.#seen = false;
    producer.on('transportclose', () => {
      if (this.#producer === producer) this.#release(ENDED.media);
    });
    this.#host.update({ share: { phase: 'on', track, surface } });
    this.viewChanged(this.#host.snapshot().view);
    return done;
  }

  /** Stop sharing (the person's button, or the browser's bar): here at once, and on the server. */
  async stop(notice: string = ENDED.self): Promise<ActionResult> {
    const producer = this.#producer;
    this.#release(notice);
    if (!producer) return done;
    return this.#closeOnServer(producer);
  }

  /**
   * A new view: the share ends here when the server no longer takes it (grant withdrawn,
   * closed by a facilitator or replaced: its producer left the view), or when a whole screen
   * is shared and no longer allowed.
   */
  viewChanged(view: RoomView | undefined): void {
    const producer = this.#producer;
    const state = this.#host.snapshot().share;
    if (state.phase !== 'on' || !producer) return;
    if (!view) return this.#release();
    const refusal = this.#refusal(view, state.surface);
    if (refusal) {
      // The server closes a withdrawn share itself; a whole screen it cannot see is closed from here.
      if (view.self.share.may) void this.#closeOnServer(producer);
      return this.#release(refusal === ENDED.withdrawn ? refusal : `Your screen is no longer shared: ${refusal}`);
    }
    const own = view.members?.find((m) => m.id === view.self.id);
    const listed = own?.producers.some((p) => p.id === producer.id) ?? false;
    if (listed) this.#seen = true;
    else if (this.#seen) this.#release(ENDED.closed);
  }

  /** Out of the room, or media let go: the share ends without a word to the server (it is gone there too). */
  release(): void {
    if (this.#host.snapshot().share.phase !== 'off' || this.#producer || this.#track) this.#release();
  }

  /**
   * How `peerId`'s shared screen shows here (null: its tile is gone), like a camera tile's, so
   * the server sends nothing for a share off screen.
   */
  preferScreen(peerId: string, preference: VideoPreference | null): void {
    const signal = this.#host.signal();
    this.#host.media.preferVideo(signal, peerId, preference, 'screen').catch((error: unknown) => {
      if (signal?.seated) console.warn('share size not sent:', describe(error));
    });
  }

  /** Why the server would not (or no longer) take this share, or null. */
  #refusal(view: RoomView | undefined, surface: DisplaySurface): string | null {
    if (!view?.self.share.may) return ENDED.withdrawn;
    return surfaceRefusal(surface, view.share?.allowWholeScreen ?? false);
  }

  async #closeOnServer(producer: Producer): Promise<ActionResult> {
    producer.close();
    const signal = this.#host.signal();
    if (!signal?.seated) return signal ? done : NOT_CONNECTED;
    try {
      await signal.request('media:closeProducer', { producerId: producer.id });
      return done;
    } catch (error) {
      // Closed there already (withdrawn, replaced), or dropped meanwhile (the server lets it go with the media).
      if (!signal.seated || (error instanceof ProtocolFailure && error.code === 'NOT_FOUND')) return done;
      return { ok: false, message: `The server could not be told the share stopped (${describe(error)}).` };
    }
  }

  /** End the share here: the capture stops, the producer closes, and the person is told why. */
  #release(notice?: string): void {
    this.#attempt++;
    this.#track?.stop();
    this.#producer?.close();
    this.#track = undefined;
    this.#producer = undefined;
    this.#seen = false;
    this.#host.update({ share: SHARE_OFF, shareNotice: notice ? { text: notice } : undefined });
  }
}
