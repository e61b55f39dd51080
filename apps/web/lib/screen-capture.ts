/*
 * Choosing what to share: the browser's own picker (getDisplayMedia) with privacy defaults, and
 * a check of what was really picked. The server never sees a frame (they are encrypted end to
 * end), so whether a whole screen may go out is enforced here, in every sharer's page, from the
 * room's share policy in the view.
 */

/** Slides and documents change rarely: a low frame rate keeps the share light. */
export const SCREEN_FRAME_RATE = 8;

/** What the browser's picker offers, beyond the standard `video`/`audio`: hints some browsers take (others ignore them). */
interface DisplayMediaHints extends DisplayMediaStreamOptions {
  /** Chromium: leave whole screens out of the picker. */
  monitorTypeSurfaces?: 'include' | 'exclude';
  /** Chromium: leave this very tab out (sharing it would show the room to itself). */
  selfBrowserSurface?: 'include' | 'exclude';
  /** Chromium: no "share system audio" box. */
  systemAudio?: 'include' | 'exclude';
  /** Chromium: let the sharer switch to another tab without starting again. */
  surfaceSwitching?: 'include' | 'exclude';
}

export type Captured = { ok: true; track: MediaStreamTrack; surface: DisplaySurface } | { ok: false; message: string };

/** What the browser says was picked; `unknown` when it does not say. */
export type DisplaySurface = 'monitor' | 'window' | 'browser' | 'unknown';

export function displayMediaOptions(allowWholeScreen: boolean): DisplayMediaHints {
  return {
    video: { frameRate: { max: SCREEN_FRAME_RATE } },
    audio: false,
    monitorTypeSurfaces: allowWholeScreen ? 'include' : 'exclude',
    selfBrowserSurface: 'exclude',
    systemAudio: 'exclude',
    surfaceSwitching: 'include',
  };
}

export function surfaceOf(track: MediaStreamTrack): DisplaySurface {
  const surface = (track.getSettings() as { displaySurface?: string }).displaySurface;
  return surface === 'monitor' || surface === 'window' || surface === 'browser' ? surface : 'unknown';
}

/**
 * Whether a picked surface may go out. A browser that does not say what was picked (`unknown`)
 * is refused unless whole screens are allowed: it could be one.
 */
export function surfaceAllowed(surface: DisplaySurface, allowWholeScreen: boolean): boolean {
  return allowWholeScreen || surface === 'window' || surface === 'browser';
}

export const WHOLE_SCREEN_REFUSED =
  'A whole screen cannot be shared in this session, only a window or a tab, so nothing else on your screen is seen by mistake. Choose a window or a tab instead.';

export const UNKNOWN_SURFACE_REFUSED =
  'This browser does not say what it is sharing, so it can share here only when the facilitator allows a whole screen; in Chrome or Edge you can share one window or tab.';

/** Why this surface may not go out, or null when it may. */
export function surfaceRefusal(surface: DisplaySurface, allowWholeScreen: boolean): string | null {
  if (surfaceAllowed(surface, allowWholeScreen)) return null;
  return surface === 'unknown' ? UNKNOWN_SURFACE_REFUSED : WHOLE_SCREEN_REFUSED;
}

/**
 * Ask the browser for a screen, window or tab. Must be called from a click (browsers require
 * it), before anything else is awaited. A refused or whole-screen pick stops the track and
 * says why. Every browser is asked with getDisplayMedia and checked by what it reports: not
 * with Firefox's older getUserMedia `mediaSource: 'window'`, which newer Firefox may not honour
 * (its picker can then still offer the entire screen), so the check would rest on a guess.
 */
export async function captureScreen(allowWholeScreen: boolean): Promise<Captured> {
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia(displayMediaOptions(allowWholeScreen));
  } catch (error) {
    return { ok: false, message: pickerFailure(error) };
  }
  // Only the video is wanted: a browser that added audio anyway sends none of it.
  for (const audio of stream.getAudioTracks()) audio.stop();
  const track = stream.getVideoTracks()[0];
  if (!track) return { ok: false, message: 'The browser gave no picture to share.' };
  const surface = surfaceOf(track);
  const refusal = surfaceRefusal(surface, allowWholeScreen);
  if (refusal) {
    track.stop();
    return { ok: false, message: refusal };
  }
  // Text and lines stay sharp rather than motion smooth.
  track.contentHint = 'detail';
  return { ok: true, track, surface };
}

function pickerFailure(error: unknown): string {
  const name = error instanceof DOMException ? error.name : '';
  if (name === 'NotAllowedError') return 'Nothing is shared: the screen picker was closed, or this browser does not allow sharing here.';
  if (name === 'NotFoundError') return 'Nothing is shared: there was nothing to share.';
  if (typeof navigator === 'undefined' || !navigator.mediaDevices?.getDisplayMedia) return 'This browser cannot share a screen.';
  return 'Nothing is shared: the browser could not start sharing.';
}

/** Shown before and while sharing. A shared window shows this room too when its tab is in front. */
export const NOTIFICATIONS_WARNING =
  'Everything shown in what you share is seen by the group: notifications and pop-ups in a shared window, and this room itself (private signals, check-out answers) if you share the window it is in while its tab is in front.';
