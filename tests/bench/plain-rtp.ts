import type { Socket as UdpSocket } from 'node:dgram';
import { MAX_CONSUMER_BATCH, type ConsumerOffer, type MediaSource, type RoomView } from '@group-room/shared';
import { io } from 'socket.io-client';
import { bindUdp, KIND, keyRequests, mediaSsrc, PlainStream, probeNumber } from '../support/plain-rtp.js';
import { startProductionServer } from '../support/prod-server.js';
import { ask, type Client } from '../support/synthetic-keys.js';

/*
 * People without a browser for the media benches (bench:share, bench:aside): a socket.io
 * client each, on the real path (enter, agreement, admitted by the facilitator, media:join;
 * as the web client does, the consumers media:ready lists resumed with one consumers:resume,
 * those announced later by consumer:new each with consumer:resume), sending over plain RTP
 * transports (the server runs
 * with SYNTHETIC_MEDIA=true) and timing what arrives. Each source is its own stream
 * (tests/support/plain-rtp.ts): audio every 20 ms, VP8-shaped video at a set frame rate that
 * starts with a key frame and answers the server's key frame requests (RTCP PLI/FIR) with one at
 * the next frame, as a browser's encoder does (a forwarded video starts only at a key frame).
 * While `probing`, each named stream also carries a probe packet every millisecond or so, each
 * with its number; the sender keeps their send times (PlainStream.probesSent).
 * Every packet received is stamped on arrival (performance.now) by the SSRC of the consumer
 * carrying it, so the first and last packet of each consumer, and which probes it brought and
 * when, are known.
 */

/** What one consumer brought: whose, which source, and when its packets arrived. */
export interface Arrivals {
  consumerId: string;
  producerId: string;
  peerId: string;
  source: MediaSource;
  first: number | undefined;
  last: number | undefined;
  closedAt: number | undefined;
  /** The sender's probes that arrived: arrival time by probe number. */
  probes: Map<number, number>;
}

export class PlainClient {
  readonly socket: Client;
  readonly id: string;
  /** This person's latest view. */
  view: RoomView;
  readonly #out: UdpSocket;
  readonly #in: UdpSocket;
  readonly #sending = new Map<MediaSource, { stream: PlainStream; producerId: string; timer: NodeJS.Timeout }>();
  #probe: NodeJS.Timeout | undefined;
  /** By the SSRC of the consumer carrying it. */
  readonly #arrivals = new Map<number, Arrivals>();
  #send: { id: string; ip: string; port: number } | undefined;

