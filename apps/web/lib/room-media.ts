import {
  ProtocolFailure,
  type ConsumerOffer,
  type MediaSource,
  type RequestName,
  type RequestPayload,
  type ResponseData,
} from '@group-room/shared';
import type { Device } from 'mediasoup-client';
import type { Consumer, IceParameters, Producer, RtpCapabilities, RtpCodecCapability, RtpEncodingParameters, Transport, TransportOptions } from 'mediasoup-client/types';
import { describeError as describe } from './describe-error';
import type { FrameCrypto } from './e2ee/frame-crypto';
import { markJoin } from './join-timeline';
import { CodeUnavailable } from './load-retrying';
import { firstMedia } from './first-media';
import { newDevice } from './media-device';
import { estimateTileHeight } from './tile-height';
import type { SignalClient } from './signal-client';

/** How a member's tile shows their video here: on screen or not, and how tall in device pixels. */
export interface VideoPreference {
  visible: boolean;
  height: number;
}

/**
 * The camera's simulcast layers, lowest first: half and full size of the capture (180 and
 * 360 px high at 640×360). The server sends each receiver the smallest layer that covers the
 * tile it is shown in. Two, as Chromium encodes at most two layers of a 640×360 capture (a
 * third, quarter-size one was never sent); bitrates suit those sizes at 24 fps.
 */
const CAMERA_LAYERS: RtpEncodingParameters[] = [
  { scaleResolutionDownBy: 2, maxBitrate: 200_000 },
  { scaleResolutionDownBy: 1, maxBitrate: 500_000 },
];

/**
 * A shared screen's one layer: enough for sharp slides and text at a low frame rate (see
 * screen-capture.ts), far less than a camera's full layer would take at that size.
 */
const SCREEN_LAYER: RtpEncodingParameters = { maxBitrate: 1_200_000 };

/** A consumer of someone's media, and where its track goes. */
interface ConsumerEntry {
  consumer: Consumer;
  peerId: string;
  slot: TrackSlot;
}

/** The tracks received from one member: their microphone, their camera and their shared screen. */
export interface ReceivedTracks {
  audio?: MediaStreamTrack;
  video?: MediaStreamTrack;
  screen?: MediaStreamTrack;
}

/** Where a received track goes in ReceivedTracks. */
type TrackSlot = keyof ReceivedTracks;
const slotOf = (kind: 'audio' | 'video', source: MediaSource): TrackSlot => (source === 'screen' ? 'screen' : kind);

/** Whose video a tile shows: their camera, or their shared screen (a tile of its own). */
export type VideoSource = 'camera' | 'screen';
const preferenceKey = (peerId: string, source: VideoSource) => (source === 'screen' ? `${peerId}/screen` : peerId);

export type MediaPhase = 'none' | 'connecting' | 'ready';

/** What the media needs from the room's connection, and what it tells it. */
export interface MediaHost {
  /** Whether `signal` is still the room's connection: nothing is asked or kept through a replaced one. */
  isCurrent(signal: SignalClient): boolean;
  /** Ask for camera and microphone (once); media is set up after the browser answered. */
  openLocalMedia(): Promise<void>;
  /** The camera and microphone now; a track's `enabled` is its switch. */
  localStream(): MediaStream | undefined;
  /** The phase or the received tracks changed. */
  changed(): void;
  /** Media is connected both ways. */
  ready(): void;
  /** Media could not be set up, and not because the connection dropped. */
  failed(error: unknown): void;
  /**
   * The connection dropped while media was being set up (or code it needs could not be
   * fetched): what was made must be let go and set up again.
   */
  interrupted(): void;
  /** The server no longer has this page's media, or it could not be repaired: set it up again. */
  lost(): void;
  /**
   * The page's frame encryption: a transform goes on every sender and receiver as it is made.
   * Throws when the browser cannot encrypt (there is no unencrypted media).
   */
  frames(): FrameCrypto;
}

/** mediasoup-client's interfaces and our wire schemas describe the same JSON. */
const wire = <T,>(value: object): T => value as T;

/** The relays the server handed out with `media:join`, and whether to use nothing else. */
interface IceSettings {
  iceServers: RTCIceServer[];
  iceTransportPolicy: RTCIceTransportPolicy;
}

