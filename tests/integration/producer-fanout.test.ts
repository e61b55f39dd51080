import { createRequire } from 'node:module';
import path from 'node:path';
import { type EventName, type EventPayload } from '@group-room/shared';
import type { types } from 'mediasoup';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../apps/signal/src/logger.js';
import type { PeerMedia } from '../../apps/signal/src/media/peer-media.js';
import { RoomMedia, type RoomMediaOptions } from '../../apps/signal/src/media/room-media.js';
import { TalkTime } from '../../apps/signal/src/media/talk-time.js';
import { WorkerPool } from '../../apps/signal/src/media/worker-pool.js';
import type { MediaPolicy } from '../../apps/signal/src/room/state.js';

/*
 * Issue 16: a failure giving ONE receiver a new producer's media (its consumer cannot be made,
 * or telling it fails) is that receiver's, never the sender's: produce() and setReady()
 * resolve, the others get their consumers (announced, or listed in setReady's answer), and
 * the failure is logged (its message only).
 * Also: once the node no longer holds the room's lease (`mayAct` false), no consumer is made
 * or resumed. Real mediasoup workers throughout.
 *
 * A receiver's consumer is made to fail for real by closing its receive transport (or a
 * producer) in the worker only, through mediasoup's `channelForTesting`: the state a
 * transport is in when the worker dropped it while a request was on its way. mediasoup's JS
 * side still holds it, so the room offers it the producer and the worker refuses.
 */

interface Fbs {
  Method: Record<string, number>;
  Body: Record<string, number>;
}
interface CloseRequestTable {
  [create: string]: (builder: unknown, idOffset: number) => number;
}
const mediasoupLib = path.dirname(createRequire(import.meta.url).resolve('mediasoup'));
// mediasoup's flatbuffers messages are not exported; they are what its own close() sends.
const load = createRequire(path.join(mediasoupLib, 'index.js'));
const fbsRequest = load('./fbs/request.js') as Fbs;
const closeTransportRequest = (load('./fbs/router.js') as Record<string, CloseRequestTable>)['CloseTransportRequest']!;
const closeProducerRequest = (load('./fbs/transport.js') as Record<string, CloseRequestTable>)['CloseProducerRequest']!;

/** The part of mediasoup's Channel these requests use (the transport's `channelForTesting`, not in its public types). */
interface TestChannel {
  bufferBuilder: { createString(text: string): number };
  request(method: number, bodyType: number, bodyOffset: number, handlerId: string): Promise<unknown>;
}
const channelOf = (transport: types.Transport) => (transport as unknown as { channelForTesting: TestChannel }).channelForTesting;

/** Closes `transport` in its worker only. */
async function closeInWorkerOnly(transport: types.Transport, routerId: string): Promise<void> {
  const channel = channelOf(transport);
  const body = closeTransportRequest['createCloseTransportRequest']!(channel.bufferBuilder, channel.bufferBuilder.createString(transport.id));
  await channel.request(fbsRequest.Method['ROUTER_CLOSE_TRANSPORT']!, fbsRequest.Body['Router_CloseTransportRequest']!, body, routerId);
}

/** Closes `producer` (on `transport`) in its worker only. */
async function closeProducerInWorkerOnly(transport: types.Transport, producer: types.Producer): Promise<void> {
  const channel = channelOf(transport);
  const body = closeProducerRequest['createCloseProducerRequest']!(channel.bufferBuilder, channel.bufferBuilder.createString(producer.id));
  await channel.request(fbsRequest.Method['TRANSPORT_CLOSE_PRODUCER']!, fbsRequest.Body['Transport_CloseProducerRequest']!, body, transport.id);
}

interface Told {
  event: EventName;
  payload: unknown;
}

/** One member's media and what the server told them. */
interface Member {
  id: string;
  peer: PeerMedia;
  told: Told[];
  /** Makes the next `n` notifications throw, as a broken connection's emit might. */
  failNext: number;
}

