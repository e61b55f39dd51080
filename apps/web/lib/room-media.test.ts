import { ProtocolFailure, type ConsumerOffer } from '@group-room/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FrameCrypto } from './e2ee/frame-crypto';
import { CodeUnavailable } from './load-retrying';
import { RoomMedia, type MediaHost } from './room-media';
import type { SignalClient } from './signal-client';

/*
 * RoomMedia without a browser: a fake mediasoup-client Device (its transports make consumers
 * at once), a fake connection answering as the server would, and a camera that answers when
 * the test says.
 */

/** When set, newDevice fails with it (mediasoup-client's code not fetched). */
let deviceFailure: Error | undefined;
vi.mock('./media-device', () => ({
  newDevice: () => (deviceFailure ? Promise.reject(deviceFailure) : Promise.resolve(fakeDevice())),
  preloadMediaDevice: () => undefined,
}));

/** How the fake transports make a consumer (a test may hold one up or fail it). */
interface FakeConsumer {
  id: string;
  kind: 'audio' | 'video';
  closed: boolean;
  track: { id: string };
  close(): void;
}
const madeAtOnce = (id: string, kind: 'audio' | 'video'): Promise<FakeConsumer> => {
  const consumer: FakeConsumer = {
    id,
    kind,
    closed: false,
    track: { id: `track-${id}` },
    close() {
      this.closed = true;
    },
  };
  return Promise.resolve(consumer);
};
let consume = madeAtOnce;
afterEach(() => {
  consume = madeAtOnce;
  deviceFailure = undefined;
  vi.restoreAllMocks();
});

function fakeTransport(options: { id: string }) {
  return {
    id: options.id,
    closed: false,
    connectionState: 'new',
    on: () => undefined,
    close() {
      this.closed = true;
    },
    restartIce: () => Promise.resolve(),
    consume: ({ id, kind }: { id: string; kind: 'audio' | 'video' }) => consume(id, kind),
  };
}

function fakeDevice() {
  return {
    rtpCapabilities: { codecs: [] },
    load: () => Promise.resolve(),
    canProduce: () => true,
    createRecvTransport: fakeTransport,
    createSendTransport: fakeTransport,
  };
}

const offer = (consumerId: string, kind: 'audio' | 'video'): ConsumerOffer =>
  ({ consumerId, producerId: `p-${consumerId}`, peerId: 'bea', kind, source: kind === 'audio' ? 'mic' : 'camera', rtpParameters: {}, producerPaused: false }) as unknown as ConsumerOffer;