/**
 * Relay only (through TURN): set by the deployment test to prove the relay path, and usable by
 * anyone who wants the media server never to see their own address. A browser setting, not a
 * server one: it changes only this browser's connection.
 */
const RELAY_ONLY_KEY = 'group-room:relay-only';
function relayOnly(): boolean {
  try {
    return window.localStorage.getItem(RELAY_ONLY_KEY) === '1';
  } catch {
    return false; // storage blocked: the default
  }
}

/** A media start that a newer one (or leaving) replaced: it stops quietly. */
class Superseded extends Error {}

/** `promise`, marked as handled: awaited later, where its failure is met, or never (an earlier step failed). */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** A transport's ICE that went `disconnected` often comes back by itself: this long first. */
const ICE_DISCONNECTED_WAIT_MS = 2000;
/** After an ICE restart, looked at again this much later, and restarted again if still broken. */
const ICE_RECHECK_MS = 8000;
/** The longest a newcomer's consumers wait for the page's first media key before they are resumed. */
const KEY_WAIT_MS = 1000;

/**
 * This page's media in the room: the mediasoup-client Device, a send and a receive transport,
 * the producers of the local camera and microphone, and the consumers of the others' media.
 * Started once per entry (after a re-acknowledgement the server resumes paused media itself),
 * repaired after a resume, and started again (by the host) when the server's media was lost.
 */
export class RoomMedia {
  readonly #host: MediaHost;
  #phase: MediaPhase = 'none';
  #sendTransport: Transport | undefined;
  /** The device media was set up with (for what it can encode). */
  #device: Device | undefined;
  #recvTransport: Transport | undefined;
  /** Bumped whenever media is let go, so a start still under way knows it is no longer current. */
  #run = 0;
  /** Bumped at each drop, so a media start that lived through one knows it. */
  #drops = 0;
  /**
   * The seat came back (repair asked for) while media was still connecting: what the start
   * asked meanwhile may have been lost with the connection (the listed consumers' resume, a
   * switch), so the start repairs once it is ready.
   */
  #repairOwed = false;
  /** #drops when the current start began: only a drop after that leaves it something to repair. */
  #startedAtDrop = 0;
  readonly #producers = new Map<MediaSource, Producer>();
  readonly #consumers = new Map<string, ConsumerEntry>();
  /**
   * Consumers being set up, and whether the server closed them meanwhile: announced again
   * meanwhile, they are not set up twice; closed meanwhile, they are let go once set up.
   */
  readonly #pendingConsumers = new Map<string, { closed: boolean }>();
  /**
   * How each member's tiles show their video here, by member id (a shared screen: `id/screen`): kept while the tile is there,
   * so a video consumer made later (media set up again, a resume) is told at once.
   */
  readonly #videoPreferences = new Map<string, VideoPreference>();
  /** The preference the server has for each video consumer, so only changes are sent. */
  readonly #sentPreferences = new Map<string, string>();
  /** ICE restarts in flight, by transport id (one at a time each). */
  readonly #iceRestarts = new Map<string, Promise<void>>();
  /** A transport's next look at its ICE state, by transport id. */
  readonly #iceTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /**
   * Received tracks by member id; kept apart from the view so their order never matters.
   * Replaced (never changed in place) when they change, so the host can tell by identity.
   */
  #tracks: ReadonlyMap<string, ReceivedTracks> = new Map();

  constructor(host: MediaHost) {
    this.#host = host;
  }

  get phase(): MediaPhase {
    return this.#phase;
  }

  get tracks(): ReadonlyMap<string, ReceivedTracks> {
    return this.#tracks;
  }