  private constructor(socket: Client, view: RoomView, out: UdpSocket, inbound: UdpSocket) {
    this.socket = socket;
    this.id = view.self.id;
    this.view = view;
    this.#out = out;
    this.#in = inbound;
    socket.on('room:view', ({ view: next }) => {
      this.view = next;
    });
    inbound.on('message', (packet) => this.#arrived(packet));
    // Key frame requests come back to where the media comes from (comedia).
    out.on('message', (packet) => {
      for (const ssrc of keyRequests(packet)) for (const { stream } of this.#sending.values()) if (stream.ssrc === ssrc) stream.wantKey();
    });
    socket.on('consumer:new', (consumer) => {
      this.#offered(consumer);
      void ask(socket, 'consumer:resume', { consumerId: consumer.consumerId }).catch(() => undefined);
    });
    socket.on('consumer:closed', ({ consumerId }) => {
      for (const stream of this.#arrivals.values()) if (stream.consumerId === consumerId) stream.closedAt = performance.now();
    });
  }

  /** Enter with a link's token (a member agrees); a member then waits to be admitted (see `admit`). */
  static async enter(url: string, roomId: string, token: string, name: string): Promise<PlainClient> {
    const socket: Client = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, query: { room: roomId } });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const { view } = await ask(socket, 'room:enter', { roomId, token, displayName: name });
    const client = new PlainClient(socket, view, await bindUdp(4 * 1024 * 1024), await bindUdp(4 * 1024 * 1024));
    if (view.self.role === 'member') {
      await ask(socket, 'room:command', { command: { type: 'agreement.acknowledge', version: view.agreement.version, privateSpace: true } });
    }
    return client;
  }

  /** Resolves once this person's view satisfies `where`. */
  async until(where: (view: RoomView) => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!where(this.view)) {
      if (performance.now() > deadline) throw new Error(`${this.view.self.displayName}: the view never came`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** A consumer offered (listed by media:ready or announced): its packets are told apart by its SSRC from now on. */
  #offered(consumer: ConsumerOffer): void {
    const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
    if (ssrc !== undefined) this.#arrivals.set(ssrc, { consumerId: consumer.consumerId, producerId: consumer.producerId, peerId: consumer.peerId, source: consumer.source, first: undefined, last: undefined, closedAt: undefined, probes: new Map() });
  }

  /**
   * Start media: receive everyone. What the others already send is listed in media:ready's
   * answer and resumed in one consumers:resume (in batches of the most one takes); later
   * consumers as they are announced.
   */
  async startMedia(): Promise<void> {
    const { routerRtpCapabilities } = await ask(this.socket, 'media:join', {});
    const recv = await ask(this.socket, 'transport:createPlain', { direction: 'recv' });
    await ask(this.socket, 'transport:connectPlain', { transportId: recv.id, ip: '127.0.0.1', port: this.#in.address().port });
    const { consumers } = await ask(this.socket, 'media:ready', { rtpCapabilities: routerRtpCapabilities });
    consumers.forEach((consumer) => this.#offered(consumer));
    for (let at = 0; at < consumers.length; at += MAX_CONSUMER_BATCH) {
      await ask(this.socket, 'consumers:resume', { consumers: consumers.slice(at, at + MAX_CONSUMER_BATCH).map(({ consumerId }) => ({ consumerId })) });
    }
  }

  /**
   * A producer for `source`, its stream sent once the server has answered, starting with a key
   * frame (as in a browser: RTP for a new track flows once the answer completes the send
   * transport's negotiation, and an encoder starts with a key frame).
   */
  async produce(source: MediaSource, fps = 30): Promise<string> {
    this.#send ??= await ask(this.socket, 'transport:createPlain', { direction: 'send' });
    const stream = new PlainStream(source, fps);
    const send = this.#send;
    const { producerId } = await ask(this.socket, 'media:produce', { transportId: send.id, kind: KIND[source], source, rtpParameters: stream.rtpParameters(), paused: false });
    this.stopSending(source);
    const tick = () => stream.next().forEach((packet) => this.#out.send(packet, send.port, send.ip));
    // The first frame at once, as a track's first frame is sent as soon as it is captured.
    tick();
    this.#sending.set(source, { stream, producerId, timer: setInterval(tick, KIND[source] === 'audio' ? 20 : 1000 / fps) });
    return producerId;
  }

  /** This person's stream of a producer (for its probes' send times). */
  sent(producerId: string): PlainStream {
    for (const sending of this.#sending.values()) if (sending.producerId === producerId) return sending.stream;
    throw new Error('no such stream');
  }

  /**
   * Probe `sources` (or stop, with none): a probe packet on each, every `everyMs` (a timer's
   * pace: each probe's own send time is kept), besides their regular packets.
   */
  probing(sources: readonly MediaSource[], everyMs = 1): void {
    clearInterval(this.#probe);
    this.#probe = undefined;
    const send = this.#send;
    if (sources.length === 0 || !send) return;
    this.#probe = setInterval(() => {
      for (const source of sources) {
        const stream = this.#sending.get(source)?.stream;
        if (stream) this.#out.send(stream.probe(), send.port, send.ip);
      }
    }, everyMs);
  }

  /** The capture ended: nothing more of it is sent. */
  stopSending(source: MediaSource): void {
    clearInterval(this.#sending.get(source)?.timer);
    this.#sending.delete(source);
  }

  #arrived(packet: Buffer): void {
    const now = performance.now();
    const ssrc = mediaSsrc(packet);
    const stream = ssrc === undefined ? undefined : this.#arrivals.get(ssrc);
    if (!stream) return;
    stream.first ??= now;
    stream.last = now;
    const probe = probeNumber(packet);
    if (probe !== undefined) stream.probes.set(probe, now);
  }

  /** The consumers this person was given, by what they carry. */
  streams(where: (stream: Arrivals) => boolean = () => true): Arrivals[] {
    return [...this.#arrivals.values()].filter(where);
  }

  /** From now on, each stream's `first` is its first packet after this moment. */
  forgetFirsts(): void {
    for (const stream of this.#arrivals.values()) stream.first = undefined;
  }

  close(): void {
    this.probing([]);
    for (const source of [...this.#sending.keys()]) this.stopSending(source);
    this.socket.disconnect();
    this.#out.close();
    this.#in.close();
  }
}

/** Resolves once `check` is true (polled every 2 ms), or rejects after `timeoutMs`. */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** When the server cut a probed stream at one receiver, from the command sent at `t0`. */
export interface Cut {
  /** Send time of the first probe after the last that arrived (none arrived after it) − t0. */
  cut: number;
  /** Arrival of the stream's last packet (probe or not) at the receiver − t0. */
  last: number;
  /** Send time of the last probe that arrived − t0: the cut came after it (so the cut lies between the two). */
  after: number;
  /** Probes sent between the window's start and the cut that did not arrive (loss, not the cut). */
  lost: number;
}

/**
 * The cut of a stream probed from probe `from` on (the probing window), or null if its probes
 * arrived to the end (the stream was not cut within the window).
 */
export function cutOf(sent: readonly number[], arrived: Arrivals, from: number, t0: number): Cut | null {
  let lastArrived = from - 1;
  for (const number of arrived.probes.keys()) if (number >= from && number > lastArrived) lastArrived = number;
  const cutAt = lastArrived + 1;
  if (cutAt <= from || cutAt >= sent.length) return null;
  let lost = 0;
  for (let n = from; n < cutAt; n++) if (!arrived.probes.has(n)) lost++;
  return { cut: sent[cutAt]! - t0, last: arrived.last! - t0, after: sent[cutAt - 1]! - t0, lost };
}

/** What a media bench's body is given: the room, its facilitator, and a way to add members. */
export interface PlainRoom {
  fay: PlainClient;
  /** Everyone in the room, Fay first (closed when the bench ends). */
  people: PlainClient[];
  /** Someone new through the invite link, admitted by Fay, media allowed. */
  admit(name: string): Promise<PlainClient>;
}

/** A bench that is stuck gives up after this long. */
const WATCHDOG_MS = 10 * 60_000;

/**
 * One media bench (bench:share, bench:aside): a watchdog; the production server on loopback
 * with one mediasoup worker and plain RTP allowed; a room whose facilitator is Fay. Everyone and
 * the server are closed at the end; a failure is printed and exits 1.
 */
export function runPlainBench(name: string, body: (room: PlainRoom) => Promise<void>): void {
  const watchdog = setTimeout(() => {
    process.stderr.write(`${name} gave up (watchdog)\n`);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  const run = async () => {
    const server = await startProductionServer({ LOG_LEVEL: 'warn', SYNTHETIC_MEDIA: 'true', MEDIASOUP_WORKERS: '1' });
    const people: PlainClient[] = [];
    try {
      const creator: Client = io(server.url, { transports: ['websocket'], forceNew: true, reconnection: false });
      const links = await ask(creator, 'room:create', {});
      creator.disconnect();
      const fay = await PlainClient.enter(server.url, links.roomId, links.facilitatorToken, 'Fay');
      people.push(fay);
      const admit = async (displayName: string) => {
        const member = await PlainClient.enter(server.url, links.roomId, links.inviteToken, displayName);
        people.push(member);
        await ask(fay.socket, 'room:command', { command: { type: 'member.admit', memberId: member.id } });
        await member.until((v) => v.self.stage === 'admitted' && v.self.media);
        return member;
      };
      await body({ fay, people, admit });
    } finally {
      for (const person of people) person.close();
      await server.stop();
    }
  };
  run().catch((error: unknown) => {
    process.stderr.write(`${name} failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
