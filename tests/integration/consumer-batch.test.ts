import type { Socket as UdpSocket } from 'node:dgram';
import type { ConsumerOffer, EventName, EventPayload } from '@group-room/shared';
import type { types } from 'mediasoup';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../apps/signal/src/logger.js';
import type { ConsumerData, PeerMedia } from '../../apps/signal/src/media/peer-media.js';
import { RoomMedia, type RoomMediaOptions } from '../../apps/signal/src/media/room-media.js';
import { TalkTime } from '../../apps/signal/src/media/talk-time.js';
import { WorkerPool } from '../../apps/signal/src/media/worker-pool.js';
import type { MediaPolicy } from '../../apps/signal/src/room/state.js';
import { bindUdp, keyRequests, PlainStream, senderReport, VIDEO_PT } from '../support/plain-rtp.js';
import { rtpPayload } from '../support/rtp-envelope.js';
import { WAIT } from '../support/signal-client.js';
import { KEY_FRAME_MIN_INTERVAL_MS } from '../support/synthetic-member.js';

/*
 * Issue 20, a newcomer's media in one exchange: `media:ready` (RoomMedia.setReady) makes a
 * consumer of everything the others already send and lists them in its answer (none is
 * announced by `consumer:new`; a producer appearing later still is); each camera starts on the
 * simulcast layer the receiver's tile needs; `consumers:resume` (resumeConsumers) resumes many
 * at once, each taking its tile's preference, never past what the policy pauses. Real mediasoup
 * workers throughout; the layers actually forwarded, and the key frame requests a layer
 * switch sends, are seen with a plain-RTP simulcast sender.
 */

interface Told {
  event: EventName;
  payload: unknown;
}

/** One member's media and what the server told them. */
interface Member {
  id: string;
  peer: PeerMedia;
  told: Told[];
}

const opus = (ssrc: number): types.RtpParameters => ({
  codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48_000, channels: 2 }],
  encodings: [{ ssrc }],
  rtcp: { cname: `s-${ssrc}` },
});

/** A VP8 camera, one encoding per SSRC given, lowest first, each twice the height of the one before (90, 180, 360 px for three). */
const camera = (ssrcs: readonly number[]): types.RtpParameters => ({
  codecs: [
    {
      mimeType: 'video/VP8',
      payloadType: VIDEO_PT,
      clockRate: 90_000,
      rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    },
  ],
  encodings: ssrcs.map((ssrc, index) => ({ ssrc, ...(ssrcs.length > 1 ? { scaleResolutionDownBy: 2 ** (ssrcs.length - 1 - index) } : {}) })),
  rtcp: { cname: `c-${ssrcs[0]}` },
});

const everyone = (ids: readonly string[]): MediaPolicy => {
  const all = new Set(ids);
  return { receive: all, send: { mic: all, camera: all, screen: all }, apart: new Map(), shares: new Set() };
};