  /**
   * Whose tile each consumer shows, by consumer id (for the tiles' encryption state): the peer's
   * id, or `<peer id>/screen` for their shared screen, whose lock is its own.
   */
  consumerPeers(): Map<string, string> {
    return new Map([...this.#consumers].map(([id, { peerId, slot }]) => [id, slot === 'screen' ? `${peerId}/screen` : peerId]));
  }

  /** The connection dropped: a start under way fails (its requests do) and is started again by the host. */
  connectionLost(): void {
    this.#drops++;
  }

  async start(signal: SignalClient): Promise<void> {
    const run = ++this.#run;
    const drops = this.#drops;
    this.#repairOwed = false;
    this.#startedAtDrop = drops;
    const current = () => this.#host.isCurrent(signal) && this.#run === run;
    /** Each step only while this start is still the current one (a stale one must not ask the server anything). */
    const check = () => {
      if (!current()) throw new Superseded();
    };
    const ask = async <K extends RequestName>(name: K, payload: RequestPayload<K>): Promise<ResponseData<K>> => {
      check();
      const data = await signal.request(name, payload);
      check();
      return data;
    };
    /** What was made is kept only while this start is still the current one. */
    const mine = <T extends { close(): void }>(made: T): T => {
      if (current()) return made;
      made.close();
      throw new Superseded();
    };
    this.#phase = 'connecting';
    this.#host.changed();
    // Receiving need not wait for the camera (someone may be let in before the browser has
    // answered the camera request): only sending does, below.
    const camera = this.#host.openLocalMedia();
    camera.then(() => markJoin('camera'), () => undefined);
    try {
      // Each of the next requests is sent without waiting for the one before it to be answered:
      // the server takes a connection's media setup requests in the order sent (so the receive
      // transport follows media:join, and media:ready that transport), and a refusal refuses the
      // rest (met at their await; until then a rejection is not left unhandled).
      const joining = ask('media:join', {});
      const recvOptions = quiet(ask('transport:create', { direction: 'recv' }));
      const loading = quiet(newDevice()); // loaded apart from the page's first screen (media-device.ts)
      const { routerRtpCapabilities, iceServers } = await joining;
      markJoin('media-join');
      const device = await loading;
      await device.load({ routerRtpCapabilities: wire<RtpCapabilities>(routerRtpCapabilities) });
      check();
      this.#device = device;
      const ice: IceSettings = { iceServers, iceTransportPolicy: relayOnly() ? 'relay' : 'all' };
      const tileHeight = this.#knownTileHeight() ?? estimateTileHeight();
      const ready = quiet(
        ask('media:ready', {
          rtpCapabilities: wire<RequestPayload<'media:ready'>['rtpCapabilities']>(device.rtpCapabilities),
          ...(tileHeight === undefined ? {} : { tileHeight }),
        }),
      );
      // Made here before media:ready is answered: that answer, and any producer announced after
      // it, come after this transport's options on the connection.
      this.#recvTransport = mine(this.#makeTransport(signal, device, 'recv', await recvOptions, ice));
      markJoin('recv-transport');
      const { consumers } = await ready;
      markJoin('consumers-listed');
      // What the others send already is received first: the send side (its renegotiation, its
      // encoder, the server's consumers of it for everyone) follows once the others' first
      // video has arrived (within a bound), so on a busy machine it does not hold up the
      // pictures this person waits for.
      let made: (video: MediaStreamTrack[]) => void = () => undefined;
      const consumersMade = new Promise<MediaStreamTrack[]>((resolve) => {
        made = resolve;
      });
      const receiving = this.#receiveListed(signal, consumers, current, made);
      await firstMedia(await Promise.race([consumersMade, receiving.then(() => [])]));
      await camera;
      check();
      this.#sendTransport = mine(await this.#createTransport(signal, device, 'send', ice));
      await this.#produceLocalTracks(device, mine);
      check();
      markJoin('producers');
      // A switch turned while a producer was being made reached only this page.
      await this.#syncProducers(signal, false);
      // Settles, never fails: a consumer not received is a warning, not a failed entry (as one announced).
      await receiving;
      if (!current()) return;
      this.#phase = 'ready';
      this.#host.ready();
      // Back from a drop during the start: the resync has the server announce again what was
      // not resumed, and the switches turned while away reach it. (Still away: the resume repairs.)
      if (this.#repairOwed) await this.repair(signal);
    } catch (error) {
      if (error instanceof Superseded || !current()) return;
      // mediasoup-client's code not fetched (after its tries) is a network failure too: set up
      // again (its load tried anew), never an ended entry.
      if (this.#drops !== drops || !signal.seated || error instanceof CodeUnavailable) return this.#host.interrupted();
      this.#host.failed(error);
    }
  }

  async #createTransport(signal: SignalClient, device: Device, direction: 'send' | 'recv', ice: IceSettings): Promise<Transport> {
    return this.#makeTransport(signal, device, direction, await signal.request('transport:create', { direction }), ice);
  }

  /** The mediasoup-client transport for the server's `answer` to transport:create, wired to the server. */
  #makeTransport(signal: SignalClient, device: Device, direction: 'send' | 'recv', answer: ResponseData<'transport:create'>, ice: IceSettings): Transport {
    const frames = this.#host.frames();
    const options = { ...wire<TransportOptions>(answer), ...ice, additionalSettings: frames.transportSettings };
    const transport = direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      signal.request('transport:connect', { transportId: transport.id, dtlsParameters: wire(dtlsParameters) }).then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        const source = appData['source'] as MediaSource;
        const paused = appData['paused'] === true;
        signal
          .request('media:produce', { transportId: transport.id, kind, source, rtpParameters: wire(rtpParameters), paused })
          .then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    transport.on('connectionstatechange', (state) => {
      if (direction === 'recv' && state === 'connected') markJoin('recv-connected');
      this.#watchIce(signal, transport, state);
    });
    return transport;
  }

  async #produceLocalTracks(device: Device, mine: <T extends { close(): void }>(made: T) => T): Promise<void> {
    const stream = this.#host.localStream();
    const transport = this.#sendTransport;
    if (!stream || !transport) return;
    const tracks: [MediaSource, MediaStreamTrack | undefined, 'audio' | 'video'][] = [
      ['mic', stream.getAudioTracks()[0], 'audio'],
      ['camera', stream.getVideoTracks()[0], 'video'],
    ];
    for (const [source, track, kind] of tracks) {
      if (!track || !device.canProduce(kind)) continue;
      // Someone who muted (before being let in, or before media was set up again) stays muted: the producer starts paused.
      const paused = !track.enabled;
      // stopTracks: false, as the camera and microphone outlive the producers (media set up again keeps them).
      const video = kind === 'video' ? cameraEncoding(device) : {};
      const frames = this.#host.frames();
      // The transform is on the sender before its first frame can leave (fail closed: no key, no frame).
      const onRtpSender = (sender: RTCRtpSender) => frames.attachSender(sender, kind);
      const producer = mine(await transport.produce({ track, stopTracks: false, ...video, onRtpSender, appData: { source, paused } }));
      if (paused) producer.pause();
      this.#producers.set(source, producer);
    }
  }

  /**
   * Tell the server each producer's switch as it is on this page (`always`: even if it looks
   * unchanged, e.g. after a resume, when switches turned while away reached nobody).
   */
  async #syncProducers(signal: SignalClient, always: boolean): Promise<void> {
    const stream = this.#host.localStream();
    for (const [source, producer] of [...this.#producers]) {
      const track = source === 'mic' ? stream?.getAudioTracks()[0] : stream?.getVideoTracks()[0];
      if (!track || producer.closed) continue;
      const paused = !track.enabled;
      if (!always && producer.paused === paused) continue;
      if (paused) producer.pause();
      else producer.resume();
      await signal.request('media:setProducerPaused', { producerId: producer.id, paused });
    }
  }

  /**
   * Pause or resume one producer, here and on the server; rejects when the server did not take
   * it. Before media is connected there is none: the switch is only local, and the producer
   * starts as it is. While reconnecting it holds here and reaches the server with the resume (repair).
   */
  async setPaused(signal: SignalClient, source: MediaSource, paused: boolean): Promise<void> {
    const producer = this.#producers.get(source);
    if (!producer) return;
    if (paused) producer.pause();
    else producer.resume();
    if (!signal.seated) return;
    await signal.request('media:setProducerPaused', { producerId: producer.id, paused });
  }

  /**
   * Send a shared screen (see screen-share.ts) on the send transport: one VP8 layer (no
   * simulcast: slides need one sharp picture, and the server takes no more), encrypted like the
   * camera from its first frame. The server refuses it without a grant. Closed with the rest
   * when media is let go (the producer hears `transportclose`).
   */
  async produceScreen(track: MediaStreamTrack): Promise<Producer> {
    const transport = this.#sendTransport;
    const device = this.#device;
    if (this.#phase !== 'ready' || !transport || transport.closed || !device) throw new Error('audio and video are not connected');
    const codec = device.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === 'video/vp8');
    if (!codec) throw new Error('this browser cannot send VP8 video');
    const frames = this.#host.frames();
    return transport.produce({
      track,
      codec,
      encodings: [{ ...SCREEN_LAYER }],
      // The share's track is the sharer's to stop (screen-share.ts), not the producer's.
      stopTracks: false,
      onRtpSender: (sender: RTCRtpSender) => frames.attachSender(sender, 'video', 'screen'),
      appData: { source: 'screen', paused: false },
    });
  }

  /** A member's producer was announced (`consumer:new`): receive it. */
  async consume(signal: SignalClient, event: ConsumerOffer): Promise<void> {
    if (!this.#host.isCurrent(signal)) return;
    const { consumerId } = event;
    // Announced again (after a resume): set up already, so only ask for its media again.
    const known = this.#consumers.get(consumerId);
    if (known) {
      await this.#sendPreferenceOrWarn(signal, known);
      await signal.request('consumer:resume', { consumerId });
      return;
    }
    const entry = await this.#setUpConsumer(signal, event);
    if (!entry) return;
    // Before its media starts, so a tile off screen never receives it.
    await this.#sendPreferenceOrWarn(signal, entry);
    await signal.request('consumer:resume', { consumerId: entry.consumer.id });
  }

  /**
   * The consumers `media:ready` listed (what the others send already): set up together, as
   * mediasoup-client makes the consumers asked for at once in one renegotiation, then resumed
   * in one request, each video with its tile's preference (known, else the layout's estimate).
   * Never rejects: what could not be received is a warning, as for one announced. `made`: told
   * the video tracks once the consumers are made (or could not be).
   */
  async #receiveListed(signal: SignalClient, offers: readonly ConsumerOffer[], current: () => boolean, made: (video: MediaStreamTrack[]) => void): Promise<void> {
    if (!offers.length) return;
    try {
      // Not awaited one by one: each consume() call queues its consumer before the first await.
      const results = await Promise.allSettled(offers.map((offer) => this.#setUpConsumer(signal, offer)));
      // The videos that will have media (a paused producer sends none).
      made(results.flatMap((r, i) => (r.status === 'fulfilled' && r.value?.consumer.kind === 'video' && !offers[i]!.producerPaused ? [r.value.consumer.track] : [])));
      // Let go of meanwhile: a superseded start says nothing (it would warn for every consumer).
      if (!current()) return;
      for (const result of results) if (result.status === 'rejected') console.warn("could not receive a member's media:", describe(result.reason));
      if (!signal.seated) return;
      markJoin('consumers-made');
      const madeHere = results.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
      if (!madeHere.length) return;
      // Resuming asks the senders for a key frame. A newcomer's key comes with the others moving
      // to it: a key frame asked for before would not decrypt here, and the picture would wait
      // for the next one. So the key first (it is usually on its way), within a bound.
      await Promise.race([this.#host.frames().keyed, new Promise((resolve) => setTimeout(resolve, KEY_WAIT_MS))]);
      if (!current() || !signal.seated) return;
      // Still ours after the wait: closed meanwhile (`consumer:closed`) it is no longer in the map.
      const entries = madeHere.filter((entry) => this.#consumers.get(entry.consumer.id) === entry);
      if (!entries.length) return;
      const estimate = estimateTileHeight();
      const preferences = new Map(entries.map((entry) => [entry, this.#resumePreference(entry, estimate)]));
      const sent = new Map<string, string>();
      const consumers = entries.map((entry) => {
        const preference = preferences.get(entry);
        if (!preference) return { consumerId: entry.consumer.id };
        const key = `${preference.visible}:${preference.height}`;
        sent.set(entry.consumer.id, key);
        this.#sentPreferences.set(entry.consumer.id, key);
        return { consumerId: entry.consumer.id, preference };
      });
      let missing: string[];
      try {
        ({ missing } = await signal.request('consumers:resume', { consumers }));
      } catch (error) {
        // Not taken: sent again with the tile's next change or the next repair (as consumer:prefer).
        for (const [id, key] of sent) if (this.#sentPreferences.get(id) === key) this.#sentPreferences.delete(id);
        // Dropped, or let go of: the resume's resync announces again what was not resumed.
        if (!current() || !signal.seated) return;
        // Refused as a whole, not for a drop: each on its own, as an announced one is.
        console.warn("the others' media was not resumed together:", describe(error));
        await Promise.all(entries.map((entry) => this.#resumeOne(signal, entry, preferences.get(entry))));
        if (current()) markJoin('consumers-resumed');
        return;
      }
      if (!current()) return;
      // Closed on the server meanwhile (its producer went): let go here too.
      for (const consumerId of missing) this.closeConsumer(consumerId);
      markJoin('consumers-resumed');
    } catch (error) {
      // Let go of meanwhile, or the connection dropped: the resume's resync announces again what was not resumed.
      if (!current() || !signal.seated) return;
      console.warn("could not receive the others' media:", describe(error));
    }
  }

  /**
   * Resume one listed consumer with `consumer:prefer` then `consumer:resume` (when the batch was
   * refused). Never rejects: a preference not taken only costs bandwidth; a consumer the server
   * no longer has is let go here too; anything else is a warning.
   */
  async #resumeOne(signal: SignalClient, entry: ConsumerEntry, preference: VideoPreference | undefined): Promise<void> {
    const consumerId = entry.consumer.id;
    const stillOurs = () => this.#consumers.get(consumerId) === entry && this.#host.isCurrent(signal) && signal.seated;
    const gone = (error: unknown) => error instanceof ProtocolFailure && error.code === 'NOT_FOUND';
    if (preference) {
      const key = `${preference.visible}:${preference.height}`;
      this.#sentPreferences.set(consumerId, key);
      try {
        await signal.request('consumer:prefer', { consumerId, ...preference });
      } catch (error) {
        if (this.#sentPreferences.get(consumerId) === key) this.#sentPreferences.delete(consumerId);
        if (!stillOurs()) return;
        if (gone(error)) return this.closeConsumer(consumerId);
        console.warn('video size not sent:', describe(error));
      }
    }
    if (!stillOurs()) return;
    try {
      await signal.request('consumer:resume', { consumerId });
    } catch (error) {
      if (!stillOurs()) return;
      if (gone(error)) return this.closeConsumer(consumerId);
      console.warn("could not receive a member's media:", describe(error));
    }
  }

  /** The preference a video consumer is resumed with: its tile's, else the estimate (a camera's). */
  #resumePreference({ consumer, peerId, slot }: ConsumerEntry, estimate: number | undefined): VideoPreference | undefined {
    if (consumer.kind !== 'video') return undefined;
    const known = this.#videoPreferences.get(preferenceKey(peerId, slot === 'screen' ? 'screen' : 'camera'));
    if (known) return known;
    return slot === 'video' && estimate !== undefined ? { visible: true, height: estimate } : undefined;
  }

  /** The camera tiles' height as they reported it (the smallest on screen: the speaker's may be larger). */
  #knownTileHeight(): number | undefined {
    const heights = [...this.#videoPreferences]
      .filter(([key, preference]) => !key.endsWith('/screen') && preference.visible && preference.height > 0)
      .map(([, preference]) => preference.height);
    return heights.length ? Math.min(...heights) : undefined;
  }

  /**
   * Make the consumer the server offered, fail closed (the decrypting transform is on its
   * receiver before media can flow), and hand its track to the tiles. Undefined when it is
   * being set up already, or was closed or let go meanwhile.
   */
  async #setUpConsumer(signal: SignalClient, offer: ConsumerOffer): Promise<ConsumerEntry | undefined> {
    const transport = this.#recvTransport;
    if (!transport || transport.closed || !this.#host.isCurrent(signal)) return undefined;
    const { consumerId } = offer;
    // Being set up: it asks for its media once it is.
    if (this.#pendingConsumers.has(consumerId) || this.#consumers.has(consumerId)) return undefined;
    const pending = { closed: false };
    this.#pendingConsumers.set(consumerId, pending);
    const run = this.#run;
    let consumer: Consumer;
    const frames = this.#host.frames();
    try {
      consumer = await transport.consume({
        id: consumerId,
        producerId: offer.producerId,
        kind: offer.kind,
        rtpParameters: wire(offer.rtpParameters),
        // Nothing reaches the decoder but what decrypts under the sender's key.
        onRtpReceiver: (receiver) => frames.attachReceiver(receiver, offer.kind, offer.peerId, consumerId),
      });
    } finally {
      this.#pendingConsumers.delete(consumerId);
    }
    if (pending.closed || run !== this.#run || !this.#host.isCurrent(signal)) {
      consumer.close();
      return undefined;
    }
    const entry: ConsumerEntry = { consumer, peerId: offer.peerId, slot: slotOf(offer.kind, offer.source) };
    this.#consumers.set(consumer.id, entry);
    this.#tracks = new Map(this.#tracks).set(offer.peerId, { ...this.#tracks.get(offer.peerId), [entry.slot]: consumer.track });
    this.#host.changed();
    return entry;
  }

  /**
   * How `peerId`'s tile shows their camera (or their shared screen) here (null: no tile for it
   * now). Sent for that video consumer when it changed; kept, and sent to one made later.
   */
  async preferVideo(signal: SignalClient | undefined, peerId: string, preference: VideoPreference | null, source: VideoSource = 'camera'): Promise<void> {
    const key = preferenceKey(peerId, source);
    if (!preference) {
      this.#videoPreferences.delete(key);
      return;
    }
    this.#videoPreferences.set(key, preference);
    const slot = source === 'screen' ? 'screen' : 'video';
    const entry = [...this.#consumers.values()].find((e) => e.peerId === peerId && e.slot === slot);
    // Without a seat nothing can be asked: the repair after the resume sends it.
    if (!entry || !signal?.seated || !this.#host.isCurrent(signal)) return;
    await this.#sendPreference(signal, entry);
  }

  /** A preference not taken only costs bandwidth: the media goes on (and the next change tries again). */
  async #sendPreferenceOrWarn(signal: SignalClient, entry: ConsumerEntry): Promise<void> {
    await this.#sendPreference(signal, entry).catch((error: unknown) => console.warn('video size not sent:', describe(error)));
  }

  /** Tell the server how a video consumer's tile shows it, unless the server has that already. */
  async #sendPreference(signal: SignalClient, { consumer, peerId, slot }: ConsumerEntry): Promise<void> {
    const preference = this.#videoPreferences.get(preferenceKey(peerId, slot === 'screen' ? 'screen' : 'camera'));
    if (consumer.kind !== 'video' || consumer.closed || !preference) return;
    const key = `${preference.visible}:${preference.height}`;
    if (this.#sentPreferences.get(consumer.id) === key) return;
    this.#sentPreferences.set(consumer.id, key);
    try {
      await signal.request('consumer:prefer', { consumerId: consumer.id, ...preference });
    } catch (error) {
      // Not taken: sent again with the next change or the next repair.
      if (this.#sentPreferences.get(consumer.id) === key) this.#sentPreferences.delete(consumer.id);
      throw error;
    }
  }

  /** The server closed a consumer (`consumer:closed`, or gone at a resync). */
  closeConsumer(consumerId: string): void {
    const pending = this.#pendingConsumers.get(consumerId);
    if (pending) pending.closed = true;
    const entry = this.#consumers.get(consumerId);
    if (!entry) return;
    entry.consumer.close();
    this.#consumers.delete(consumerId);
    this.#sentPreferences.delete(consumerId);
    const tracks = this.#tracks.get(entry.peerId);
    const slot = entry.slot;
    if (tracks && tracks[slot] === entry.consumer.track) {
      const rest = { ...tracks };
      delete rest[slot];
      const next = new Map(this.#tracks);
      if (rest.audio || rest.video || rest.screen) next.set(entry.peerId, rest);
      else next.delete(entry.peerId);
      this.#tracks = next;
    }
    this.#host.changed();
  }

  /**
   * Back in the seat with media set up: new ICE credentials for both transports (the network
   * path may have changed), then drop the consumers the server no longer has (it announces
   * again those not resumed yet). If the server no longer has the transports (it restarted),
   * media is set up again from the start.
   */
  async repair(signal: SignalClient): Promise<void> {
    // (A start begun after the drop, e.g. set up again on the resume, asked everything since.)
    if (this.#phase === 'connecting' && this.#drops !== this.#startedAtDrop) this.#repairOwed = true;
    if (this.#phase !== 'ready') return;
    this.#repairOwed = false;
    const run = this.#run;
    try {
      for (const transport of [this.#sendTransport, this.#recvTransport]) {
        if (!transport || transport.closed) throw new Error('a transport was closed');
        await this.#restartIce(signal, transport);
      }
      const { consumerIds } = await signal.request('media:resync', {});
      if (run !== this.#run || !this.#host.isCurrent(signal)) return;
      const kept = new Set(consumerIds);
      for (const consumerId of [...this.#consumers.keys()]) if (!kept.has(consumerId)) this.closeConsumer(consumerId);
      await this.#syncProducers(signal, true);
      // Tiles that changed while away reached nobody: every preference goes again.
      this.#sentPreferences.clear();
      for (const entry of [...this.#consumers.values()]) await this.#sendPreferenceOrWarn(signal, entry);
    } catch (error) {
      // Let go of meanwhile, or dropped again (the next resume repairs).
      if (run !== this.#run || !this.#host.isCurrent(signal) || !signal.seated) return;
      console.warn('audio and video are set up again:', describe(error));
      this.#host.lost();
    }
  }

  /** New ICE credentials for a transport, from the server; one restart at a time per transport. */
  #restartIce(signal: SignalClient, transport: Transport): Promise<void> {
    const inFlight = this.#iceRestarts.get(transport.id);
    if (inFlight) return inFlight;
    const restart = (async () => {
      const { iceParameters } = await signal.request('transport:restartIce', { transportId: transport.id });
      if (!transport.closed) await transport.restartIce({ iceParameters: wire<IceParameters>(iceParameters) });
    })().finally(() => {
      if (this.#iceRestarts.get(transport.id) === restart) this.#iceRestarts.delete(transport.id);
    });
    this.#iceRestarts.set(transport.id, restart);
    return restart;
  }

  /** A transport's connection changed: `failed` is restarted at once, `disconnected` if it does not come back by itself. */
  #watchIce(signal: SignalClient, transport: Transport, state: Transport['connectionState']): void {
    clearTimeout(this.#iceTimers.get(transport.id));
    this.#iceTimers.delete(transport.id);
    if (state === 'failed') this.#restartIceLater(signal, transport, 0);
    else if (state === 'disconnected') this.#restartIceLater(signal, transport, ICE_DISCONNECTED_WAIT_MS);
  }

  #restartIceLater(signal: SignalClient, transport: Transport, delay: number): void {
    const timer = setTimeout(() => {
      this.#iceTimers.delete(transport.id);
      const state = transport.connectionState;
      if (transport.closed || !this.#host.isCurrent(signal) || (state !== 'failed' && state !== 'disconnected')) return;
      // Without a seat nothing can be asked; the resume restarts ICE itself.
      if (!signal.seated) return;
      this.#restartIce(signal, transport).then(
        () => this.#restartIceLater(signal, transport, ICE_RECHECK_MS),
        (error: unknown) => {
          if (transport.closed || !this.#host.isCurrent(signal) || !signal.seated) return;
          // The server no longer has this transport: set media up again.
          if (error instanceof ProtocolFailure && error.code === 'NOT_FOUND') return this.#host.lost();
          console.warn('ICE could not be restarted:', describe(error));
          this.#restartIceLater(signal, transport, ICE_RECHECK_MS);
        },
      );
    }, delay);
    this.#iceTimers.set(transport.id, timer);
  }

  /** Close transports, producers and consumers here; the local stream and its switches stay as they are. */
  drop(): void {
    this.#run++;
    for (const timer of this.#iceTimers.values()) clearTimeout(timer);
    this.#iceTimers.clear();
    this.#iceRestarts.clear();
    for (const { consumer } of this.#consumers.values()) consumer.close();
    this.#consumers.clear();
    this.#sentPreferences.clear();
    this.#pendingConsumers.clear();
    this.#tracks = new Map();
    for (const producer of this.#producers.values()) producer.close();
    this.#producers.clear();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#sendTransport = undefined;
    this.#recvTransport = undefined;
    this.#device = undefined;
    this.#phase = 'none';
  }
}

/**
 * The camera's producer options: simulcast layers in VP8 (the router's first video codec,
 * which every browser can encode in simulcast), or one stream if the browser has no VP8.
 */
function cameraEncoding(device: Device): { encodings?: RtpEncodingParameters[]; codec?: RtpCodecCapability } {
  const codec = device.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === 'video/vp8');
  return codec ? { codec, encodings: CAMERA_LAYERS.map((layer) => ({ ...layer })) } : {};
}
