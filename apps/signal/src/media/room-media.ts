import {
  CAMERA_CAPTURE,
  ProtocolFailure,
  type MediaKind,
  type MediaSource,
  type RtpParameters,
  type TransportDirection,
  type TransportOptions,
} from '@group-room/shared';
import type { types } from 'mediasoup';
import type { MediaPolicy } from '../room/state.js';
import { asWire } from '../wire.js';
import { chooseSpatialLayer, layerHeights, spatialLayerCount } from './layers.js';
import { PeerMedia, type ConsumerData, type Notify, type ProducerData } from './peer-media.js';
import type { TalkTime } from './talk-time.js';
import type { RouterLease, WorkerPool } from './worker-pool.js';

const SOURCE_KIND: Record<MediaSource, MediaKind> = { mic: 'audio', camera: 'video' };
const MAX_INCOMING_BITRATE = 1_500_000;

/** Audio louder than this (dBov) counts as speaking; quieter is room noise. */
const SPEAKING_THRESHOLD_DBOV = -55;
/** How often the audio-level observer reports, and so the resolution of talk time. */
export const TALK_INTERVAL_MS = 250;

const NOBODY: MediaPolicy = { receive: new Set(), send: { mic: new Set(), camera: new Set() } };

/**
 * A room's media: its router and each member's transports, producers and consumers. Every
 * member receives every other member's producers. What flows is decided on the server:
 * `applyPolicy` is told who may send and receive (derived from room state) and pauses
 * producers and consumers accordingly, so no client can bypass it.
 */
export class RoomMedia {
  readonly router: types.Router;
  /** The worker process carrying this room (tests kill it to check recovery). */
  readonly workerPid: number;
  readonly #webRtcServer: types.WebRtcServer;
  readonly #listen: { ip: string; announcedAddress: string };
  readonly #peers = new Map<string, PeerMedia>();
  readonly #levels: types.AudioLevelObserver;
  /** Speaking time per member, from the audio-level observer; outlives this router (see RoomRegistry). */
  readonly talkTime: TalkTime;
  /** Who the room state lets receive, and send each source (see mediaPolicy). */
  #policy: MediaPolicy = NOBODY;

  private constructor(lease: RouterLease, levels: types.AudioLevelObserver, talkTime: TalkTime) {
    this.router = lease.router;
    this.workerPid = lease.workerPid;
    this.talkTime = talkTime;
    this.#webRtcServer = lease.webRtcServer;
    this.#listen = { ip: lease.listenIp, announcedAddress: lease.announcedAddress };
    this.#levels = levels;
    levels.on('volumes', (volumes) => {
      const ids = volumes.map(({ producer }) => (producer.appData as Partial<ProducerData>).peerId).filter((id) => id !== undefined);
      this.talkTime.heard(ids, TALK_INTERVAL_MS, Date.now());
    });
  }

  /** `onLost`: the router's worker died, taking this room's media with it. */
  static async create(pool: WorkerPool, talkTime: TalkTime, onLost: () => void): Promise<RoomMedia> {
    const lease = await pool.createRouter();
    const levels = await lease.router.createAudioLevelObserver({
      maxEntries: 64,
      threshold: SPEAKING_THRESHOLD_DBOV,
      interval: TALK_INTERVAL_MS,
    });
    lease.router.on('workerclose', onLost);
    return new RoomMedia(lease, levels, talkTime);
  }

  get size(): number {
    return this.#peers.size;
  }

  get closed(): boolean {
    return this.router.closed;
  }

  has(peerId: string): boolean {
    return this.#peers.has(peerId);
  }

