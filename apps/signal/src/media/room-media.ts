import { ProtocolFailure, type ConsumerOffer, type TransportDirection, type TransportOptions } from '@group-room/shared';
import type { types } from 'mediasoup';
import type { Logger } from '../logger.js';
import type { MediaPolicy } from '../room/state.js';
import type { MediaTap } from './media-tap.js';
import { PeerMedia, type Notify, type ProducerData } from './peer-media.js';
import { applyPolicy, producerOf, selfPaused, setProducerPaused } from './policy-sync.js';
import { produce, type ProduceRequest } from './producers.js';
import { NOBODY, peerOf, SILENT, type RoomContext } from './room-context.js';
import { offerToOthers, preferConsumer, receiveVideo, requestKeyFrames, resumeConsumer, resumeConsumers, resync, setReady, type ResumeEntry } from './subscriptions.js';
import type { TalkTime } from './talk-time.js';
import { connectPlain, connectTransport, createPlainTransport, createWebRtcTransport, restartIce, type TransportSite } from './transports.js';
import type { WorkerPool } from './worker-pool.js';

/** Audio louder than this (dBov) counts as speaking; quieter is room noise. */
const SPEAKING_THRESHOLD_DBOV = -55;
/** How often the audio-level observer reports, and so the resolution of talk time. */
export const TALK_INTERVAL_MS = 250;

export interface RoomMediaOptions {
  /**
   * Asked before media may start flowing to anyone (a consumer made or resumed): false once
   * this node no longer holds the room's lease. Always true when not given.
   */
  mayAct?: () => boolean;
  /** Where failures that are not the requester's go (e.g. one receiver's consumer); none when not given. */
  log?: Logger;
  /** Tests only (MEDIA_TAP_FILE): every producer is tapped from the moment it is made. */
  tap?: MediaTap;
}

/**
 * A room's media: its router and each member's transports, producers and consumers. Every
 * member receives every other member's producers. What flows is decided on the server:
 * `applyPolicy` is told who may send and receive (derived from room state) and pauses
 * producers and consumers accordingly, so no client can bypass it.
 *
 * This class is the façade; the work is done by concern in transports.ts, producers.ts,
 * subscriptions.ts and policy-sync.ts over one shared RoomContext.
 */
export class RoomMedia {
  readonly router: types.Router;
  /** The worker process carrying this room (tests kill it to check recovery). */
  readonly workerPid: number;
  readonly #site: TransportSite;
  readonly #peers = new Map<string, PeerMedia>();
  readonly #room: RoomContext;
  readonly #levels: types.AudioLevelObserver;
  /** Speaking time per member, from the audio-level observer; outlives this router (see RoomRegistry). */
  readonly talkTime: TalkTime;

  private constructor(site: TransportSite & { workerPid: number }, levels: types.AudioLevelObserver, talkTime: TalkTime, options: RoomMediaOptions) {
    this.router = site.router;
    this.workerPid = site.workerPid;
    this.talkTime = talkTime;
    this.#site = site;
    this.#room = { router: site.router, peers: this.#peers, policy: NOBODY, mayAct: options.mayAct ?? (() => true), log: options.log ?? SILENT, tap: options.tap };
    this.#levels = levels;
    levels.on('volumes', (volumes) => {
      // Someone aside is speaking with the facilitator, not to the group: not counted.
      const apart = this.#room.policy.apart;
      const ids = volumes.map(({ producer }) => (producer.appData as Partial<ProducerData>).peerId).filter((id): id is string => id !== undefined && !apart.has(id));
      this.talkTime.heard(ids, TALK_INTERVAL_MS, Date.now());
    });
  }

