/*
 * The join's timeline: one `performance.mark('join:<step>')` per step, the first time it
 * happens in this page load only (a rejoin or media set up again adds nothing), so a bench can
 * read where the join's time goes with `performance.getEntriesByType('mark')`. Times are the
 * marks' own: performance.now() from the page's navigation start. Nothing leaves the page.
 */

/** The join's steps, in the order they normally happen (media steps may overlap). */
export const JOIN_STEPS = [
  'script', // the room page's code is running
  'socket', // the signalling connection is open
  'entered', // room:enter answered
  'agreed', // the entry agreement acknowledged (members only)
  'admitted', // the first view with this person admitted
  'camera', // camera and microphone open
  'media-join', // media:join answered
  'recv-transport', // the receive transport made
  'consumers-listed', // media:ready answered
  'consumers-made', // every consumer it listed set up
  'consumers-resumed', // the server asked to send them
  'recv-connected', // the receive transport connected
  'key', // the first media key installed
  'producers', // this person's own producers made
] as const;
export type JoinStep = (typeof JOIN_STEPS)[number];

const PREFIX = 'join:';

/** Mark `name` unless this page load marked it already. */
function markOnce(name: string): void {
  if (typeof performance === 'undefined' || typeof performance.mark !== 'function') return;
  // The page's own timeline is the record of what was marked (not module state, which a second bundle copy would not share).
  if (performance.getEntriesByName(name, 'mark').length > 0) return;
  performance.mark(name);
}

/** A step of the join happened (only its first time counts). */
export function markJoin(step: JoinStep): void {
  markOnce(PREFIX + step);
}

/** A remote member's camera tile showed its first decoded frame. */
export function markTileFrame(peerId: string): void {
  markOnce(`${PREFIX}frame:${peerId}`);
}

/** The parts of a <video> the first-frame watch uses. */
type FrameSource = Pick<HTMLVideoElement, 'addEventListener' | 'removeEventListener'> & Partial<Pick<HTMLVideoElement, 'requestVideoFrameCallback' | 'cancelVideoFrameCallback'>>;

/**
 * Call `onFrame` once, when `video` presents its first frame: requestVideoFrameCallback where
 * the browser has it (a frame decoded and shown), else the first `loadeddata` or `playing`.
 * Returns what stops the watch (the tile went, or its track changed).
 */
export function watchFirstFrame(video: FrameSource, onFrame: () => void): () => void {
  if (typeof video.requestVideoFrameCallback === 'function') {
    const handle = video.requestVideoFrameCallback(() => onFrame());
    return () => video.cancelVideoFrameCallback?.(handle);
  }
  let seen = false;
  const once = () => {
    if (seen) return;
    seen = true;
    stop();
    onFrame();
  };
  const stop = () => {
    video.removeEventListener('loadeddata', once);
    video.removeEventListener('playing', once);
  };
  video.addEventListener('loadeddata', once);
  video.addEventListener('playing', once);
  return stop;
}
