import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import {
  acknowledge,
  admittedMember,
  command,
  connect,
  enter,
  eventsOf,
  expectError,
  mediaJoin,
  ok,
  openRoom,
  plainOpus,
  rawRequest,
  receive,
  request,
  useServer,
  viewWhere,
  WAIT,
  waitForEvent,
  waitForOffer,
  watchMedia,
  type Person,
} from '../support/signal-client.js';

/*
 * `consumer:prefer`: a receiver tells the server how it shows a video (tile on screen or not,
 * its height). Through a real signal server and mediasoup worker: the server's consumers are
 * read from mediasoup itself (paused, preferred simulcast layer). No media flows here; the
 * browser test (tile-video) shows the bytes and resolutions that follow.
 */

const vp8 = (encodings: Record<string, unknown>[]) => ({
  mid: '1',
  codecs: [
    {
      mimeType: 'video/VP8',
      payloadType: 96,
      clockRate: 90_000,
      rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'transport-cc' }],
    },
  ],
  headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4 }],
  encodings,
  rtcp: { cname: 'camera', reducedSize: true },
});

/** A simulcast camera of three layers, a quarter, half and full size (the web client sends the last two). */
const simulcastCamera = (ssrc: number) =>
  vp8([
    { ssrc, scaleResolutionDownBy: 4, maxBitrate: 100_000 },
    { ssrc: ssrc + 1, scaleResolutionDownBy: 2, maxBitrate: 250_000 },
    { ssrc: ssrc + 2, scaleResolutionDownBy: 1, maxBitrate: 600_000 },
  ]);

async function sendCamera(person: Person, transportId: string, rtpParameters: ReturnType<typeof vp8>): Promise<string> {
  const { producerId } = await ok(person.socket, 'media:produce', { transportId, kind: 'video', source: 'camera', rtpParameters });
  return producerId;
}