  /** `onLost`: the router's worker died, taking this room's media with it. */
  static async create(pool: WorkerPool, talkTime: TalkTime, onLost: () => void, options: RoomMediaOptions = {}): Promise<RoomMedia> {
    const lease = await pool.createRouter();
    const levels = await lease.router.createAudioLevelObserver({
      maxEntries: 64,
      threshold: SPEAKING_THRESHOLD_DBOV,
      interval: TALK_INTERVAL_MS,
    });
    lease.router.on('workerclose', onLost);
    return new RoomMedia(lease, levels, talkTime, options);
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
    return peerOf(this.#room, peerId);
  }

  async createTransport(peerId: string, direction: TransportDirection): Promise<TransportOptions> {
    return createWebRtcTransport(this.#site, this.#peer(peerId), direction);
  }

  /** Load tests: a plain RTP transport for a synthetic member (see transports.ts). */
  async createPlainTransport(peerId: string, direction: TransportDirection, srtp = false): Promise<{ id: string; ip: string; port: number }> {
    return createPlainTransport(this.#site, this.#peer(peerId), direction, srtp);
  }

  async connectPlain(peerId: string, transportId: string, ip: string, port: number): Promise<void> {
    await connectPlain(this.#peer(peerId), transportId, ip, port);
  }

  /** New ICE credentials for a transport whose path broke (the client restarts ICE with them). */
  async restartIce(peerId: string, transportId: string): Promise<types.IceParameters> {
    return restartIce(this.#peer(peerId), transportId);
  }

  /**
   * After a resume: announce again what the member has not set up yet (announcements sent
   * while they were away were lost), and say which consumers exist now.
   */
  resync(peerId: string): string[] {
    return resync(this.#peer(peerId));
  }

  async connectTransport(peerId: string, transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    await connectTransport(this.#peer(peerId), transportId, dtlsParameters);
  }

  /** Resolves once the producer is set up; a failure offering it to another member does not fail it. */
  async produce(peerId: string, request: ProduceRequest): Promise<types.Producer<ProducerData>> {
    return produce(this.#room, this.#levels, this.#peer(peerId), request);
  }

  /** The member's own mic/camera toggle; the producer stays paused while the policy says so. */
  async setProducerPaused(peerId: string, producerId: string, paused: boolean): Promise<void> {
    await setProducerPaused(this.#room, peerId, producerId, paused);
  }

  /** The member's latest own wish for a producer (undefined once it is gone). */
  selfPaused(peerId: string, producerId: string): boolean | undefined {
    return selfPaused(this.#room, peerId, producerId);
  }

  /**
   * Apply who may send and receive now: pause or resume every producer and consumer to match;
   * a screen the state has just recorded is offered to the others, one it dropped is closed.
   */
  async applyPolicy(policy: MediaPolicy): Promise<void> {
    const recorded = await applyPolicy(this.#room, policy);
    for (const { sender, producer } of recorded) await offerToOthers(this.#room, sender, producer);
  }

  closeProducer(peerId: string, producerId: string): void {
    producerOf(this.#room, peerId, producerId).close();
  }

  /**
   * The member can now receive: consume everything the others already send, and return those
   * consumers (listed, not announced). `tileHeight`: a camera tile's height in their layout,
   * the layer each simulcast camera starts on. UNAVAILABLE without the room's lease.
   */
  async setReady(peerId: string, rtpCapabilities: types.RtpCapabilities, tileHeight?: number): Promise<ConsumerOffer[]> {
    return setReady(this.#room, this.#peer(peerId), rtpCapabilities, tileHeight);
  }

  /** Audio only (or video again) for this member: their video consumers pause (or resume) on the server. */
  async receiveVideo(peerId: string, video: boolean): Promise<void> {
    await receiveVideo(this.#room, this.#peer(peerId), video);
  }

  /** UNAVAILABLE without the room's lease. */
  async resumeConsumer(peerId: string, consumerId: string): Promise<void> {
    await resumeConsumer(this.#room, this.#peer(peerId), consumerId);
  }

  /**
   * Many consumers at once, each as `resumeConsumer` after taking its preference; returns the
   * ids not found (see subscriptions.ts). UNAVAILABLE without the room's lease.
   */
  async resumeConsumers(peerId: string, entries: readonly ResumeEntry[]): Promise<string[]> {
    return resumeConsumers(this.#room, this.#peer(peerId), entries);
  }

  /** How the receiver's page shows this video now (see subscriptions.ts). */
  async preferConsumer(peerId: string, consumerId: string, preference: { visible: boolean; height: number }): Promise<void> {
    await preferConsumer(this.#room, this.#peer(peerId), consumerId, preference);
  }

  /** The member's browser has a new key: ask the senders of every video it receives for a key frame. */
  async requestKeyFrames(peerId: string): Promise<void> {
    await requestKeyFrames(this.#room, this.#peer(peerId));
  }

  close(): void {
    for (const peer of this.#peers.values()) peer.close();
    this.#peers.clear();
    this.router.close();
  }
}
