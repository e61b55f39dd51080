import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameCrypto } from './frame-crypto';
import { KeyFrameAsks, KeyFrameWait, isVp8KeyFrame } from './key-frame-asks';
import type { FromWorker } from './worker-protocol';

/*
 * Which status each sender's frames report under: the camera's and the shared screen's are
 * both video, and must not share one (a share with no key would hide behind the camera's).
 */

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

/** A stand-in for the frame worker: what the page posts, and a way to answer as the worker. */
function fakeWorker(): { posted: { id?: string; op?: string }[]; say: (message: FromWorker) => void } {
  const posted: { id?: string; op?: string }[] = [];
  const workers: { onmessage: ((event: { data: FromWorker }) => void) | null }[] = [];
  vi.stubGlobal(
    'Worker',
    class {
      onmessage: ((event: { data: FromWorker }) => void) | null = null;
      constructor() {
        workers.push(this);
      }
      postMessage(message: { id?: string }) {
        posted.push(message);
      }
      terminate() {}
    },
  );
  return { posted, say: (message) => workers[0]!.onmessage!({ data: message }) };
}

describe('sender statuses', () => {
  it('the camera reports as send:video, the shared screen as send:screen, the microphone as send:audio', () => {
    const posted: { id?: string }[] = [];
    vi.stubGlobal(
      'Worker',
      class {
        onmessage: unknown = null;
        postMessage(message: { id?: string }) {
          posted.push(message);
        }
      },
    );
    const frames = new FrameCrypto('streams', () => undefined);
    const sender = () => ({ createEncodedStreams: () => ({ readable: {}, writable: {} }) }) as unknown as RTCRtpSender;
    frames.attachSender(sender(), 'audio');
    frames.attachSender(sender(), 'video');
    frames.attachSender(sender(), 'video', 'screen');
    expect(posted.map((m) => m.id)).toEqual(['send:audio', 'send:video', 'send:screen']);
  });
});

describe('key frame asks', () => {
  it('receivers wanting a key frame within 200 ms make one media:keysReady; later ones wait out the gap', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const worker = fakeWorker();
    let asks = 0;
    const frames = new FrameCrypto('script', () => asks++);
    for (let i = 0; i < 11; i++) worker.say({ op: 'keyFrame', id: `consumer-${i}` });
    expect(asks).toBe(0);
    vi.advanceTimersByTime(200);
    expect(asks).toBe(1);
    worker.say({ op: 'keyFrame', id: 'consumer-0' });
    vi.advanceTimersByTime(999);
    expect(asks).toBe(1);
    vi.advanceTimersByTime(1);
    expect(asks).toBe(2);
    worker.say({ op: 'keyFrame', id: 'consumer-0' });
    frames.close();
    vi.advanceTimersByTime(5000);
    expect(asks).toBe(2);
  });

  it('stays under the server limit (one per 2 s, plus 4 per 10 s) with the key exchange’s own ask besides', () => {
    // A copy of KeysReadyLimit's rule: the 2 s window's point, else one of the burst's 4 per 10 s.
    let steadyAt = -Infinity;
    let burstFrom = -Infinity;
    let burstUsed = 0;
    let refused = 0;
    const server = (at: number) => {
      if (at - steadyAt >= 2000) return void (steadyAt = at);
      if (at - burstFrom >= 10_000) [burstFrom, burstUsed] = [at, 0];
      if (burstUsed < 4) burstUsed++;
      else refused++;
    };
    let now = 0;
    const timer: { due: { at: number; run: () => void } | null } = { due: null };
    const asks = new KeyFrameAsks(() => server(now), {
      now: () => now,
      setTimeout: (run, ms) => (timer.due = { at: now + ms, run }),
      clearTimeout: () => (timer.due = null),
    });
    server(0); // the key exchange's ask when the key was installed
    // Every receiver still waiting asks every 400 ms for a minute (no key frame ever comes).
    let made = 0;
    for (now = 0; now <= 60_000; now += 50) {
      const due = timer.due;
      if (due && due.at <= now) {
        timer.due = null;
        due.run();
        made++;
      }
      if (now % 400 === 0) asks.want();
    }
    expect(made).toBeGreaterThan(25);
    expect(refused).toBe(0);
  });

  it('a receiver waits for a key frame from the start and after a drop; asks at most once per 400 ms', () => {
    const wait = new KeyFrameWait();
    expect([wait.passed(false, 0), wait.passed(false, 399), wait.passed(false, 400)]).toEqual([true, false, true]);
    expect([wait.passed(true, 500), wait.passed(false, 1000)]).toEqual([false, false]);
    wait.dropped();
    expect(wait.passed(false, 1001)).toBe(true);
  });

  it('a VP8 key frame is told by its P bit', () => {
    expect([isVp8KeyFrame(Uint8Array.of(0x50)), isVp8KeyFrame(Uint8Array.of(0x51)), isVp8KeyFrame(new Uint8Array(0))]).toEqual([true, false, false]);
  });
});