  addPeer(peerId: string, notify: Notify): PeerMedia {
    if (this.#peers.has(peerId)) throw new ProtocolFailure('INVALID_STATE', 'Media already started');
    const peer = new PeerMedia(peerId, notify);
    this.#peers.set(peerId, peer);
    return peer;
  }

  peerIds(): string[] {
    return [...this.#peers.keys()];
  }

  /** A resumed seat: what the server tells this member now goes to their new connection. */
  rebind(peerId: string, notify: Notify): void {
    const peer = this.#peers.get(peerId);
    if (peer) peer.notify = notify;
  }

  removePeer(peerId: string): void {
    this.#peers.get(peerId)?.close();
    this.#peers.delete(peerId);
  }

  #peer(peerId: string): PeerMedia {
    const peer = this.#peers.get(peerId);
    if (!peer) throw new ProtocolFailure('INVALID_STATE', 'Join the room first');
    return peer;
  }

  async createTransport(peerId: string, direction: TransportDirection): Promise<TransportOptions> {
    const peer = this.#peer(peerId);
    const release = peer.claim(`transport:${direction}`, peer.transportFor(direction) !== undefined, `A ${direction} transport already exists`);
    try {
      const transport = await this.router.createWebRtcTransport({
        webRtcServer: this.#webRtcServer,
        enableUdp: true,
        enableTcp: true,
        preferUdp: true,
        initialAvailableOutgoingBitrate: 1_000_000,
        appData: { direction },
      });
      try {
        if (direction === 'send') await transport.setMaxIncomingBitrate(MAX_INCOMING_BITRATE);
        // The member's media was closed meanwhile (they left, or started afresh): nobody would use it.
        if (peer.closed) throw new ProtocolFailure('INVALID_STATE', 'Media was started again meanwhile');
      } catch (error) {
        transport.close();
        throw error;
      }
      peer.transports.set(transport.id, transport);
      transport.observer.once('close', () => peer.transports.delete(transport.id));
      transport.on('dtlsstatechange', (state) => {
        if (state === 'failed' || state === 'closed') transport.close();
      });
      return {
        id: transport.id,
        iceParameters: transport.iceParameters,
        iceCandidates: transport.iceCandidates,
        dtlsParameters: transport.dtlsParameters,
      };
    } finally {
      release();
    }
  }

  /**
   * Load tests: a plain RTP transport for a synthetic member (no ICE, no DTLS). A send
   * transport learns where the member sends from (comedia); a receive one is told where to
   * send by `connectPlain`. Bounded like WebRTC ones: one per direction.
   */
  async createPlainTransport(peerId: string, direction: TransportDirection): Promise<{ id: string; ip: string; port: number }> {
    const peer = this.#peer(peerId);
    const release = peer.claim(`transport:${direction}`, peer.transportFor(direction) !== undefined, `A ${direction} transport already exists`);
    try {
      const transport = await this.router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: this.#listen.ip, announcedAddress: this.#listen.announcedAddress },
        rtcpMux: true,
        comedia: direction === 'send',
        appData: { direction, plain: true },
      });
      if (peer.closed) {
        transport.close();
        throw new ProtocolFailure('INVALID_STATE', 'Media was started again meanwhile');
      }
      peer.transports.set(transport.id, transport);
      transport.observer.once('close', () => peer.transports.delete(transport.id));
      return { id: transport.id, ip: this.#listen.announcedAddress, port: transport.tuple.localPort };
    } finally {
      release();
    }
  }

  async connectPlain(peerId: string, transportId: string, ip: string, port: number): Promise<void> {
    const transport = this.#peer(peerId).transports.get(transportId);
    if (!transport || !transport.appData['plain']) throw new ProtocolFailure('NOT_FOUND', 'No such plain transport');
    await (transport as types.PlainTransport).connect({ ip, port });
  }

  /** New ICE credentials for a transport whose path broke (the client restarts ICE with them). */
  async restartIce(peerId: string, transportId: string): Promise<types.IceParameters> {
    const transport = this.#webRtc(this.#peer(peerId), transportId);
    return transport.restartIce();
  }

  /**
   * After a resume: announce again what the member has not set up yet (announcements sent
   * while they were away were lost), and say which consumers exist now.
   */
  resync(peerId: string): string[] {
    const peer = this.#peer(peerId);
    for (const consumer of peer.consumers.values()) {
      if (!consumer.appData.clientReady) this.#announce(peer, consumer);
    }
    return [...peer.consumers.keys()];
  }

