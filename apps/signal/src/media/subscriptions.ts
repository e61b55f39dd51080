import { MAX_CONSUMER_BATCH, ProtocolFailure, type ConsumerOffer, type RtpParameters, type TilePreference } from '@group-room/shared';
import type { types } from 'mediasoup';
import { asWire } from '../wire.js';
import { layerForTile, spatialLayerCount } from './layers.js';
import type { ConsumerData, PeerMedia, ProducerData } from './peer-media.js';
import { offerable, syncConsumer } from './policy-sync.js';
import { requireServing, settleEach, type RoomContext } from './room-context.js';

/*
 * Every member receives every other member's producers: one consumer per producer and
 * receiver, made by the server, paused until the receiver has set it up and the policy lets it
 * flow (see policy-sync). What the others already send when a member becomes ready is listed
 * in `media:ready`'s answer (one exchange for all of it); a producer appearing later is
 * announced to each receiver by `consumer:new`. A camera consumer starts on the simulcast layer
 * the receiver's tile needs, so its first frames need no switch.
 */

/** A new producer: every other member who can receive gets a consumer for it, announced. */
export async function offerToOthers(room: RoomContext, sender: PeerMedia, producer: types.Producer<ProducerData>): Promise<void> {
  const jobs = [...room.peers.values()]
    .filter((other) => other !== sender)
    .map(async (other) => {
      const consumer = await consume(room, other, sender, producer);
      if (consumer) announce(other, consumer);
    });
  await settleEach(room, 'a member could not be given a new producer\'s media', jobs);
}

/**
 * The member can now receive: consume everything the others already send, and return those
 * consumers (for `media:ready`'s answer; they are not announced). `tileHeight`: the height of
 * a camera tile in the member's layout, when told (see PeerMedia.tileHeight).
 */