describe('a newcomer\'s consumers: listed by media:ready, resumed together (real mediasoup)', () => {
  let pool: WorkerPool;
  let media: RoomMedia | undefined;
  let serving = true;
  const sockets: UdpSocket[] = [];
  const timers: NodeJS.Timeout[] = [];

  beforeAll(async () => {
    pool = await WorkerPool.create({ count: 1, logLevel: 'error', listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', basePort: 0, log: createLogger('error') });
  });
  afterAll(() => pool.close());
  afterEach(() => {
    for (const timer of timers.splice(0)) clearInterval(timer);
    for (const socket of sockets.splice(0)) socket.close();
    media?.close();
    media = undefined;
    serving = true;
  });

  async function room(options: RoomMediaOptions = {}): Promise<RoomMedia> {
    media = await RoomMedia.create(pool, TalkTime.from(null), () => undefined, { mayAct: () => serving, ...options });
    return media;
  }

  function member(r: RoomMedia, id: string): Member {
    const told: Told[] = [];
    const peer = r.addPeer(id, <K extends EventName>(event: K, payload: EventPayload<K>) => void told.push({ event, payload }));
    return { id, peer, told };
  }

  const announced = (m: Member) => m.told.filter((t) => t.event === 'consumer:new').map((t) => t.payload as ConsumerOffer);

  function consumerOf(m: Member, consumerId: string): types.Consumer<ConsumerData> {
    const consumer = m.peer.consumers.get(consumerId);
    if (!consumer) throw new Error('no such consumer');
    return consumer;
  }

  const offerOf = (offers: readonly ConsumerOffer[], producerId: string): ConsumerOffer => {
    const offer = offers.find((o) => o.producerId === producerId);
    if (!offer) throw new Error('not listed');
    return offer;
  };

  /** A sender's plain send transport (comedia: it learns the sender's address from its first packet). */
  const sendTransport = async (r: RoomMedia, m: Member) => r.createPlainTransport(m.id, 'send');

  /** A receive transport: WebRTC (nothing flows: the consumers are only looked at) or plain RTP to a local port. */
  async function receiver(r: RoomMedia, m: Member, plain = false): Promise<void> {
    if (!plain) {
      await r.createTransport(m.id, 'recv');
      return;
    }
    const inbound = await bindUdp();
    sockets.push(inbound);
    const { id } = await r.createPlainTransport(m.id, 'recv');
    await r.connectPlain(m.id, id, '127.0.0.1', inbound.address().port);
  }

  it('lists what the others already send, announces none of it, and announces a producer made later', async () => {
    const r = await room();
    const [s, late, t] = ['s', 'late', 't'].map((id) => member(r, id)) as [Member, Member, Member];
    await r.applyPolicy(everyone(['s', 'late', 't']));
    const sendId = (await sendTransport(r, s)).id;
    const mic = await r.produce('s', { transportId: sendId, kind: 'audio', source: 'mic', rtpParameters: opus(1111), paused: false });
    const cam = await r.produce('s', { transportId: sendId, kind: 'video', source: 'camera', rtpParameters: camera([2000, 2001, 2002]), paused: true });
    await receiver(r, late);

    const offers = await r.setReady('late', r.router.rtpCapabilities, 180);

    expect(offers.map((o) => o.producerId).sort()).toEqual([mic.id, cam.id].sort());
    expect(offerOf(offers, cam.id)).toMatchObject({ peerId: 's', kind: 'video', source: 'camera', producerPaused: true });
    expect(offerOf(offers, mic.id)).toMatchObject({ peerId: 's', kind: 'audio', source: 'mic', producerPaused: false });
    expect(offers.map((o) => o.consumerId).sort()).toEqual([...late.peer.consumers.keys()].sort());
    // What the answer carries is what consumer:new carried: the consumer's own parameters.
    expect(offerOf(offers, cam.id).rtpParameters.encodings).toEqual(consumerOf(late, offerOf(offers, cam.id).consumerId).rtpParameters.encodings);
    expect(announced(late)).toEqual([]);
    expect([...late.peer.consumers.values()].every((c) => c.paused)).toBe(true);

    // Someone sending afterwards: announced, as before.
    const later = await r.produce('t', { transportId: (await sendTransport(r, t)).id, kind: 'audio', source: 'mic', rtpParameters: opus(3333), paused: false });
    expect(announced(late).map((o) => o.producerId)).toEqual([later.id]);
  });

  it('a producer appearing while setReady runs gets one consumer, listed or announced, not both', async () => {
    const r = await room();
    const [s, late] = ['s', 'late'].map((id) => member(r, id)) as [Member, Member];
    await r.applyPolicy(everyone(['s', 'late']));
    const sendId = (await sendTransport(r, s)).id;
    await receiver(r, late);
    // The receiver becomes ready once the producer is in its sender's media but not yet offered
    // (it is being added to the audio-level observer: the worker answers after this check phase).
    let ready: Promise<ConsumerOffer[]> | undefined;
    const send: types.Transport = s.peer.transportFor('send')!;
    send.observer.once('newproducer', () => setImmediate(() => (ready = r.setReady('late', r.router.rtpCapabilities))));

    const mic = await r.produce('s', { transportId: sendId, kind: 'audio', source: 'mic', rtpParameters: opus(4444), paused: false });
    const listed = await ready!;

    const offers = [...listed, ...announced(late)].filter((o) => o.producerId === mic.id);
    expect(offers).toHaveLength(1);
    expect([...late.peer.consumers.values()].map((c) => c.producerId)).toEqual([mic.id]);
    expect(pool.loads[0]).toMatchObject({ consumers: 1 });
  });

  it('each simulcast camera starts on the layer that covers the receiver\'s tile; without a height, as before', async () => {
    const r = await room();
    const s = member(r, 's');
    const single = member(r, 'single');
    // The receivers' camera tiles, and the layer of 90, 180 and 360 px each needs.
    const cases = [
      { tileHeight: 90, layer: 0 },
      { tileHeight: 60, layer: 0 },
      { tileHeight: 135, layer: 1 },
      { tileHeight: 180, layer: 1 },
      { tileHeight: 338, layer: 2 },
      { tileHeight: 4320, layer: 2 },
      { tileHeight: 0, layer: 0 },
      { tileHeight: undefined, layer: 2 },
    ];
    const receivers = cases.map((c, i) => ({ ...c, m: member(r, `r${i}`) }));
    await r.applyPolicy(everyone(['s', 'single', ...receivers.map(({ m }) => m.id)]));
    const cam = await r.produce('s', { transportId: (await sendTransport(r, s)).id, kind: 'video', source: 'camera', rtpParameters: camera([5000, 5001, 5002]), paused: false });
    const one = await r.produce('single', { transportId: (await sendTransport(r, single)).id, kind: 'video', source: 'camera', rtpParameters: camera([6000]), paused: false });

    for (const { m, tileHeight, layer } of receivers) {
      await receiver(r, m);
      const offers = await r.setReady(m.id, r.router.rtpCapabilities, tileHeight);
      const video = consumerOf(m, offerOf(offers, cam.id).consumerId);
      expect(video.type).toBe('simulcast');
      expect(video.preferredLayers?.spatialLayer, `tile ${tileHeight}`).toBe(layer);
      expect(video.appData.tileHeight).toBe(tileHeight);
      // A camera of one stream has no layer to choose.
      const plain = consumerOf(m, offerOf(offers, one.id).consumerId);
      expect(plain.type).toBe('simple');
      expect(plain.preferredLayers).toBeUndefined();
    }

    // A camera started after a receiver was ready starts on that receiver's layer too.
    const t = member(r, 't');
    await r.applyPolicy(everyone(['s', 'single', 't', ...receivers.map(({ m }) => m.id)]));
    const later = await r.produce('t', { transportId: (await sendTransport(r, t)).id, kind: 'video', source: 'camera', rtpParameters: camera([7000, 7001, 7002]), paused: false });
    for (const { m, layer } of receivers) {
      const offer = announced(m).find((o) => o.producerId === later.id)!;
      expect(consumerOf(m, offer.consumerId).preferredLayers?.spatialLayer).toBe(layer);
    }
  });

  it('consumers:resume resumes them all, takes each video\'s preference, and lists what is not the member\'s', async () => {
    const r = await room();
    const [s, t, a, b] = ['s', 't', 'a', 'b'].map((id) => member(r, id)) as [Member, Member, Member, Member];
    await r.applyPolicy(everyone(['s', 't', 'a', 'b']));
    const sSend = (await sendTransport(r, s)).id;
    const sMic = await r.produce('s', { transportId: sSend, kind: 'audio', source: 'mic', rtpParameters: opus(1), paused: false });
    const sCam = await r.produce('s', { transportId: sSend, kind: 'video', source: 'camera', rtpParameters: camera([10, 11, 12]), paused: false });
    const tSend = (await sendTransport(r, t)).id;
    const tMic = await r.produce('t', { transportId: tSend, kind: 'audio', source: 'mic', rtpParameters: opus(2), paused: false });
    const tCam = await r.produce('t', { transportId: tSend, kind: 'video', source: 'camera', rtpParameters: camera([20]), paused: false });
    await receiver(r, a);
    await receiver(r, b);
    const aOffers = await r.setReady('a', r.router.rtpCapabilities, 360);
    const bOffers = await r.setReady('b', r.router.rtpCapabilities, 360);
    const [aSeesS, aHearsS, aSeesT, aHearsT] = [sCam, sMic, tCam, tMic].map((p) => offerOf(aOffers, p.id).consumerId) as [string, string, string, string];
    const bSeesS = offerOf(bOffers, sCam.id).consumerId;

    const missing = await r.resumeConsumers('a', [
      { consumerId: aSeesS, preference: { visible: true, height: 360 } },
      // Audio follows no tile: its preference is ignored.
      { consumerId: aHearsS, preference: { visible: false, height: 0 } },
      { consumerId: aSeesT, preference: { visible: false, height: 0 } },
      { consumerId: aHearsT },
      { consumerId: 'no-such-consumer' },
      { consumerId: bSeesS },
      // Said again: done once, with the last preference given.
      { consumerId: aSeesS, preference: { visible: true, height: 90 } },
      { consumerId: aSeesS },
    ]);

    expect(missing.sort()).toEqual([bSeesS, 'no-such-consumer'].sort());
    expect(consumerOf(a, aSeesS).paused).toBe(false);
    expect(consumerOf(a, aSeesS).preferredLayers?.spatialLayer).toBe(0);
    expect(consumerOf(a, aHearsS).paused).toBe(false);
    expect(consumerOf(a, aHearsT).paused).toBe(false);
    // An off-screen tile: ready, but paused until shown.
    expect(consumerOf(a, aSeesT).appData.clientReady).toBe(true);
    expect(consumerOf(a, aSeesT).paused).toBe(true);
    await r.preferConsumer('a', aSeesT, { visible: true, height: 180 });
    expect(consumerOf(a, aSeesT).paused).toBe(false);
    // Someone else's consumer is not touched.
    expect(consumerOf(b, bSeesS).paused).toBe(true);
    expect(consumerOf(b, bSeesS).appData.clientReady).toBe(false);

    // A consumer closed with its producer is missing; the others still resume.
    r.closeProducer('t', tCam.id);
    await vi.waitFor(() => expect(b.peer.consumers.has(offerOf(bOffers, tCam.id).consumerId)).toBe(false), WAIT);
    expect(await r.resumeConsumers('b', bOffers.map(({ consumerId }) => ({ consumerId })))).toEqual([offerOf(bOffers, tCam.id).consumerId]);
    expect([...b.peer.consumers.values()].every((c) => !c.paused)).toBe(true);
  });

  it('consumers:resume never resumes what the policy pauses: audio only, no right to receive, apart; nor without the lease', async () => {
    const r = await room();
    const [s, audioOnly, reading, aside] = ['s', 'audio-only', 'reading', 'aside'].map((id) => member(r, id)) as [Member, Member, Member, Member];
    await r.applyPolicy({ ...everyone(['s', 'audio-only', 'aside']), apart: new Map([['aside', 'corner']]) });
    const sSend = (await sendTransport(r, s)).id;
    const mic = await r.produce('s', { transportId: sSend, kind: 'audio', source: 'mic', rtpParameters: opus(1), paused: false });
    const cam = await r.produce('s', { transportId: sSend, kind: 'video', source: 'camera', rtpParameters: camera([10, 11, 12]), paused: false });
    const all = async (m: Member) => {
      await receiver(r, m);
      const offers = await r.setReady(m.id, r.router.rtpCapabilities, 180);
      expect(await r.resumeConsumers(m.id, offers.map(({ consumerId, kind }) => ({ consumerId, ...(kind === 'video' ? { preference: { visible: true, height: 180 } } : {}) })))).toEqual([]);
      return { video: consumerOf(m, offerOf(offers, cam.id).consumerId), audio: consumerOf(m, offerOf(offers, mic.id).consumerId) };
    };

    await r.receiveVideo('audio-only', false);
    const audioOnlyGets = await all(audioOnly);
    expect(audioOnlyGets.video.paused).toBe(true);
    expect(audioOnlyGets.audio.paused).toBe(false);

    const readingGets = await all(reading);
    expect(readingGets.video.paused).toBe(true);
    expect(readingGets.audio.paused).toBe(true);

    const asideGets = await all(aside);
    expect(asideGets.video.paused).toBe(true);
    expect(asideGets.audio.paused).toBe(true);

    // Once allowed, what was resumed flows.
    await r.applyPolicy(everyone(['s', 'audio-only', 'reading', 'aside']));
    expect(readingGets.video.paused).toBe(false);
    expect(asideGets.audio.paused).toBe(false);
    expect(audioOnlyGets.video.paused).toBe(true);

    serving = false;
    await expect(r.resumeConsumers('reading', [{ consumerId: readingGets.video.id }])).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('a consumer already resumed is skipped by a later batch: no worker request, its preference left to consumer:prefer', async () => {
    const r = await room();
    const [s, a] = ['s', 'a'].map((id) => member(r, id)) as [Member, Member];
    await r.applyPolicy(everyone(['s', 'a']));
    const sSend = (await sendTransport(r, s)).id;
    const mic = await r.produce('s', { transportId: sSend, kind: 'audio', source: 'mic', rtpParameters: opus(1), paused: false });
    const cam = await r.produce('s', { transportId: sSend, kind: 'video', source: 'camera', rtpParameters: camera([10, 11, 12]), paused: false });
    await receiver(r, a);
    const offers = await r.setReady('a', r.router.rtpCapabilities, 360);
    const video = consumerOf(a, offerOf(offers, cam.id).consumerId);
    const audio = consumerOf(a, offerOf(offers, mic.id).consumerId);
    expect(await r.resumeConsumers('a', [{ consumerId: video.id, preference: { visible: true, height: 360 } }, { consumerId: audio.id }])).toEqual([]);
    expect([video.paused, audio.paused, video.preferredLayers?.spatialLayer]).toEqual([false, false, 2]);

    // Every request the worker would be asked, on both consumers, counted from here on.
    const calls = [video, audio].flatMap((c) => (['setPreferredLayers', 'pause', 'resume', 'requestKeyFrame'] as const).map((method) => vi.spyOn(c, method)));
    // A member sending the same batches again and again, each asking otherwise.
    for (const preference of [{ visible: false, height: 0 }, { visible: true, height: 90 }, { visible: false, height: 0 }, { visible: true, height: 180 }]) {
      expect(await r.resumeConsumers('a', [{ consumerId: video.id, preference }, { consumerId: audio.id, preference }])).toEqual([]);
    }
    expect(calls.reduce((n, spy) => n + spy.mock.calls.length, 0)).toBe(0);
    expect([video.paused, audio.paused, video.preferredLayers?.spatialLayer]).toEqual([false, false, 2]);
    expect(video.appData).toMatchObject({ clientReady: true, visible: true, tileHeight: 360 });
    for (const spy of calls) spy.mockRestore();

    // The tile's changes go through consumer:prefer, as before.
    await r.preferConsumer('a', video.id, { visible: true, height: 90 });
    expect(video.preferredLayers?.spatialLayer).toBe(0);
  });

  it('a batch has at most 16 consumers in the worker at once, and still resumes them all', async () => {
    const r = await room();
    const senders = Array.from({ length: 10 }, (_, i) => member(r, `s${i}`));
    const a = member(r, 'a');
    await r.applyPolicy(everyone(['a', ...senders.map((m) => m.id)]));
    for (const [i, m] of senders.entries()) {
      const send = (await sendTransport(r, m)).id;
      await r.produce(m.id, { transportId: send, kind: 'audio', source: 'mic', rtpParameters: opus(100 + i), paused: false });
      await r.produce(m.id, { transportId: send, kind: 'video', source: 'camera', rtpParameters: camera([200 + 3 * i, 201 + 3 * i, 202 + 3 * i]), paused: false });
    }
    await receiver(r, a);
    const offers = await r.setReady('a', r.router.rtpCapabilities, 360);
    expect(offers).toHaveLength(20);
    // Each consumer's worker requests, watched: how many consumers have one outstanding at once.
    const busy = new Map<string, number>();
    let most = 0;
    for (const consumer of a.peer.consumers.values()) {
      for (const method of ['setPreferredLayers', 'resume'] as const) {
        const original = consumer[method].bind(consumer) as (...args: unknown[]) => Promise<void>;
        vi.spyOn(consumer, method).mockImplementation(async (...args: unknown[]) => {
          busy.set(consumer.id, (busy.get(consumer.id) ?? 0) + 1);
          most = Math.max(most, [...busy.values()].filter((n) => n > 0).length);
          try {
            await original(...args);
          } finally {
            busy.set(consumer.id, busy.get(consumer.id)! - 1);
          }
        });
      }
    }

    const missing = await r.resumeConsumers('a', offers.map(({ consumerId, kind }) => ({ consumerId, ...(kind === 'video' ? { preference: { visible: true, height: 90 } } : {}) })));

    expect(missing).toEqual([]);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(16);
    expect([...a.peer.consumers.values()].filter((c) => c.paused)).toEqual([]);
    expect([...a.peer.consumers.values()].filter((c) => c.kind === 'video').map((c) => c.preferredLayers?.spatialLayer)).toEqual(Array(10).fill(0));
  });

  it('a consumer the worker fails to resume is listed missing, logged without ids, and the others still resume', async () => {
    const warned: { msg: string; fields: unknown }[] = [];
    const log = { ...createLogger('error'), warn: (msg: string, fields?: unknown) => void warned.push({ msg, fields }) };
    const r = await room({ log });
    const [s, a] = ['s', 'a'].map((id) => member(r, id)) as [Member, Member];
    await r.applyPolicy(everyone(['s', 'a']));
    const sSend = (await sendTransport(r, s)).id;
    const mic = await r.produce('s', { transportId: sSend, kind: 'audio', source: 'mic', rtpParameters: opus(1), paused: false });
    const cam = await r.produce('s', { transportId: sSend, kind: 'video', source: 'camera', rtpParameters: camera([10, 11, 12]), paused: false });
    await receiver(r, a);
    const offers = await r.setReady('a', r.router.rtpCapabilities, 360);
    const video = consumerOf(a, offerOf(offers, cam.id).consumerId);
    const audio = consumerOf(a, offerOf(offers, mic.id).consumerId);
    // The worker refuses this one resume (the consumer stays open).
    vi.spyOn(video, 'resume').mockRejectedValueOnce(new Error('the worker refused'));

    expect(await r.resumeConsumers('a', [{ consumerId: video.id }, { consumerId: audio.id }])).toEqual([video.id]);

    expect(audio.paused).toBe(false);
    expect(video.closed).toBe(false);
    expect(warned).toHaveLength(1);
    expect(JSON.stringify(warned)).toContain('the worker refused');
    for (const id of [video.id, audio.id, 'a', 's']) expect(JSON.stringify(warned)).not.toContain(`"${id}"`);
    // Not set up as far as the server knows: the client's repair (media:resync) announces it again.
    expect(video.appData.clientReady).toBe(false);
    expect(r.resync('a')).toContain(video.id);
    expect(announced(a).map((o) => o.consumerId)).toEqual([video.id]);
  });

  it('a producer closing while its consumer is being made: no consumer is kept, listed, announced or told closed', async () => {
    const r = await room();
    const [s, late, other] = ['s', 'late', 'other'].map((id) => member(r, id)) as [Member, Member, Member];
    await r.applyPolicy(everyone(['s', 'late', 'other']));
    const sSend = (await sendTransport(r, s)).id;
    const mic = await r.produce('s', { transportId: sSend, kind: 'audio', source: 'mic', rtpParameters: opus(1), paused: false });
    await receiver(r, late);

    // The consume request is sent before setReady first awaits; the close follows it at once.
    const ready = r.setReady('late', r.router.rtpCapabilities);
    r.closeProducer('s', mic.id);

    expect(await ready).toEqual([]);
    expect([...late.peer.consumers.keys()]).toEqual([]);
    expect(late.peer.consuming.size).toBe(0);
    expect(late.told).toEqual([]);
    await vi.waitFor(async () => expect((await r.router.dump()).mapProducerIdConsumerIds).toEqual([]), WAIT);

    // The same for a producer announced to those already receiving.
    await receiver(r, other);
    expect(await r.setReady('other', r.router.rtpCapabilities)).toEqual([]);
    // Made, then closed once offerToOthers has sent its consume request (after this turn's microtasks).
    const send: types.Transport = s.peer.transportFor('send')!;
    send.observer.once('newproducer', (producer) => setImmediate(() => producer.close()));
    await r.produce('s', { transportId: sSend, kind: 'video', source: 'camera', rtpParameters: camera([20]), paused: false });
    await vi.waitFor(async () => expect((await r.router.dump()).mapProducerIdConsumerIds).toEqual([]), WAIT);
    expect([...other.peer.consumers.keys()]).toEqual([]);
    expect(other.told.filter((t) => t.event === 'consumer:new' || t.event === 'consumer:closed')).toEqual([]);
  });

  /**
   * A simulcast camera of three layers (90, 180, 360 px) over plain RTP: a VP8-shaped stream
   * per layer, a frame every 20 ms, a key frame only first and when asked for (a PLI or FIR
   * naming its SSRC), counted per layer. Each stream also says in RTCP sender reports which
   * wall-clock time its RTP timestamps stand for, as a browser does: mediasoup switches a
   * consumer to another layer only once it can line that layer's timestamps up with the first.
   */
  async function simulcastSender(r: RoomMedia, m: Member) {
    const layers = [0, 1, 2].map(() => new PlainStream('camera', Number.POSITIVE_INFINITY));
    const asked = [0, 0, 0];
    /** Per layer: when each key frame request arrived (performance.now). */
    const askedAt: number[][] = [[], [], []];
    const out = await bindUdp();
    sockets.push(out);
    out.on('message', (packet) => {
      for (const ssrc of keyRequests(packet)) {
        const index = layers.findIndex((layer) => layer.ssrc === ssrc);
        if (index < 0) continue;
        asked[index]!++;
        askedAt[index]!.push(performance.now());
        layers[index]!.wantKey();
      }
    });
    const send = await sendTransport(r, m);
    const producer = await r.produce(m.id, { transportId: send.id, kind: 'video', source: 'camera', rtpParameters: camera(layers.map((l) => l.ssrc)), paused: false });
    let frames = 0;
    timers.push(setInterval(() => {
      frames++;
      for (const layer of layers) {
        const packets = layer.next();
        for (const packet of packets) out.send(packet, send.port, send.ip);
        if (frames % 5 === 0) out.send(senderReport(layer.ssrc, packets.at(-1)!.readUInt32BE(4)), send.port, send.ip);
      }
    }, 20));
    return { producer, asked, askedAt };
  }

  it('the layer forwarded first is the tile\'s, and a switch asks the sender for a key frame of the new layer (mediasoup does)', async () => {
    const r = await room();
    const [s, small, middle, unknown] = ['s', 'small', 'middle', 'unknown'].map((id) => member(r, id)) as [Member, Member, Member, Member];
    await r.applyPolicy(everyone(['s', 'small', 'middle', 'unknown']));
    const { producer, asked } = await simulcastSender(r, s);
    // Every layer arrives (each stream's first frame is a key frame).
    await vi.waitFor(async () => expect((await producer.getStats()).filter((stat) => stat.packetCount > 0)).toHaveLength(3), WAIT);

    const watched: { m: Member; tileHeight: number | undefined; layer: number; consumer?: types.Consumer<ConsumerData> }[] = [
      { m: small, tileHeight: 90, layer: 0 },
      { m: middle, tileHeight: 180, layer: 1 },
      { m: unknown, tileHeight: undefined, layer: 2 },
    ];
    for (const w of watched) {
      await receiver(r, w.m, true);
      const offers = await r.setReady(w.m.id, r.router.rtpCapabilities, w.tileHeight);
      expect(await r.resumeConsumers(w.m.id, offers.map(({ consumerId }) => ({ consumerId })))).toEqual([]);
      w.consumer = consumerOf(w.m, offerOf(offers, producer.id).consumerId);
    }
    for (const w of watched) await vi.waitFor(() => expect(w.consumer!.currentLayers?.spatialLayer).toBe(w.layer), WAIT);
    // The small tile's layer came from its own key frame; the middle's too.
    expect(asked[0]).toBeGreaterThan(0);
    expect(asked[1]).toBeGreaterThan(0);

    // The small tile grows: the top layer is wanted now, and its key frame is asked for (the
    // sender sends one only when asked, so reaching the layer shows the request was made).
    const before = asked[2]!;
    await r.preferConsumer('small', watched[0]!.consumer!.id, { visible: true, height: 360 });
    await vi.waitFor(() => expect(asked[2]).toBeGreaterThan(before), WAIT);
    await vi.waitFor(() => expect(watched[0]!.consumer!.currentLayers?.spatialLayer).toBe(2), WAIT);

    // And down again: layer 0's key frame is asked for and forwarded.
    const downBefore = asked[0]!;
    await r.preferConsumer('small', watched[0]!.consumer!.id, { visible: true, height: 90 });
    await vi.waitFor(() => expect(asked[0]).toBeGreaterThan(downBefore), WAIT);
    await vi.waitFor(() => expect(watched[0]!.consumer!.currentLayers?.spatialLayer).toBe(0), WAIT);
  });

  it('a second key frame request for a layer reaches the sender only once its encoder would answer it (300 ms after the first)', async () => {
    // A browser's encoder ignores a request within 300 ms of the last it answered (libwebrtc's
    // EncoderRtcpFeedback); mediasoup then waits a second before asking again. So when a
    // newcomer's tiles ask for the very layer an existing member just switched to, the
    // newcomer's request must wait until it will be answered, not be sent and ignored.
    const r = await room();
    const [s, first, second] = ['s', 'first', 'second'].map((id) => member(r, id)) as [Member, Member, Member];
    await r.applyPolicy(everyone(['s', 'first', 'second']));
    const { producer, askedAt } = await simulcastSender(r, s);
    await vi.waitFor(async () => expect((await producer.getStats()).filter((stat) => stat.packetCount > 0)).toHaveLength(3), WAIT);

    const start = async (m: Member) => {
      await receiver(r, m, true);
      const offers = await r.setReady(m.id, r.router.rtpCapabilities, 180);
      expect(await r.resumeConsumers(m.id, offers.map(({ consumerId }) => ({ consumerId })))).toEqual([]);
      return consumerOf(m, offerOf(offers, producer.id).consumerId);
    };
    const a = await start(first);
    await vi.waitFor(() => expect(a.currentLayers?.spatialLayer).toBe(1), WAIT);
    const b = await start(second);
    await vi.waitFor(() => expect(b.currentLayers?.spatialLayer).toBe(1), WAIT);

    const times = askedAt[1]!;
    expect(times.length).toBeGreaterThanOrEqual(2);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(KEY_FRAME_MIN_INTERVAL_MS);
  });

  it('a load test\'s receive transport with SRTP gets what a plain one gets, encrypted (headers clear, payloads not); a send transport cannot ask for it', async () => {
    const r = await room();
    const [s, clear, sealed] = ['s', 'clear', 'sealed'].map((id) => member(r, id)) as [Member, Member, Member];
    await r.applyPolicy(everyone(['s', 'clear', 'sealed']));
    await expect(r.createPlainTransport('s', 'send', true)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const stream = new PlainStream('camera');
    const send = await sendTransport(r, s);
    await r.produce('s', { transportId: send.id, kind: 'video', source: 'camera', rtpParameters: stream.rtpParameters(), paused: false });

    const got = new Map<Member, Buffer[]>([[clear, []], [sealed, []]]);
    for (const m of [clear, sealed]) {
      const inbound = await bindUdp();
      sockets.push(inbound);
      inbound.on('message', (packet: Buffer) => {
        if ((packet[1]! & 0x7f) === VIDEO_PT) got.get(m)!.push(packet);
      });
      const { id } = await r.createPlainTransport(m.id, 'recv', m === sealed);
      await r.connectPlain(m.id, id, '127.0.0.1', inbound.address().port);
      const offers = await r.setReady(m.id, r.router.rtpCapabilities);
      expect(await r.resumeConsumers(m.id, offers.map(({ consumerId }) => ({ consumerId })))).toEqual([]);
    }
    const out = await bindUdp();
    sockets.push(out);
    timers.push(setInterval(() => {
      for (const packet of stream.next()) out.send(packet, send.port, send.ip);
    }, 20));
    await vi.waitFor(() => expect(Math.min(got.get(clear)!.length, got.get(sealed)!.length)).toBeGreaterThan(20), WAIT);

    // The RTP header stays readable (version 2, the payload type); AEAD_AES_256_GCM adds a 16-byte tag.
    const payloads = (m: Member, tag: number) =>
      got.get(m)!.map((p) => {
        const payload = rtpPayload(p);
        if (!payload) throw new Error('not an RTP packet');
        return payload.subarray(0, payload.length - tag).toString('hex');
      });
    for (const packet of got.get(sealed)!) expect(packet[0]! >> 6).toBe(2);
    const clearPayloads = new Set(payloads(clear, 0));
    const sealedPayloads = payloads(sealed, 16);
    expect(sealedPayloads.filter((p) => clearPayloads.has(p))).toEqual([]);
    const lengths = new Set([...clearPayloads].map((p) => p.length));
    expect(sealedPayloads.filter((p) => lengths.has(p.length)).length).toBeGreaterThan(0);
  });
});
