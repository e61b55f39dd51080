import type { RoomView } from '@group-room/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { facilitatorView } from './checkout-view.test-support';
import type { RoomMedia } from './room-media';
import { initialSnapshot, type RoomSnapshot } from './room-snapshot';
import { captureScreen, displayMediaOptions, NOTIFICATIONS_WARNING, UNKNOWN_SURFACE_REFUSED } from './screen-capture';
import { ScreenShare } from './screen-share';
import type { SignalClient } from './signal-client';

/*
 * The screen share without a browser: a fake picker (getDisplayMedia), a fake producer, and
 * views as the server would push them.
 */

class FakeTrack {
  stopped = false;
  contentHint = '';
  readonly #listeners = new Map<string, () => void>();
  constructor(readonly surface: string | undefined) {}
  getSettings() {
    return this.surface === undefined ? {} : { displaySurface: this.surface };
  }
  stop() {
    this.stopped = true;
  }
  addEventListener(name: string, listener: () => void) {
    this.#listeners.set(name, listener);
  }
  fire(name: string) {
    this.#listeners.get(name)?.();
  }
}

/** The picker hands over one fake track showing `surface`; the last one made is `picked.track`. */
function fakePicker(surface: string | undefined) {
  const picked: { track?: FakeTrack; options?: unknown } = {};
  vi.stubGlobal('navigator', {
    mediaDevices: {
      getDisplayMedia: (options: unknown) => {
        picked.options = options;
        picked.track = new FakeTrack(surface);
        return Promise.resolve({ getAudioTracks: () => [], getVideoTracks: () => [picked.track] });
      },
    },
  });
  return picked;
}

afterEach(() => vi.unstubAllGlobals());

/** Ada's view (a facilitator: she may share), with her own producers and the room's policy. */
function view({ may = true, producers = [] as string[], allowWholeScreen = false } = {}): RoomView {
  const base = facilitatorView(null);
  return {
    ...base,
    self: { ...base.self, share: { may, asking: false } },
    share: { maxShares: 1, allowWholeScreen },
    members: [{ id: 'ada', displayName: 'Ada', role: 'facilitator', connection: 'online', sending: { mic: true, camera: true, screen: producers.length > 0 }, producers: producers.map((id) => ({ id, kind: 'video' as const, source: 'screen' as const, paused: false })) }],
  };
}

function setUp(first: RoomView) {
  let snapshot: RoomSnapshot = { ...initialSnapshot, view: first };
  const sent: { name: string; payload: unknown }[] = [];
  const signal = {
    seated: true,
    request: (name: string, payload: unknown) => {
      sent.push({ name, payload });
      return Promise.resolve({});
    },
  } as unknown as SignalClient;
  const producer = { id: 'p1', closed: false, handlers: new Map<string, () => void>(), close() { this.closed = true; }, on(name: string, fn: () => void) { this.handlers.set(name, fn); } };
  const media = { produceScreen: vi.fn(() => Promise.resolve(producer)) } as unknown as RoomMedia;
  const share = new ScreenShare({ signal: () => signal, snapshot: () => snapshot, update: (patch) => (snapshot = { ...snapshot, ...patch }), media });
  const push = (next: RoomView) => {
    snapshot = { ...snapshot, view: next };
    share.viewChanged(next);
  };
  return { share, sent, producer, media, push, state: () => snapshot };
}

describe('what the picker may hand over', () => {
  it('asks for no whole screen, no audio and not this tab, unless whole screens are allowed', () => {
    expect(displayMediaOptions(false)).toMatchObject({ audio: false, monitorTypeSurfaces: 'exclude', selfBrowserSurface: 'exclude', systemAudio: 'exclude' });
    expect(displayMediaOptions(true)).toMatchObject({ monitorTypeSurfaces: 'include' });
  });

  it('warns that a shared window shows notifications, and this room itself when its tab is in front', () => {
    expect(NOTIFICATIONS_WARNING).toMatch(/notifications.*this room itself \(private signals, check-out answers\)/);
  });

  it('refuses a whole screen, or a surface the browser does not name, unless allowed; sets contentHint', async () => {
    for (const surface of ['monitor', undefined]) {
      const picked = fakePicker(surface);
      expect((await captureScreen(false)).ok, `${surface} refused`).toBe(false);
      expect(picked.track!.stopped, 'the refused capture is stopped').toBe(true);
      expect((await captureScreen(true)).ok, `${surface} allowed`).toBe(true);
    }
    const picked = fakePicker('window');
    expect((await captureScreen(false)).ok).toBe(true);
    expect(picked.track!.contentHint).toBe('detail');
    expect(picked.track!.stopped).toBe(false);
  });
});