export async function setReady(room: RoomContext, peer: PeerMedia, rtpCapabilities: types.RtpCapabilities, tileHeight?: number): Promise<ConsumerOffer[]> {
  requireServing(room);
  if (!peer.transportFor('recv')) throw new ProtocolFailure('INVALID_STATE', 'Create the receive transport first');
  if (peer.rtpCapabilities) throw new ProtocolFailure('INVALID_STATE', 'Already ready');
  const routerCodecs = new Set(room.router.rtpCapabilities.codecs?.map((c) => c.mimeType.toLowerCase()));
  if (!rtpCapabilities.codecs?.some((c) => routerCodecs.has(c.mimeType.toLowerCase()))) {
    throw new ProtocolFailure('BAD_REQUEST', 'None of these codecs can receive this room\'s media');
  }
  peer.rtpCapabilities = rtpCapabilities;
  peer.tileHeight = tileHeight;
  // From here on a new producer is offered to this member too (and announced): `consuming`
  // keeps one appearing now from being consumed both here and there.
  const made: (types.Consumer<ConsumerData> | undefined)[] = [];
  const jobs: Promise<void>[] = [];
  for (const other of room.peers.values()) {
    if (other === peer) continue;
    for (const producer of other.producers.values()) {
      if (!offerable(producer)) continue;
      const slot = made.push(undefined) - 1;
      jobs.push(consume(room, peer, other, producer).then((consumer) => void (made[slot] = consumer)));
    }
  }
  await settleEach(room, 'a member could not be given a producer\'s media', jobs);
  // One closed meanwhile (its producer went) was already told closed: not listed.
  const open = made.filter((consumer): consumer is types.Consumer<ConsumerData> => consumer !== undefined && !consumer.closed);
  // Never more than the batch in a room of ROOM_CAPACITY ≤ 50 (two per other person, two
  // screens); should there be, the rest are announced as a later producer's would be.
  for (const consumer of open.slice(MAX_CONSUMER_BATCH)) announce(peer, consumer);
  return open.slice(0, MAX_CONSUMER_BATCH).map(offerOf);
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

/** One entry of `consumers:resume`. */
export interface ResumeEntry {
  consumerId: string;
  preference?: TilePreference | undefined;
}

/** How many of a batch's consumers are in the worker at once: one batch leaves room for other rooms' requests. */
const BATCH_CONCURRENCY = 16;

/** Consumers a batch is setting up now: a batch sent again meanwhile skips them too. */
const settingUp = new WeakSet<types.Consumer<ConsumerData>>();

/**
 * Many consumers the member has just set up, at once: each as `resumeConsumer`, a video first
 * taking its tile's preference (as `preferConsumer`; audio follows no tile, so one given for
 * it is ignored). Set-up only: a consumer already resumed (or being resumed) is skipped, its
 * preference too (a tile's changes go by `consumer:prefer`, one request each), so a batch costs
 * the worker at most one set-up per consumer in its lifetime, however often it is sent. An id
 * given twice is done once, with the last preference given for it. Returns the ids not done:
 * not found (closed meanwhile, or not this member's), or failed in the worker (logged; left
 * not ready, so `media:resync` announces it again); neither fails the others.
 */
export async function resumeConsumers(room: RoomContext, peer: PeerMedia, entries: readonly ResumeEntry[]): Promise<string[]> {
  requireServing(room);
  const wanted = new Map<string, TilePreference | undefined>();
  for (const { consumerId, preference } of entries) wanted.set(consumerId, preference ?? wanted.get(consumerId));
  const missing: string[] = [];
  await eachAtMost(BATCH_CONCURRENCY, [...wanted], async ([consumerId, preference]) => {
    const consumer = peer.consumers.get(consumerId);
    if (!consumer) {
      missing.push(consumerId);
      return;
    }
    if (consumer.appData.clientReady || settingUp.has(consumer)) return;
    settingUp.add(consumer);
    try {
      if (preference && consumer.kind === 'video') takePreference(consumer, preference);
      // The layer first, then ready: a resume asks its sender for a key frame of the layer set.
      await fitLayers(room, consumer);
      consumer.appData.clientReady = true;
      await syncConsumer(room, peer.id, consumer);
    } catch (error) {
      missing.push(consumerId);
      if (consumer.closed) return;
      // Not set up as far as the server knows: paused by the next sync, announced again by a resync.
      consumer.appData.clientReady = false;
      room.log.warn('a consumer could not be resumed', { error: error instanceof Error ? error.message : String(error) });
    } finally {
      settingUp.delete(consumer);
    }
  });
  return missing;
}

/** Runs `job` on every item, at most `limit` at a time, in order of the items. */
async function eachAtMost<T>(limit: number, items: readonly T[], job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < items.length) await job(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
}

/**
 * How the receiver's page shows this video now: a tile off screen or hidden pauses it (on top
 * of what the policy says, so this never resumes what the policy pauses); a tile on screen
 * gets the smallest simulcast layer that covers its height.
 */
export async function preferConsumer(room: RoomContext, peer: PeerMedia, consumerId: string, preference: { visible: boolean; height: number }): Promise<void> {
  const consumer = consumerOf(peer, consumerId);
  if (consumer.kind !== 'video') throw new ProtocolFailure('BAD_REQUEST', 'Only a video consumer follows its tile');
  takePreference(consumer, preference);
  try {
    await fitLayers(room, consumer);
    await syncConsumer(room, peer.id, consumer);
  } catch (error) {
    // Closed meanwhile (its producer or the receiver went): nothing is left to prefer.
    if (consumer.closed) throw new ProtocolFailure('NOT_FOUND', 'No such consumer');
    throw error;
  }
}

function takePreference(consumer: types.Consumer<ConsumerData>, preference: TilePreference): void {
  consumer.appData.visible = preference.visible;
  if (preference.visible) consumer.appData.tileHeight = preference.height;
}

/*
 * Asks again while the wanted layer changed during the call: `preferredLayers` changes only
 * once a call completes, so a newer preference may have been skipped as "already set".
 * A new target layer makes mediasoup itself ask the sender for a key frame of it at once
 * (it switches once the sender's RTCP sender reports line the layers' timestamps up, as a
 * browser's do): shown in tests/integration/consumer-batch.test.ts, so nothing is asked here.
 */
async function fitLayers(room: RoomContext, consumer: types.Consumer<ConsumerData>): Promise<void> {
  if (consumer.type !== 'simulcast') return;
  const encodings = room.peers.get(consumer.appData.senderId)?.producers.get(consumer.producerId)?.rtpParameters.encodings ?? [];
  const layers = spatialLayerCount(consumer.rtpParameters.encodings?.[0]?.scalabilityMode);
  const wanted = () => layerForTile(encodings, layers, consumer.appData.tileHeight);
  for (let spatialLayer = wanted(); spatialLayer !== undefined && !consumer.closed; ) {
    if (consumer.preferredLayers?.spatialLayer === spatialLayer) return;
    await consumer.setPreferredLayers({ spatialLayer });
    const now = wanted();
    if (now === spatialLayer) return;
    spatialLayer = now;
  }
}

/**
 * The receiver's consumer of `producer` (paused), or undefined when none is to be made: no
 * lease, not ready, already has one (or one on the way), or cannot receive its codec.
 */
async function consume(room: RoomContext, receiver: PeerMedia, sender: PeerMedia, producer: types.Producer<ProducerData>): Promise<types.Consumer<ConsumerData> | undefined> {
  // No new consumers once this node no longer serves the room (the receiver will reconnect elsewhere).
  if (!room.mayAct()) return undefined;
  const transport = receiver.transportFor('recv');
  const rtpCapabilities = receiver.rtpCapabilities;
  if (!transport || !rtpCapabilities || producer.closed || receiver.consuming.has(producer.id)) return undefined;
  if (!room.router.canConsume({ producerId: producer.id, rtpCapabilities })) return undefined;
  // The layout's tile height is a camera tile's; a screen's tile reports its own.
  const tileHeight = producer.appData.source === 'camera' ? receiver.tileHeight : undefined;
  const encodings = producer.rtpParameters.encodings ?? [];
  const spatialLayer = producer.type === 'simulcast' ? layerForTile(encodings, encodings.length, tileHeight) : undefined;
  receiver.consuming.add(producer.id);
  let consumer: types.Consumer<ConsumerData>;
  try {
    consumer = await transport.consume<ConsumerData>({
      producerId: producer.id,
      rtpCapabilities,
      paused: true,
      ...(spatialLayer === undefined ? {} : { preferredLayers: { spatialLayer } }),
      appData: { clientReady: false, senderId: sender.id, source: producer.appData.source, visible: true, tileHeight },
    });
  } catch (error) {
    receiver.consuming.delete(producer.id);
    throw error;
  }
  // Closed while the worker made it: mediasoup would never close this one for a closed
  // transport; for a closed producer it would, just after, so it is neither kept, listed nor
  // announced only to be told closed.
  if (transport.closed || producer.closed || consumer.closed) {
    receiver.consuming.delete(producer.id);
    consumer.close();
    return undefined;
  }
  receiver.consumers.set(consumer.id, consumer);
  consumer.observer.once('close', () => {
    receiver.consumers.delete(consumer.id);
    receiver.consuming.delete(producer.id);
  });
  consumer.on('producerclose', () => {
    consumer.close();
    receiver.notify('consumer:closed', { consumerId: consumer.id });
  });
  return consumer;
}

function offerOf(consumer: types.Consumer<ConsumerData>): ConsumerOffer {
  return {
    consumerId: consumer.id,
    producerId: consumer.producerId,
    peerId: consumer.appData.senderId,
    kind: consumer.kind,
    source: consumer.appData.source,
    rtpParameters: asWire<RtpParameters>(consumer.rtpParameters),
    producerPaused: consumer.producerPaused,
  };
}

function announce(receiver: PeerMedia, consumer: types.Consumer<ConsumerData>): void {
  receiver.notify('consumer:new', offerOf(consumer));
}
