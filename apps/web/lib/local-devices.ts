import type { MediaSource } from '@group-room/shared';
import { done, type ActionResult } from './action-result';
import { describeError as describe } from './describe-error';
import { openCameraAndMicrophone } from './local-media';
import type { RoomMedia, VideoPreference } from './room-media';
import type { RoomSnapshot } from './room-snapshot';
import type { SignalClient } from './signal-client';

/** What this page's devices need from the room's client. */
export interface DevicesHost {
  /** The room's connection now, if any. */
  signal(): SignalClient | undefined;
  snapshot(): RoomSnapshot;
  update(patch: Partial<RoomSnapshot>): void;
  readonly media: RoomMedia;
}

/**
 * This person's own side of the media: their camera and microphone (opened once, switched on
 * and off for the group), and what they ask to receive (audio only, each tile's video size).
 * Their state is in the room's snapshot: `localStream`, `micOn`, `camOn`, `receiveVideo`, `deviceWarning`.
 */
export class LocalDevices {
  readonly #host: DevicesHost;
  #opening: Promise<void> | undefined;
  /** Bumped when the camera is released, so a late getUserMedia answer is let go at once. */
  #generation = 0;

  constructor(host: DevicesHost) {
    this.#host = host;
  }

  /** Ask for camera and microphone once, falling back to whatever the browser allows. */
  open(): Promise<void> {
    this.#opening ??= this.#request();
    return this.#opening;
  }

  async #request(): Promise<void> {
    const generation = this.#generation;
    const { stream, warning } = await openCameraAndMicrophone();
    if (!stream) return this.#host.update({ deviceWarning: warning });
    if (generation !== this.#generation) {
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    this.#host.update({
      localStream: stream,
      micOn: stream.getAudioTracks().length > 0,
      camOn: stream.getVideoTracks().length > 0,
      deviceWarning: warning,
    });
  }

  /** Stop the camera and microphone (out of the room); the next `open` asks again. */
  release(): void {
    for (const track of this.#host.snapshot().localStream?.getTracks() ?? []) track.stop();
    this.#opening = undefined;
    this.#generation++;
    this.#host.update({ localStream: undefined, micOn: false, camOn: false });
  }

  /**
   * Mute or unmute the microphone (or camera): paused on the server, not just locally. Fails
   * without that device, or when the server did not take the change.
   */
  async setEnabled(source: MediaSource, enabled: boolean): Promise<ActionResult> {
    const name = source === 'mic' ? 'microphone' : 'camera';
    const stream = this.#host.snapshot().localStream;
    const track = source === 'mic' ? stream?.getAudioTracks()[0] : stream?.getVideoTracks()[0];
    if (!track) return { ok: false, message: `There is no ${name} to turn ${enabled ? 'on' : 'off'} in this browser.` };
    track.enabled = enabled;
    this.#host.update(source === 'mic' ? { micOn: enabled } : { camOn: enabled });
    const signal = this.#host.signal();
    if (!signal) return done;
    try {
      await this.#host.media.setPaused(signal, source, !enabled);
      return done;
    } catch (error) {
      // Dropped meanwhile: the switch reaches the server with the resume.
      if (!signal.seated) return done;
      return { ok: false, message: `Your ${name} could not be turned ${enabled ? 'on' : 'off'} for the group (${describe(error)}).` };
    }
  }

  /**
   * Audio only (for a weak connection), or video again: the server pauses or resumes every
   * video stream this page receives. Remembered for media set up again later.
   */
  async setReceiveVideo(video: boolean): Promise<ActionResult> {
    this.#host.update({ receiveVideo: video });
    if (await this.#sendReceiveVideo(video)) return done;
    this.#host.update({ receiveVideo: !video });
    return { ok: false, message: video ? 'Video could not be turned back on just now.' : 'Audio only could not be turned on just now.' };
  }

  /** Media was set up afresh (after a reload, a resume or a lost router): it starts with video on the server. */
  mediaReady(): void {
    if (!this.#host.snapshot().receiveVideo) void this.#sendReceiveVideo(false);
  }

  /** Tell the server; true if it took it, or if there is no media yet (sent once media is ready). */
  async #sendReceiveVideo(video: boolean): Promise<boolean> {
    const signal = this.#host.signal();
    if (!signal || this.#host.media.phase !== 'ready') return true;
    try {
      await signal.request('media:receiveVideo', { video });
      return true;
    } catch {
      return !signal.seated; // dropped meanwhile: sent again when media is ready after the resume
    }
  }

  /**
   * How `peerId`'s tile shows their video on this page (null: the tile is gone): off screen
   * the server pauses it, and a small tile gets a smaller simulcast layer.
   */
  preferVideo(peerId: string, preference: VideoPreference | null): void {
    this.#host.media.preferVideo(this.#host.signal(), peerId, preference).catch((error: unknown) => {
      if (this.#host.signal()?.seated) console.warn('video size not sent:', describe(error));
    });
  }
}
