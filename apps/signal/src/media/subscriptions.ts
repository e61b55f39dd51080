import { CAMERA_CAPTURE, ProtocolFailure, type RtpParameters } from '@group-room/shared';
import type { types } from 'mediasoup';
import { asWire } from '../wire.js';
import { chooseSpatialLayer, layerHeights, spatialLayerCount } from './layers.js';
import type { ConsumerData, PeerMedia, ProducerData } from './peer-media.js';
import { offerable, syncConsumer } from './policy-sync.js';
import { requireServing, settleEach, type RoomContext } from './room-context.js';

/*
 * Every member receives every other member's producers: one consumer per producer and
 * receiver, made by the server, announced to the receiver (`consumer:new`), paused until the
 * receiver has set it up and the policy lets it flow (see policy-sync).
 */

/** A new producer: every other member who can receive gets a consumer for it. */
export async function offerToOthers(room: RoomContext, sender: PeerMedia, producer: types.Producer<ProducerData>): Promise<void> {
  const jobs = [...room.peers.values()].filter((other) => other !== sender).map((other) => consume(room, other, sender, producer));
  await settleEach(room, 'a member could not be given a new producer\'s media', jobs);
}

/** The member can now receive: consume everything the others already send. */
export async function setReady(room: RoomContext, peer: PeerMedia, rtpCapabilities: types.RtpCapabilities): Promise<void> {
  requireServing(room);
  if (!peer.transportFor('recv')) throw new ProtocolFailure('INVALID_STATE', 'Create the receive transport first');
  if (peer.rtpCapabilities) throw new ProtocolFailure('INVALID_STATE', 'Already ready');
  const routerCodecs = new Set(room.router.rtpCapabilities.codecs?.map((c) => c.mimeType.toLowerCase()));
  if (!rtpCapabilities.codecs?.some((c) => routerCodecs.has(c.mimeType.toLowerCase()))) {
    throw new ProtocolFailure('BAD_REQUEST', 'None of these codecs can receive this room\'s media');
  }
  peer.rtpCapabilities = rtpCapabilities;
  const jobs: Promise<void>[] = [];
  for (const other of room.peers.values()) {
    if (other === peer) continue;
    for (const producer of other.producers.values()) if (offerable(producer)) jobs.push(consume(room, peer, other, producer));
  }
  await settleEach(room, 'a member could not be given a producer\'s media', jobs);
}

/**
 * After a resume: announce again what the member has not set up yet (announcements sent
 * while they were away were lost), and say which consumers exist now.
 */
export function resync(peer: PeerMedia): string[] {
  for (const consumer of peer.consumers.values()) {
    if (!consumer.appData.clientReady) announce(peer, consumer);
  }
  return [...peer.consumers.keys()];
}

/** Audio only (or video again) for this member: their video consumers pause (or resume) on the server. */
export async function receiveVideo(room: RoomContext, peer: PeerMedia, video: boolean): Promise<void> {
  peer.receiveVideo = video;
  await Promise.all([...peer.consumers.values()].map((consumer) => syncConsumer(room, peer.id, consumer)));
}

/**
 * The member's browser can now decrypt what it receives (it has just installed a key): every
 * video it receives is asked for a key frame (a PLI to its sender), so pictures start at once
 * rather than at the sender's next key frame. A consumer closing meanwhile is skipped.
 */
export async function requestKeyFrames(room: RoomContext, peer: PeerMedia): Promise<void> {
  const video = [...peer.consumers.values()].filter((consumer) => consumer.kind === 'video' && !consumer.closed);
  await settleEach(room, 'a key frame could not be asked for', video.map(async (consumer) => {
    try {
      await consumer.requestKeyFrame();
    } catch (error) {
      if (!consumer.closed) throw error;
    }
  }));
}

function consumerOf(peer: PeerMedia, consumerId: string): types.Consumer<ConsumerData> {
  const consumer = peer.consumers.get(consumerId);
  if (!consumer) throw new ProtocolFailure('NOT_FOUND', 'No such consumer');
  return consumer;
}