function opus(ssrc: number): types.RtpParameters {
  return { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48_000, channels: 2 }], encodings: [{ ssrc }], rtcp: { cname: `s-${ssrc}` } };
}

function vp8(ssrc: number): types.RtpParameters {
  return { codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90_000 }], encodings: [{ ssrc }], rtcp: { cname: `s-${ssrc}` } };
}

describe('a new producer reaches every receiver it can (real mediasoup)', () => {
  let pool: WorkerPool;
  let media: RoomMedia | undefined;
  let logged: string[] = [];
  let serving = true;

  beforeAll(async () => {
    pool = await WorkerPool.create({ count: 1, logLevel: 'error', listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', basePort: 0, log: createLogger('error') });
  });
  afterAll(() => pool.close());
  afterEach(() => {
    media?.close();
    media = undefined;
    logged = [];
    serving = true;
  });

  async function room(options: RoomMediaOptions = {}): Promise<RoomMedia> {
    const log = createLogger('debug', (line) => logged.push(line));
    media = await RoomMedia.create(pool, TalkTime.from(null), () => undefined, { log, ...options });
    return media;
  }

  function member(room: RoomMedia, id: string): Member {
    const told: Told[] = [];
    const m: Member = { id, told, failNext: 0, peer: undefined as unknown as PeerMedia };
    m.peer = room.addPeer(id, <K extends EventName>(event: K, payload: EventPayload<K>) => {
      if (m.failNext > 0) {
        m.failNext--;
        throw new Error('connection gone');
      }
      told.push({ event, payload });
    });
    return m;
  }

  async function receiving(room: RoomMedia, m: Member): Promise<void> {
    await room.createTransport(m.id, 'recv');
    await room.setReady(m.id, room.router.rtpCapabilities);
  }

  async function sending(room: RoomMedia, m: Member): Promise<string> {
    return (await room.createPlainTransport(m.id, 'send')).id;
  }

  const offered = (m: Member, producerId: string) =>
    m.told.filter((t) => t.event === 'consumer:new' && (t.payload as EventPayload<'consumer:new'>).producerId === producerId);

  function everyone(ids: string[]): MediaPolicy {
    const all = new Set(ids);
    return { receive: all, send: { mic: all, camera: all, screen: all }, apart: new Map(), shares: new Set() };
  }

  it('one receiver\'s consumer failing in the worker fails neither the sender\'s produce nor the other receivers', async () => {
    const r = await room();
    const [sender, a, broken, c] = ['s', 'a', 'b', 'c'].map((id) => member(r, id)) as [Member, Member, Member, Member];
    await r.applyPolicy(everyone(['s', 'a', 'b', 'c']));
    const sendId = await sending(r, sender);
    for (const m of [a, broken, c]) await receiving(r, m);
    await closeInWorkerOnly(broken.peer.transportFor('recv')!, r.router.id);

    const producer = await r.produce('s', { transportId: sendId, kind: 'audio', source: 'mic', rtpParameters: opus(1111), paused: false });

    expect(producer.closed).toBe(false);
    expect(sender.peer.producers.has(producer.id)).toBe(true);
    expect(offered(a, producer.id)).toHaveLength(1);
    expect(offered(c, producer.id)).toHaveLength(1);
    expect(offered(broken, producer.id)).toHaveLength(0);
    expect(broken.peer.consumers.size).toBe(0);
    // The failure is logged: its message, not who it concerned.
    const warnings = logged.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry['level'] === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!['msg']).toMatch(/could not be given/);
    expect(logged.join('')).not.toMatch(/"(s|b)"/);

    // A second producer (video) goes the same way.
    const camera = await r.produce('s', { transportId: sendId, kind: 'video', source: 'camera', rtpParameters: vp8(2222), paused: false });
    expect(offered(a, camera.id)).toHaveLength(1);
    expect(offered(c, camera.id)).toHaveLength(1);
    expect(pool.loads[0]).toMatchObject({ producers: 2, consumers: 4 });
  });

  it('telling one receiver failing does not fail the sender; that receiver learns of it again on resync', async () => {
    const r = await room();
    const [sender, a, flaky] = ['s', 'a', 'f'].map((id) => member(r, id)) as [Member, Member, Member];
    await r.applyPolicy(everyone(['s', 'a', 'f']));
    const sendId = await sending(r, sender);
    for (const m of [a, flaky]) await receiving(r, m);
    flaky.failNext = 1;

    const producer = await r.produce('s', { transportId: sendId, kind: 'audio', source: 'mic', rtpParameters: opus(3333), paused: false });

    expect(offered(a, producer.id)).toHaveLength(1);
    expect(offered(flaky, producer.id)).toHaveLength(0);
    // Its consumer exists, still waiting for the client: a resume announces it again.
    expect(r.resync('f')).toHaveLength(1);
    expect(offered(flaky, producer.id)).toHaveLength(1);
  });

  it('setReady gets a late receiver what can be had: one producer failing in the worker does not fail it', async () => {
    const r = await room();
    const [s1, s2, late] = ['s1', 's2', 'late'].map((id) => member(r, id)) as [Member, Member, Member];
    await r.applyPolicy(everyone(['s1', 's2', 'late']));
    const gone = await r.produce('s1', { transportId: await sending(r, s1), kind: 'audio', source: 'mic', rtpParameters: opus(4444), paused: false });
    const kept = await r.produce('s2', { transportId: await sending(r, s2), kind: 'audio', source: 'mic', rtpParameters: opus(5555), paused: false });
    await closeProducerInWorkerOnly(s1.peer.transportFor('send')!, gone);

    await r.createTransport('late', 'recv');
    const listed = await r.setReady('late', r.router.rtpCapabilities);

    expect(listed.map((offer) => offer.producerId)).toEqual([kept.id]);
    expect(late.told).toEqual([]);
    expect(logged.filter((line) => line.includes('"warn"'))).toHaveLength(1);
  });

  it('a producer whose set-up failed is closed, not left behind', async () => {
    const r = await room();
    const sender = member(r, 's');
    await r.applyPolicy(everyone(['s']));
    const sendId = await sending(r, sender);
    // The member starts afresh while the producer is added to the audio-level observer: the
    // worker answers that request only after this check phase.
    const send: types.Transport = sender.peer.transportFor('send')!;
    send.observer.once('newproducer', () => setImmediate(() => r.removePeer('s')));
    const attempt = r.produce('s', { transportId: sendId, kind: 'audio', source: 'mic', rtpParameters: opus(6666), paused: false });
    await expect(attempt).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect(pool.loads[0]).toMatchObject({ producers: 0 });
  });

  it('without the room\'s lease no consumer is made or resumed', async () => {
    const r = await room({ mayAct: () => serving });
    const [sender, a] = ['s', 'a', 'b'].map((id) => member(r, id)) as [Member, Member, Member];
    await r.applyPolicy(everyone(['s', 'a', 'b']));
    const sendId = await sending(r, sender);
    await receiving(r, a);
    const mic = await r.produce('s', { transportId: sendId, kind: 'audio', source: 'mic', rtpParameters: opus(7777), paused: false });
    const [micConsumer] = [...a.peer.consumers.values()];
    await r.resumeConsumer('a', micConsumer!.id);
    expect(micConsumer!.paused).toBe(false);
    expect(mic.closed).toBe(false);

    serving = false;
    await r.createTransport('b', 'recv');
    await expect(r.setReady('b', r.router.rtpCapabilities)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'This server no longer serves this session: reconnecting' });
    await expect(r.resumeConsumer('a', micConsumer!.id)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    // A new producer is offered to nobody.
    const camera = await r.produce('s', { transportId: sendId, kind: 'video', source: 'camera', rtpParameters: vp8(8888), paused: false });
    expect(offered(a, camera.id)).toHaveLength(0);
    expect(a.peer.consumers.size).toBe(1);
    // What flowed stops as soon as the policy is applied again.
    await r.applyPolicy(everyone(['s', 'a', 'b']));
    expect(micConsumer!.paused).toBe(true);
  });
});