describe('a browser that does not say what was picked (Firefox)', () => {
  it('is asked with the standard picker only, and refused unless a whole screen is allowed (it could be one)', async () => {
    const asked: { how: string; options: unknown }[] = [];
    const tracks: FakeTrack[] = [];
    const stream = () => {
      tracks.push(new FakeTrack(undefined));
      return Promise.resolve({ getAudioTracks: () => [], getVideoTracks: () => [tracks.at(-1)] });
    };
    vi.stubGlobal('navigator', {
      mediaDevices: {
        // Firefox's: it knows the legacy mediaSource constraint, which it may not honour.
        getSupportedConstraints: () => ({ mediaSource: true, frameRate: true }),
        getUserMedia: (options: unknown) => (asked.push({ how: 'getUserMedia', options }), stream()),
        getDisplayMedia: (options: unknown) => (asked.push({ how: 'getDisplayMedia', options }), stream()),
      },
    });
    expect(await captureScreen(false)).toEqual({ ok: false, message: UNKNOWN_SURFACE_REFUSED });
    expect(UNKNOWN_SURFACE_REFUSED).toMatch(/does not say what it is sharing.*facilitator allows a whole screen.*Chrome or Edge/);
    expect(tracks[0]!.stopped, 'the refused capture is stopped').toBe(true);
    // Whole screens allowed: whatever it hands over may go.
    expect(await captureScreen(true)).toMatchObject({ ok: true, surface: 'unknown' });
    expect(asked.map((a) => a.how)).toEqual(['getDisplayMedia', 'getDisplayMedia']);
    expect(asked[1]!.options).toMatchObject({ monitorTypeSurfaces: 'include' });
  });

  it('a share of a surface not named ends when a whole screen is no longer allowed, saying why', async () => {
    const picked = fakePicker(undefined);
    const { share, push, state } = setUp(view({ allowWholeScreen: true }));
    await share.start();
    expect(state().share.phase).toBe('on');
    push(view({ allowWholeScreen: false }));
    expect(picked.track!.stopped).toBe(true);
    expect(state().share.phase).toBe('off');
    expect(state().shareNotice?.text).toContain('does not say what it is sharing');
  });
});

describe("this page's share", () => {
  it('is not started without a grant (the picker is not even opened)', async () => {
    const picked = fakePicker('window');
    const { share, media } = setUp(view({ may: false }));
    expect((await share.start()).ok).toBe(false);
    expect(picked.track).toBeUndefined();
    expect(media.produceScreen).not.toHaveBeenCalled();
  });

  it('ends here once the server closed it: the producer left the view after being in it', async () => {
    const picked = fakePicker('browser');
    const { share, push, producer, state, sent } = setUp(view());
    expect((await share.start()).ok).toBe(true);
    expect(state().share.phase).toBe('on');
    push(view()); // not recorded yet: nothing happens
    expect(state().share.phase).toBe('on');
    push(view({ producers: ['p1'] }));
    push(view());
    expect(state().share.phase).toBe('off');
    expect(picked.track!.stopped).toBe(true);
    expect(producer.closed).toBe(true);
    expect(state().shareNotice?.text).toContain('no longer shared');
    expect(sent).toEqual([]);
  });

  it('ends when the grant is withdrawn, and when a whole screen is no longer allowed (closed on the server from here)', async () => {
    fakePicker('browser');
    const withdrawn = setUp(view());
    await withdrawn.share.start();
    withdrawn.push(view({ may: false, producers: ['p1'] }));
    expect(withdrawn.state().share.phase).toBe('off');
    expect(withdrawn.state().shareNotice?.text).toContain('withdrew');
    expect(withdrawn.sent, 'the server closed it itself').toEqual([]);

    const picked = fakePicker('monitor');
    const whole = setUp(view({ allowWholeScreen: true }));
    await whole.share.start();
    whole.push(view({ allowWholeScreen: true, producers: ['p1'] }));
    expect(whole.state().share.phase).toBe('on');
    whole.push(view({ allowWholeScreen: false, producers: ['p1'] }));
    expect(whole.state().share.phase).toBe('off');
    expect(picked.track!.stopped).toBe(true);
    await Promise.resolve();
    expect(whole.sent).toEqual([{ name: 'media:closeProducer', payload: { producerId: 'p1' } }]);
  });

  it("ends from the browser's own stop bar and when media is set up again", async () => {
    const picked = fakePicker('window');
    const bar = setUp(view());
    await bar.share.start();
    picked.track!.fire('ended');
    await Promise.resolve();
    expect(bar.state().share.phase).toBe('off');
    expect(bar.state().shareNotice?.text).toContain('from the browser');
    expect(bar.sent).toEqual([{ name: 'media:closeProducer', payload: { producerId: 'p1' } }]);

    const again = fakePicker('window');
    const lost = setUp(view());
    await lost.share.start();
    lost.producer.handlers.get('transportclose')!();
    expect(lost.state().share.phase).toBe('off');
    expect(again.track!.stopped).toBe(true);
  });
});
