/*
 * When the others' first media has arrived here. A remote track starts muted and unmutes when
 * its first packets arrive; a newcomer's page waits for that (within bounds) before it sets up
 * its own sending, whose offer and encoder start hold the browser's WebRTC thread for hundreds of
 * milliseconds on a busy machine and would hold up the first pictures with it.
 */

/** How long sending waits, at most, for the others' first media. */
export const FIRST_MEDIA_WAIT_MS = 1500;
/**
 * Once one track has media, how much longer the rest are waited for: the others' videos are
 * resumed together and come within a frame or two of each other, but a tile off screen (paused
 * by the server) gets nothing until it is seen.
 */
export const AFTER_FIRST_MS = 300;

/** Resolves once none of `tracks` is muted (or ended), `afterFirstMs` after the first has media, or after `ms`; never rejects. */
export function firstMedia(tracks: readonly MediaStreamTrack[], ms = FIRST_MEDIA_WAIT_MS, afterFirstMs = AFTER_FIRST_MS): Promise<void> {
  const waiting = tracks.filter((track) => track.muted && track.readyState === 'live');
  if (!waiting.length) return Promise.resolve();
  return new Promise((resolve) => {
    let left = waiting.length;
    const deadline = Date.now() + ms;
    let timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      for (const track of waiting) {
        track.removeEventListener('unmute', arrived);
        track.removeEventListener('ended', arrived);
      }
      resolve();
    }
    function arrived(this: MediaStreamTrack) {
      this.removeEventListener('unmute', arrived);
      this.removeEventListener('ended', arrived);
      if (--left === 0) return done();
      if (left === waiting.length - 1) {
        clearTimeout(timer);
        timer = setTimeout(done, Math.min(afterFirstMs, deadline - Date.now()));
      }
    }
    for (const track of waiting) {
      track.addEventListener('unmute', arrived);
      track.addEventListener('ended', arrived);
    }
  });
}