export async function resumeConsumer(room: RoomContext, peer: PeerMedia, consumerId: string): Promise<void> {
  requireServing(room);
  const consumer = consumerOf(peer, consumerId);
  consumer.appData.clientReady = true;
  await syncConsumer(room, peer.id, consumer);
}

/**
 * How the receiver's page shows this video now: a tile off screen or hidden pauses it (on top
 * of what the policy says, so this never resumes what the policy pauses); a tile on screen
 * gets the smallest simulcast layer that covers its height.
 */
export async function preferConsumer(room: RoomContext, peer: PeerMedia, consumerId: string, preference: { visible: boolean; height: number }): Promise<void> {
  const consumer = consumerOf(peer, consumerId);
  if (consumer.kind !== 'video') throw new ProtocolFailure('BAD_REQUEST', 'Only a video consumer follows its tile');
  consumer.appData.visible = preference.visible;
  if (preference.visible) consumer.appData.tileHeight = preference.height;
  try {
    await fitLayers(room, consumer);
    await syncConsumer(room, peer.id, consumer);
  } catch (error) {
    // Closed meanwhile (its producer or the receiver went): nothing is left to prefer.
    if (consumer.closed) throw new ProtocolFailure('NOT_FOUND', 'No such consumer');
    throw error;
  }
}

/*
 * Asks again while the wanted layer changed during the call: `preferredLayers` changes only
 * once a call completes, so a newer preference may have been skipped as "already set".
 */
async function fitLayers(room: RoomContext, consumer: types.Consumer<ConsumerData>): Promise<void> {
  if (consumer.type !== 'simulcast') return;
  const encodings = room.peers.get(consumer.appData.senderId)?.producers.get(consumer.producerId)?.rtpParameters.encodings ?? [];
  const heights = layerHeights(encodings, spatialLayerCount(consumer.rtpParameters.encodings?.[0]?.scalabilityMode), CAMERA_CAPTURE.height);
  const wanted = () => (heights.length < 2 || consumer.appData.tileHeight === undefined ? undefined : chooseSpatialLayer(heights, consumer.appData.tileHeight));
  for (let spatialLayer = wanted(); spatialLayer !== undefined && !consumer.closed; ) {
    if (consumer.preferredLayers?.spatialLayer === spatialLayer) return;
    await consumer.setPreferredLayers({ spatialLayer });
    const now = wanted();
    if (now === spatialLayer) return;
    spatialLayer = now;
  }
}

async function consume(room: RoomContext, receiver: PeerMedia, sender: PeerMedia, producer: types.Producer<ProducerData>): Promise<void> {
  // No new consumers once this node no longer serves the room (the receiver will reconnect elsewhere).
  if (!room.mayAct()) return;
  const transport = receiver.transportFor('recv');
  const rtpCapabilities = receiver.rtpCapabilities;
  if (!transport || !rtpCapabilities || producer.closed) return;
  if (!room.router.canConsume({ producerId: producer.id, rtpCapabilities })) return;
  const consumer = await transport.consume<ConsumerData>({
    producerId: producer.id,
    rtpCapabilities,
    paused: true,
    appData: { clientReady: false, senderId: sender.id, source: producer.appData.source, visible: true, tileHeight: undefined },
  });
  // The receive transport closed while the worker made it: mediasoup would never close this one.
  if (transport.closed) {
    consumer.close();
    return;
  }
  receiver.consumers.set(consumer.id, consumer);
  consumer.observer.once('close', () => receiver.consumers.delete(consumer.id));
  consumer.on('producerclose', () => {
    consumer.close();
    receiver.notify('consumer:closed', { consumerId: consumer.id });
  });
  announce(receiver, consumer);
}

function announce(receiver: PeerMedia, consumer: types.Consumer<ConsumerData>): void {
  receiver.notify('consumer:new', {
    consumerId: consumer.id,
    producerId: consumer.producerId,
    peerId: consumer.appData.senderId,
    kind: consumer.kind,
    source: consumer.appData.source,
    rtpParameters: asWire<RtpParameters>(consumer.rtpParameters),
    producerPaused: consumer.producerPaused,
  });
}