/** A connection that answers each request with `answer` (which may throw), recording its name. */
function fakeSignal(answer: (name: string, payload: unknown) => unknown) {
  const sent: string[] = [];
  const payloads: { name: string; payload: unknown }[] = [];
  let transports = 0;
  const signal = {
    seated: true,
    request: (name: string, payload: unknown) => {
      sent.push(name);
      payloads.push({ name, payload });
      try {
        if (name === 'media:join') return Promise.resolve({ routerRtpCapabilities: {}, iceServers: [] });
        if (name === 'transport:create') return Promise.resolve({ id: `t${++transports}` });
        if (name === 'transport:restartIce') return Promise.resolve({ iceParameters: {} });
        return Promise.resolve(answer(name, payload) ?? {});
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
  };
  return { signal, client: signal as unknown as SignalClient, sent, payloads };
}

function setUp({ keyed = Promise.resolve() }: { keyed?: Promise<void> } = {}) {
  let allowCamera: () => void = () => undefined;
  const camera = new Promise<void>((resolve) => {
    allowCamera = resolve;
  });
  const frames = { transportSettings: undefined, keyed, attachReceiver: () => undefined, attachSender: () => undefined } as unknown as FrameCrypto;
  const host: MediaHost = {
    isCurrent: () => true,
    openLocalMedia: () => camera,
    localStream: () => undefined,
    changed: () => undefined,
    ready: vi.fn(),
    failed: vi.fn(),
    interrupted: vi.fn(),
    lost: vi.fn(),
    frames: () => frames,
  };
  return { media: new RoomMedia(host), host, allowCamera: () => allowCamera() };
}

describe('RoomMedia', () => {
  it('repairs once ready when the connection dropped and came back while it was connecting (the listed consumers were never resumed)', async () => {
    const { media, host, allowCamera } = setUp();
    let resumeAsked: () => void = () => undefined;
    const asked = new Promise<void>((resolve) => {
      resumeAsked = resolve;
    });
    const { signal, client, sent } = fakeSignal((name) => {
      if (name === 'media:ready') return { consumers: [offer('c-audio', 'audio'), offer('c-video', 'video')] };
      if (name === 'consumers:resume') {
        // The connection drops with the request in flight: it fails, and the seat goes for a while.
        signal.seated = false;
        media.connectionLost();
        resumeAsked();
        throw new ProtocolFailure('UNAVAILABLE', 'The connection to the session was interrupted');
      }
      if (name === 'media:resync') return { consumerIds: ['c-audio', 'c-video'] };
      return undefined;
    });
    const started = media.start(client);
    await asked;
    // Let the failed request settle, then the seat comes back while the camera prompt is still open.
    await new Promise((resolve) => setTimeout(resolve, 0));
    signal.seated = true;
    await media.repair(client);
    allowCamera();
    await started;
    expect(host.failed).not.toHaveBeenCalled();
    expect(media.phase).toBe('ready');
    // The resync has the server announce again (consumer:new) what was not resumed.
    expect(sent).toContain('media:resync');
  });

  it('owes no repair to a start begun after the drop (media set up again on the resume)', async () => {
    const { media, allowCamera } = setUp();
    const { client, sent } = fakeSignal((name) => (name === 'media:ready' ? { consumers: [offer('c-audio', 'audio')] } : name === 'consumers:resume' ? { missing: [] } : undefined));
    media.connectionLost();
    const started = media.start(client);
    await media.repair(client);
    allowCamera();
    await started;
    expect(media.phase).toBe('ready');
    expect(sent).not.toContain('media:resync');
  });

  it('resumes only the listed consumers still there after the key wait', async () => {
    let keyArrives: () => void = () => undefined;
    const keyed = new Promise<void>((resolve) => {
      keyArrives = resolve;
    });
    const { media, allowCamera } = setUp({ keyed });
    allowCamera();
    const { client, payloads } = fakeSignal((name) => {
      if (name === 'media:ready') return { consumers: [offer('c-audio', 'audio'), offer('c-video', 'video')] };
      if (name === 'consumers:resume') return { missing: [] };
      return undefined;
    });
    const started = media.start(client);
    await vi.waitFor(() => expect(media.consumerPeers().size).toBe(2));
    // Its producer went while the page waited for its key.
    media.closeConsumer('c-video');
    keyArrives();
    await started;
    const batch = payloads.find((p) => p.name === 'consumers:resume');
    expect(batch?.payload).toEqual({ consumers: [{ consumerId: 'c-audio' }] });
  });

  it('resumes the listed consumers one by one when the batch is refused (not for a drop)', async () => {
    const { media, allowCamera } = setUp();
    allowCamera();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { client, payloads } = fakeSignal((name) => {
      if (name === 'media:ready') return { consumers: [offer('c-audio', 'audio'), offer('c-video', 'video')] };
      if (name === 'consumers:resume') throw new ProtocolFailure('BAD_REQUEST', 'refused');
      return undefined;
    });
    await media.start(client);
    const resumed = payloads.filter((p) => p.name === 'consumer:resume').map((p) => p.payload);
    expect(resumed).toEqual(expect.arrayContaining([{ consumerId: 'c-audio' }, { consumerId: 'c-video' }]));
    expect(resumed).toHaveLength(2);
    expect(media.phase).toBe('ready');
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('says nothing about consumers that failed once the start was let go of', async () => {
    const { media, allowCamera } = setUp();
    allowCamera();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const failures: (() => void)[] = [];
    consume = () =>
      new Promise((_, reject) => {
        failures.push(() => reject(new Error('transport closed')));
      });
    const { client } = fakeSignal((name) => (name === 'media:ready' ? { consumers: [offer('c-audio', 'audio'), offer('c-video', 'video')] } : undefined));
    const started = media.start(client);
    await vi.waitFor(() => expect(failures).toHaveLength(2));
    media.drop();
    for (const fail of failures) fail();
    await started;
    expect(warn).not.toHaveBeenCalled();
  });

  it('sets media up again, and does not fail the entry, when mediasoup-client could not be fetched', async () => {
    const { media, host, allowCamera } = setUp();
    allowCamera();
    deviceFailure = new CodeUnavailable(new Error('ChunkLoadError'));
    const { client } = fakeSignal(() => undefined);
    await media.start(client);
    expect(host.failed).not.toHaveBeenCalled();
    expect(host.interrupted).toHaveBeenCalledTimes(1);
  });
});