  #transport(peer: PeerMedia, transportId: string): types.WebRtcTransport | types.PlainTransport {
    const transport = peer.transports.get(transportId);
    if (!transport) throw new ProtocolFailure('NOT_FOUND', 'No such transport');
    return transport;
  }

  #webRtc(peer: PeerMedia, transportId: string): types.WebRtcTransport {
    const transport = this.#transport(peer, transportId);
    if (transport.appData['plain']) throw new ProtocolFailure('BAD_REQUEST', 'Not a WebRTC transport');
    return transport as types.WebRtcTransport;
  }

  async connectTransport(peerId: string, transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const transport = this.#webRtc(this.#peer(peerId), transportId);
    if (transport.appData['connecting']) throw new ProtocolFailure('INVALID_STATE', 'This transport is already connected');
    transport.appData['connecting'] = true;
    try {
      await transport.connect({ dtlsParameters });
    } catch (error) {
      transport.appData['connecting'] = false;
      throw error;
    }
  }

  async produce(
    peerId: string,
    request: { transportId: string; kind: MediaKind; source: MediaSource; rtpParameters: types.RtpParameters; paused: boolean },
  ): Promise<types.Producer<ProducerData>> {
    const peer = this.#peer(peerId);
    const transport = this.#transport(peer, request.transportId);
    if (transport.appData['direction'] !== 'send') throw new ProtocolFailure('BAD_REQUEST', 'Produce on the send transport');
    if (SOURCE_KIND[request.source] !== request.kind) {
      throw new ProtocolFailure('BAD_REQUEST', `A ${request.source} producer must be ${SOURCE_KIND[request.source]}`);
    }
    // mediasoup itself would accept a video codec on an audio producer.
    if (!request.rtpParameters.codecs.every((codec) => codec.mimeType.toLowerCase().startsWith(`${request.kind}/`))) {
      throw new ProtocolFailure('BAD_REQUEST', `Every codec of a ${request.kind} producer must be ${request.kind}`);
    }
    const filled = [...peer.producers.values()].some((existing) => existing.appData.source === request.source);
    const release = peer.claim(`producer:${request.source}`, filled, `A ${request.source} producer already exists`);
    let producer: types.Producer<ProducerData>;
    try {
      producer = await transport.produce<ProducerData>({
        kind: request.kind,
        rtpParameters: request.rtpParameters,
        paused: request.paused || !this.#policy.send[request.source].has(peerId),
        appData: { peerId, source: request.source, selfPaused: request.paused },
      });
      try {
        if (peer.closed) throw new ProtocolFailure('INVALID_STATE', 'Media was started again meanwhile');
        peer.producers.set(producer.id, producer);
        producer.observer.once('close', () => peer.producers.delete(producer.id));
        if (producer.kind === 'audio') await this.#levels.addProducer({ producerId: producer.id });
      } catch (error) {
        producer.close();
        throw error;
      }
    } finally {
      release();
    }
    await Promise.all(
      [...this.#peers.values()].filter((other) => other !== peer).map((other) => this.#consume(other, peer, producer)),
    );
    return producer;
  }

  /** The member's own mic/camera toggle; the producer stays paused while the policy says so. */
  async setProducerPaused(peerId: string, producerId: string, paused: boolean): Promise<void> {
    const producer = this.#producer(peerId, producerId);
    producer.appData.selfPaused = paused;
    await this.#syncProducer(peerId, producer);
  }

  /** The member's latest own wish for a producer (undefined once it is gone). */
  selfPaused(peerId: string, producerId: string): boolean | undefined {
    return this.#peers.get(peerId)?.producers.get(producerId)?.appData.selfPaused;
  }

  /** Apply who may send and receive now: pause or resume every producer and consumer to match. */
  async applyPolicy(policy: MediaPolicy): Promise<void> {
    this.#policy = policy;
    const jobs: Promise<void>[] = [];
    for (const peer of this.#peers.values()) {
      for (const producer of peer.producers.values()) jobs.push(this.#syncProducer(peer.id, producer));
      for (const consumer of peer.consumers.values()) jobs.push(this.#syncConsumer(peer.id, consumer));
    }
    await Promise.all(jobs);
  }

  /*
   * Both syncs loop until the producer or consumer matches what is wanted *now*: mediasoup
   * updates `paused` only when a pause/resume completes, so a change of policy during an
   * in-flight resume would otherwise see "already paused" and leave media flowing.
   */
  async #syncProducer(peerId: string, producer: types.Producer<ProducerData>): Promise<void> {
    for (;;) {
      const paused = producer.appData.selfPaused || !this.#policy.send[producer.appData.source].has(peerId);
      if (producer.closed || producer.paused === paused) return;
      if (paused) await producer.pause();
      else await producer.resume();
    }
  }

  async #syncConsumer(peerId: string, consumer: types.Consumer<ConsumerData>): Promise<void> {
    for (;;) {
      const audioOnly = consumer.kind === 'video' && this.#peers.get(peerId)?.receiveVideo === false;
      const paused = !consumer.appData.clientReady || !this.#policy.receive.has(peerId) || audioOnly || !consumer.appData.visible;
      if (consumer.closed || consumer.paused === paused) return;
      if (paused) await consumer.pause();
      else await consumer.resume();
    }
  }

  closeProducer(peerId: string, producerId: string): void {
    this.#producer(peerId, producerId).close();
  }

  #producer(peerId: string, producerId: string): types.Producer<ProducerData> {
    const producer = this.#peer(peerId).producers.get(producerId);
    if (!producer) throw new ProtocolFailure('NOT_FOUND', 'No such producer');
    return producer;
  }

  /** The member can now receive: consume everything the others already send. */
  async setReady(peerId: string, rtpCapabilities: types.RtpCapabilities): Promise<void> {
    const peer = this.#peer(peerId);
    if (!peer.transportFor('recv')) throw new ProtocolFailure('INVALID_STATE', 'Create the receive transport first');
    if (peer.rtpCapabilities) throw new ProtocolFailure('INVALID_STATE', 'Already ready');
    const routerCodecs = new Set(this.router.rtpCapabilities.codecs?.map((c) => c.mimeType.toLowerCase()));
    if (!rtpCapabilities.codecs?.some((c) => routerCodecs.has(c.mimeType.toLowerCase()))) {
      throw new ProtocolFailure('BAD_REQUEST', 'None of these codecs can receive this room\'s media');
    }
    peer.rtpCapabilities = rtpCapabilities;
    const jobs: Promise<void>[] = [];
    for (const other of this.#peers.values()) {
      if (other === peer) continue;
      for (const producer of other.producers.values()) jobs.push(this.#consume(peer, other, producer));
    }
    await Promise.all(jobs);
  }

  /** Audio only (or video again) for this member: their video consumers pause (or resume) on the server. */
  async receiveVideo(peerId: string, video: boolean): Promise<void> {
    const peer = this.#peer(peerId);
    peer.receiveVideo = video;
    await Promise.all([...peer.consumers.values()].map((consumer) => this.#syncConsumer(peerId, consumer)));
  }

  async resumeConsumer(peerId: string, consumerId: string): Promise<void> {
    const consumer = this.#peer(peerId).consumers.get(consumerId);
    if (!consumer) throw new ProtocolFailure('NOT_FOUND', 'No such consumer');
    consumer.appData.clientReady = true;
    await this.#syncConsumer(peerId, consumer);
  }

  /**
   * How the receiver's page shows this video now: a tile off screen or hidden pauses it (on top
   * of what the policy says, so this never resumes what the policy pauses); a tile on screen
   * gets the smallest simulcast layer that covers its height.
   */
  async preferConsumer(peerId: string, consumerId: string, preference: { visible: boolean; height: number }): Promise<void> {
    const consumer = this.#peer(peerId).consumers.get(consumerId);
    if (!consumer) throw new ProtocolFailure('NOT_FOUND', 'No such consumer');
    if (consumer.kind !== 'video') throw new ProtocolFailure('BAD_REQUEST', 'Only a video consumer follows its tile');
    consumer.appData.visible = preference.visible;
    if (preference.visible) consumer.appData.tileHeight = preference.height;
    try {
      await this.#fitLayers(consumer);
      await this.#syncConsumer(peerId, consumer);
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
  async #fitLayers(consumer: types.Consumer<ConsumerData>): Promise<void> {
    if (consumer.type !== 'simulcast') return;
    const encodings = this.#peers.get(consumer.appData.senderId)?.producers.get(consumer.producerId)?.rtpParameters.encodings ?? [];
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

  async #consume(receiver: PeerMedia, sender: PeerMedia, producer: types.Producer<ProducerData>): Promise<void> {
    const transport = receiver.transportFor('recv');
    const rtpCapabilities = receiver.rtpCapabilities;
    if (!transport || !rtpCapabilities || producer.closed) return;
    if (!this.router.canConsume({ producerId: producer.id, rtpCapabilities })) return;
    const consumer = await transport.consume<ConsumerData>({
      producerId: producer.id,
      rtpCapabilities,
      paused: true,
      appData: { clientReady: false, senderId: sender.id, source: producer.appData.source, visible: true, tileHeight: undefined },
    });
    receiver.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => receiver.consumers.delete(consumer.id));
    consumer.on('producerclose', () => {
      consumer.close();
      receiver.notify('consumer:closed', { consumerId: consumer.id });
    });
    this.#announce(receiver, consumer);
  }

  #announce(receiver: PeerMedia, consumer: types.Consumer<ConsumerData>): void {
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

  close(): void {
    for (const peer of this.#peers.values()) peer.close();
    this.#peers.clear();
    this.router.close();
  }
}
