import { ProtocolFailure, type MediaKind, type MediaSource } from '@group-room/shared';
import type { types } from 'mediasoup';
import { PRODUCIBLE_MIME_TYPES } from './codecs.js';
import type { PeerMedia, ProducerData } from './peer-media.js';
import type { RoomContext } from './room-context.js';
import { mayFlow } from './policy-sync.js';
import { offerToOthers } from './subscriptions.js';
import { transportOf } from './transports.js';

const SOURCE_KIND: Record<MediaSource, MediaKind> = { mic: 'audio', camera: 'video', screen: 'video' };

/**
 * A browser's encoder ignores a key frame request that comes within 300 ms of the last one it
 * answered (libwebrtc's EncoderRtcpFeedback), and mediasoup asks again only a second later. So a
 * request for a layer that was just asked for (a newcomer's tiles, just as the others' layouts
 * switch to that layer) would cost its tile a second. mediasoup holds such a request back and
 * sends it this long after the last one: past the encoder's 300 ms, with room for jitter.
 */
const KEY_FRAME_REQUEST_DELAY_MS = 400;

export interface ProduceRequest {
  transportId: string;
  kind: MediaKind;
  source: MediaSource;
  rtpParameters: types.RtpParameters;
  paused: boolean;
}

/**
 * A member's new mic, camera or screen producer, offered to everyone else. A screen producer
 * stays paused, and is offered to nobody, until the room state records it (see policy-sync.ts). It counts as made once it
 * is set up on this member's side: a failure offering it to another member is that member's
 * (logged by offerToOthers), while a failure setting it up closes it, so nothing the member
 * was told failed is left behind.
 */
export async function produce(room: RoomContext, levels: types.AudioLevelObserver, peer: PeerMedia, request: ProduceRequest): Promise<types.Producer<ProducerData>> {
  const transport = transportOf(peer, request.transportId);
  if (transport.appData['direction'] !== 'send') throw new ProtocolFailure('BAD_REQUEST', 'Produce on the send transport');
  if (SOURCE_KIND[request.source] !== request.kind) {
    throw new ProtocolFailure('BAD_REQUEST', `A ${request.source} producer must be ${SOURCE_KIND[request.source]}`);
  }
  // mediasoup itself would accept a video codec on an audio producer.
  if (!request.rtpParameters.codecs.every((codec) => codec.mimeType.toLowerCase().startsWith(`${request.kind}/`))) {
    throw new ProtocolFailure('BAD_REQUEST', `Every codec of a ${request.kind} producer must be ${request.kind}`);
  }
  // Only what the browsers encrypt end to end (see codecs.ts); RTX beside it resends its packets as they are.
  const media = request.rtpParameters.codecs.filter((codec) => !codec.mimeType.toLowerCase().endsWith('/rtx'));
  if (media.length === 0 || !media.every((codec) => PRODUCIBLE_MIME_TYPES.has(codec.mimeType.toLowerCase()))) {
    throw new ProtocolFailure('BAD_REQUEST', 'Only Opus (audio) and VP8 (video) can be sent: the codecs encrypted end to end here');
  }
  // A shared screen is slides at a low frame rate: one layer, so every receiver gets the same.
  if (request.source === 'screen' && (request.rtpParameters.encodings?.length ?? 0) > 1) {
    throw new ProtocolFailure('BAD_REQUEST', 'A screen producer has one encoding (no simulcast)');
  }
  const filled = [...peer.producers.values()].some((existing) => existing.appData.source === request.source);
  const release = peer.claim(`producer:${request.source}`, filled, `A ${request.source} producer already exists`);
  let producer: types.Producer<ProducerData>;
  try {
    producer = await transport.produce<ProducerData>({
      kind: request.kind,
      rtpParameters: request.rtpParameters,
      paused: request.paused || !mayFlow(room, peer.id, request.source, undefined),
      ...(request.kind === 'video' ? { keyFrameRequestDelay: KEY_FRAME_REQUEST_DELAY_MS } : {}),
      appData: { peerId: peer.id, source: request.source, selfPaused: request.paused, recorded: false },
    });
    try {
      if (peer.closed) throw new ProtocolFailure('INVALID_STATE', 'Media was started again meanwhile');
      peer.producers.set(producer.id, producer);
      producer.observer.once('close', () => peer.producers.delete(producer.id));
      // Tests only: tapped before anyone is offered it, so the tap has every packet forwarded.
      await room.tap?.attach(room.router, producer);
      if (producer.kind === 'audio') await levels.addProducer({ producerId: producer.id });
      // Closed during that wait (the member left or started afresh): the request failed.
      if (peer.closed || producer.closed) throw new ProtocolFailure('INVALID_STATE', 'Media was started again meanwhile');
    } catch (error) {
      producer.close();
      throw error;
    }
  } finally {
    release();
  }
  // A screen is offered once the room state records it (see policy-sync.ts), so one refused
  // there is never announced to anyone.
  if (request.source !== 'screen') await offerToOthers(room, peer, producer);
  return producer;
}
