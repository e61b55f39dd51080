import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { firstMedia } from './first-media';

/** A remote track as the browser hands it out: muted until its first packets arrive. */
class FakeTrack extends EventTarget {
  muted = true;
  readyState: 'live' | 'ended' = 'live';
  arrive() {
    this.muted = false;
    this.dispatchEvent(new Event('unmute'));
  }
  end() {
    this.readyState = 'ended';
    this.dispatchEvent(new Event('ended'));
  }
}

const asTracks = (tracks: FakeTrack[]) => tracks as unknown as MediaStreamTrack[];

describe('firstMedia', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const settled = (promise: Promise<void>) => {
    let done = false;
    void promise.then(() => (done = true));
    return () => done;
  };

  it('resolves at once when nothing waits for media', async () => {
    const live = new FakeTrack();
    live.muted = false;
    await expect(firstMedia(asTracks([live]))).resolves.toBeUndefined();
    await expect(firstMedia([])).resolves.toBeUndefined();
  });

  it('resolves when every track has media (or ended), not before', async () => {
    const [a, b] = [new FakeTrack(), new FakeTrack()];
    const done = settled(firstMedia(asTracks([a, b]), 1500, 300));
    a.arrive();
    await vi.advanceTimersByTimeAsync(100);
    expect(done()).toBe(false);
    b.end();
    await vi.advanceTimersByTimeAsync(0);
    expect(done()).toBe(true);
  });

  it.each([
    { when: 'waits only a little for the rest once one has media (a tile off screen gets none)', firstAt: 200, doneAfter: 300 },
    { when: 'never waits past its bound, even when the first media comes just before it', firstAt: 1400, doneAfter: 100 },
  ])('$when', async ({ firstAt, doneAfter }) => {
    const [a, b] = [new FakeTrack(), new FakeTrack()];
    const done = settled(firstMedia(asTracks([a, b]), 1500, 300));
    await vi.advanceTimersByTimeAsync(firstAt);
    a.arrive();
    await vi.advanceTimersByTimeAsync(doneAfter - 1);
    expect(done()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done()).toBe(true);
  });

  it('gives up after its bound when no media comes', async () => {
    const done = settled(firstMedia(asTracks([new FakeTrack()]), 1500, 300));
    await vi.advanceTimersByTimeAsync(1499);
    expect(done()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done()).toBe(true);
  });
});
