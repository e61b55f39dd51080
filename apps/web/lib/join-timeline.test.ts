import { beforeEach, describe, expect, it } from 'vitest';
import { markJoin, markTileFrame, watchFirstFrame } from './join-timeline';

const marks = () => performance.getEntriesByType('mark').map((m) => m.name);

describe('join timeline marks', () => {
  beforeEach(() => performance.clearMarks());

  it('marks each step with its join: name, the first time only', () => {
    markJoin('socket');
    const first = performance.getEntriesByName('join:socket', 'mark')[0]!.startTime;
    markJoin('entered');
    markJoin('socket');
    expect(marks()).toEqual(['join:socket', 'join:entered']);
    expect(performance.getEntriesByName('join:socket', 'mark')[0]!.startTime).toBe(first);
  });

  it("marks each remote tile's first frame once, by member id", () => {
    markTileFrame('peer-a');
    markTileFrame('peer-b');
    markTileFrame('peer-a');
    expect(marks()).toEqual(['join:frame:peer-a', 'join:frame:peer-b']);
  });
});

/** A stand-in for a <video>: its listeners, and a frame callback when it has the API. */
function fakeVideo(withFrameCallback: boolean) {
  const listeners = new Map<string, Set<() => void>>();
  const frameCallbacks = new Map<number, () => void>();
  let next = 1;
  const video = {
    addEventListener: (type: string, listener: () => void) => void (listeners.get(type) ?? listeners.set(type, new Set()).get(type)!).add(listener),
    removeEventListener: (type: string, listener: () => void) => void listeners.get(type)?.delete(listener),
    ...(withFrameCallback
      ? {
          requestVideoFrameCallback: (callback: () => void) => {
            frameCallbacks.set(next, callback);
            return next++;
          },
          cancelVideoFrameCallback: (handle: number) => void frameCallbacks.delete(handle),
        }
      : {}),
  };
  return {
    video: video as unknown as Parameters<typeof watchFirstFrame>[0],
    fire: (type: string) => [...(listeners.get(type) ?? [])].forEach((l) => l()),
    present: () => [...frameCallbacks.values()].forEach((c) => c()),
    listening: () => [...listeners.values()].reduce((n, s) => n + s.size, 0),
    pendingFrames: () => frameCallbacks.size,
  };
}

describe('watchFirstFrame', () => {
  it('waits for the first presented frame where the browser has requestVideoFrameCallback', () => {
    const fake = fakeVideo(true);
    let frames = 0;
    watchFirstFrame(fake.video, () => frames++);
    fake.fire('loadeddata');
    expect(frames).toBe(0);
    fake.present();
    expect(frames).toBe(1);
  });

  it('is stopped by its return value', () => {
    const fake = fakeVideo(true);
    let frames = 0;
    watchFirstFrame(fake.video, () => frames++)();
    expect(fake.pendingFrames()).toBe(0);
    fake.present();
    expect(frames).toBe(0);
  });

  it('falls back to the first loadeddata or playing event, once, and stops listening', () => {
    const fake = fakeVideo(false);
    let frames = 0;
    watchFirstFrame(fake.video, () => frames++);
    fake.fire('playing');
    fake.fire('loadeddata');
    expect(frames).toBe(1);
    expect(fake.listening()).toBe(0);
    const stopped = fakeVideo(false);
    watchFirstFrame(stopped.video, () => frames++)();
    stopped.fire('loadeddata');
    expect(frames).toBe(1);
  });
});