describe('consumer:prefer (tile-sized video)', () => {
  const t = useServer();

  /**
   * Ada (facilitator) and Bo (member) in one room: Bo sends a simulcast camera and a
   * microphone, Ada a single-stream camera; each receives the other, consumers resumed.
   */
  async function twoWithCameras() {
    const room = await openRoom(t.server, 'Ada');
    const ada = room.facilitator;
    const bo = await admittedMember(t.server, room, ada, 'Bo');
    const capabilities = await mediaJoin(ada);
    await mediaJoin(bo);
    const media = watchMedia(t.server, room.roomId);
    const boSend = await ok(bo.socket, 'transport:create', { direction: 'send' });
    const { producerId: boMic } = await ok(bo.socket, 'media:produce', { transportId: boSend.id, kind: 'audio', source: 'mic', rtpParameters: plainOpus(1000) });
    const boCamera = await sendCamera(bo, boSend.id, simulcastCamera(2000));
    const adaSend = await ok(ada.socket, 'transport:create', { direction: 'send' });
    const adaCamera = await sendCamera(ada, adaSend.id, vp8([{ ssrc: 3000 }]));
    await receive(ada, capabilities);
    await receive(bo, capabilities);
    const adaSeesBo = await waitForOffer(ada.socket, (e) => e.producerId === boCamera);
    const adaHearsBo = await waitForOffer(ada.socket, (e) => e.producerId === boMic);
    const boSeesAda = await waitForOffer(bo.socket, (e) => e.producerId === adaCamera);
    for (const [person, consumerId] of [
      [ada, adaSeesBo.consumerId],
      [ada, adaHearsBo.consumerId],
      [bo, boSeesAda.consumerId],
    ] as const) {
      await ok(person.socket, 'consumer:resume', { consumerId });
    }
    const consumer = (id: string) => {
      const found = media.consumers.get(id);
      if (!found) throw new Error('no such consumer on the server');
      return found;
    };
    return { room, ada, bo, media, boCamera, adaCamera, adaSeesBo: adaSeesBo.consumerId, adaHearsBo: adaHearsBo.consumerId, boSeesAda: boSeesAda.consumerId, consumer };
  }

  it('only the consumer\'s owner may set it; bad input is BAD_REQUEST and changes nothing', async () => {
    const { room, ada, bo, adaSeesBo, adaHearsBo, consumer } = await twoWithCameras();

    // Someone else's consumer is not theirs to know of: NOT_FOUND, as for consumer:resume.
    expectError(await request(bo.socket, 'consumer:prefer', { consumerId: adaSeesBo, visible: false, height: 0 }), 'NOT_FOUND');
    expectError(await request(ada.socket, 'consumer:prefer', { consumerId: randomUUID(), visible: false, height: 0 }), 'NOT_FOUND');
    expect(consumer(adaSeesBo).paused).toBe(false);

    // A tile shows video; the sound goes on whatever the tile does.
    expectError(await request(ada.socket, 'consumer:prefer', { consumerId: adaHearsBo, visible: false, height: 0 }), 'BAD_REQUEST');
    expect(consumer(adaHearsBo).paused).toBe(false);

    for (const bad of [
      { consumerId: adaSeesBo, visible: false, height: -1 },
      { consumerId: adaSeesBo, visible: false, height: 4321 },
      { consumerId: adaSeesBo, visible: false, height: 100.5 },
      { consumerId: adaSeesBo, visible: false, height: '100' },
      { consumerId: adaSeesBo, visible: 'no', height: 100 },
      { consumerId: adaSeesBo, visible: false },
      { consumerId: adaSeesBo, visible: false, height: 100, all: true },
      { consumerId: '', visible: false, height: 100 },
      { consumerId: 'c'.repeat(65), visible: false, height: 100 },
      null,
      [adaSeesBo, false, 100],
    ]) {
      expectError(await rawRequest(ada.socket, 'consumer:prefer', bad), 'BAD_REQUEST');
    }
    expect(consumer(adaSeesBo).paused).toBe(false);
    expect(consumer(adaSeesBo).preferredLayers?.spatialLayer).toBe(2);

    // Before entering, and before media: nothing to prefer yet.
    const stranger = await connect(t.server);
    expectError(await request(stranger, 'consumer:prefer', { consumerId: adaSeesBo, visible: false, height: 0 }), 'INVALID_STATE');
    const cy = await enter(t.server, room.roomId, room.inviteToken, 'Cy');
    expectError(await request(cy.socket, 'consumer:prefer', { consumerId: adaSeesBo, visible: false, height: 0 }), 'INVALID_STATE');
  });

  it('a hidden tile pauses its video on the server; shown again, it resumes', async () => {
    const { ada, adaSeesBo, adaHearsBo, consumer } = await twoWithCameras();
    expect(consumer(adaSeesBo).paused).toBe(false);

    await ok(ada.socket, 'consumer:prefer', { consumerId: adaSeesBo, visible: false, height: 0 });
    expect(consumer(adaSeesBo).paused).toBe(true);
    expect(consumer(adaHearsBo).paused).toBe(false); // the sound is not the tile's

    // A resume from the client (e.g. announced again after a reconnection) does not undo it.
    await ok(ada.socket, 'consumer:resume', { consumerId: adaSeesBo });
    expect(consumer(adaSeesBo).paused).toBe(true);

    await ok(ada.socket, 'consumer:prefer', { consumerId: adaSeesBo, visible: true, height: 180 });
    expect(consumer(adaSeesBo).paused).toBe(false);

    // Hidden and shown in quick succession: the last word wins.
    await Promise.all([
      ok(ada.socket, 'consumer:prefer', { consumerId: adaSeesBo, visible: false, height: 180 }),
      ok(ada.socket, 'consumer:prefer', { consumerId: adaSeesBo, visible: true, height: 180 }),
      ok(ada.socket, 'consumer:prefer', { consumerId: adaSeesBo, visible: false, height: 180 }),
    ]);
    expect(consumer(adaSeesBo).paused).toBe(true);
  });

  it('a simulcast video is sent in the smallest layer that covers the tile; a single stream is left as it is', async () => {
    const { ada, bo, adaSeesBo, boSeesAda, consumer } = await twoWithCameras();
    const video = consumer(adaSeesBo);
    expect(video.type).toBe('simulcast');
    expect(video.rtpParameters.encodings?.[0]?.scalabilityMode).toMatch(/^L3T/);
    // Layers are 90, 180 and 360 px high (a 640×360 capture at 1/4, 1/2 and full size).
    const layerFor = async (height: number) => {
      await ok(ada.socket, 'consumer:prefer', { consumerId: adaSeesBo, visible: true, height });
      return video.preferredLayers?.spatialLayer;
    };
    expect(await layerFor(60)).toBe(0);
    expect(await layerFor(90)).toBe(0);
    expect(await layerFor(135)).toBe(1);
    expect(await layerFor(180)).toBe(1);
    expect(await layerFor(338)).toBe(2);
    expect(await layerFor(4320)).toBe(2);
    expect(await layerFor(0)).toBe(0);
    expect(video.paused).toBe(false);

    // Many changes at once (a window being resized): the last one's layer stays.
    await Promise.all([400, 60, 150, 300, 80].map((height) => ok(ada.socket, 'consumer:prefer', { consumerId: adaSeesBo, visible: true, height })));
    expect(video.preferredLayers?.spatialLayer).toBe(0);

    // Hidden, the layer is kept for when it is shown again.
    await ok(ada.socket, 'consumer:prefer', { consumerId: adaSeesBo, visible: false, height: 0 });
    expect(video.preferredLayers?.spatialLayer).toBe(0);

    // Ada's camera is one stream: the preference pauses and resumes it, and chooses no layer.
    const single = consumer(boSeesAda);
    expect(single.type).toBe('simple');
    await ok(bo.socket, 'consumer:prefer', { consumerId: boSeesAda, visible: true, height: 90 });
    expect(single.preferredLayers).toBeUndefined();
    await ok(bo.socket, 'consumer:prefer', { consumerId: boSeesAda, visible: false, height: 90 });
    expect(single.paused).toBe(true);
  });

  it('showing a tile never resumes what the room\'s rules pause: a stopped camera, a member re-reading the agreement', async () => {
    const { ada, bo, media, boCamera, adaSeesBo, boSeesAda, consumer } = await twoWithCameras();

    // The facilitator stops Bo's camera: the producer is paused, whatever Ada's tile says.
    await command(ada, { type: 'member.mute', memberId: bo.id, source: 'camera' });
    expect(media.producers.get(boCamera)?.paused).toBe(true);
    await ok(ada.socket, 'consumer:prefer', { consumerId: adaSeesBo, visible: false, height: 0 });
    await ok(ada.socket, 'consumer:prefer', { consumerId: adaSeesBo, visible: true, height: 360 });
    expect(media.producers.get(boCamera)?.paused).toBe(true);
    await vi.waitFor(() => expect(consumer(adaSeesBo).producerPaused).toBe(true), WAIT);

    // A new agreement: Bo may receive nothing until he accepts it, whatever his tiles say.
    await command(ada, { type: 'agreement.set', text: 'A new rule: cameras welcome.' });
    const reading = await viewWhere(bo, (v) => v.self.mustAcknowledge);
    expect(consumer(boSeesAda).paused).toBe(true);
    await ok(bo.socket, 'consumer:prefer', { consumerId: boSeesAda, visible: true, height: 180 });
    expect(consumer(boSeesAda).paused).toBe(true);

    // Hidden when he accepts: it stays paused until the tile is shown.
    await ok(bo.socket, 'consumer:prefer', { consumerId: boSeesAda, visible: false, height: 180 });
    await acknowledge(bo, reading.agreement.version);
    await viewWhere(bo, (v) => v.self.media);
    expect(consumer(boSeesAda).paused).toBe(true);
    await ok(bo.socket, 'consumer:prefer', { consumerId: boSeesAda, visible: true, height: 180 });
    expect(consumer(boSeesAda).paused).toBe(false);

    // Audio only wins over a visible tile too, and the tile's word holds when video is back.
    await ok(bo.socket, 'media:receiveVideo', { video: false });
    await ok(bo.socket, 'consumer:prefer', { consumerId: boSeesAda, visible: true, height: 200 });
    expect(consumer(boSeesAda).paused).toBe(true);
    await ok(bo.socket, 'consumer:prefer', { consumerId: boSeesAda, visible: false, height: 200 });
    await ok(bo.socket, 'media:receiveVideo', { video: true });
    expect(consumer(boSeesAda).paused).toBe(true);
  });

  it('media:ready with a tile height lists each camera on its layer; consumers:resume takes them all at once, and refuses an empty or oversized batch', async () => {
    const room = await openRoom(t.server, 'Ada');
    const ada = room.facilitator;
    const bo = await admittedMember(t.server, room, ada, 'Bo');
    const capabilities = await mediaJoin(ada);
    await mediaJoin(bo);
    const media = watchMedia(t.server, room.roomId);
    const boSend = await ok(bo.socket, 'transport:create', { direction: 'send' });
    const { producerId: boMic } = await ok(bo.socket, 'media:produce', { transportId: boSend.id, kind: 'audio', source: 'mic', rtpParameters: plainOpus(1000) });
    const boCamera = await sendCamera(bo, boSend.id, simulcastCamera(2000));

    // Ada's layout gives a camera tile 180 px: Bo's camera starts on its 180 px layer.
    const listed = await receive(ada, capabilities, 180);
    expect(listed.map((c) => c.producerId).sort()).toEqual([boMic, boCamera].sort());
    expect(eventsOf(ada.socket, 'consumer:new')).toEqual([]);
    const video = media.consumers.get(listed.find((c) => c.producerId === boCamera)!.consumerId)!;
    const audio = media.consumers.get(listed.find((c) => c.producerId === boMic)!.consumerId)!;
    expect(video.preferredLayers?.spatialLayer).toBe(1);
    expect([video.paused, audio.paused]).toEqual([true, true]);

    const batch = (n: number) => ({ consumers: Array.from({ length: n }, () => ({ consumerId: video.id })) });
    for (const bad of [batch(0), batch(129), { consumers: [{ consumerId: video.id, preference: { visible: true } }] }, { consumers: video.id }, {}]) {
      expectError(await rawRequest(ada.socket, 'consumers:resume', bad), 'BAD_REQUEST');
    }
    expect([video.paused, audio.paused]).toEqual([true, true]);
    // 128 entries (the same one again and again) are fine: done once, with the last preference.
    const many = { consumers: [...batch(127).consumers, { consumerId: video.id, preference: { visible: true, height: 90 } }] };
    expect(await ok(ada.socket, 'consumers:resume', many)).toEqual({ missing: [] });
    expect(video.paused).toBe(false);
    expect(video.preferredLayers?.spatialLayer).toBe(0);

    // Set-up only: the video, resumed already, is skipped (its tile's changes go by
    // consumer:prefer); the audio, not yet resumed, is resumed; the stranger is missing.
    const stranger = randomUUID();
    expect(
      await ok(ada.socket, 'consumers:resume', {
        consumers: [
          { consumerId: video.id, preference: { visible: false, height: 360 } },
          { consumerId: audio.id },
          { consumerId: stranger },
        ],
      }),
    ).toEqual({ missing: [stranger] });
    expect([video.paused, video.preferredLayers?.spatialLayer]).toEqual([false, 0]);
    expect(audio.paused).toBe(false);
    await ok(ada.socket, 'consumer:prefer', { consumerId: video.id, visible: false, height: 360 });
    expect(video.paused).toBe(true);
  });

  it('a consumer closed with its producer answers NOT_FOUND', async () => {
    const { ada, bo, boCamera, adaSeesBo } = await twoWithCameras();
    await ok(bo.socket, 'media:closeProducer', { producerId: boCamera });
    await waitForEvent(ada.socket, 'consumer:closed', (e) => e.consumerId === adaSeesBo);
    expectError(await request(ada.socket, 'consumer:prefer', { consumerId: adaSeesBo, visible: true, height: 100 }), 'NOT_FOUND');
  });
});
