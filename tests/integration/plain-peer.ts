import type { Socket as UdpSocket } from 'node:dgram';
import type { ConsumerOffer, MediaSource, RequestPayload } from '@group-room/shared';
import { bindUdp, KIND, keyRequests, mediaSsrc, PlainStream } from '../support/plain-rtp.js';
import { expect, vi } from 'vitest';
import type { SignalServer } from '@group-room/signal';
import { admittedMember, mediaJoin, ok, openRoom, rawRequest, ready, WAIT, watchMedia, type Person } from '../support/signal-client.js';

/*
 * A person's media without a browser, for tests of what the server forwards to whom: each
 * source (mic, camera, screen) over one plain RTP send transport (the server must run with
 * SYNTHETIC_MEDIA=true), sent unencrypted from this process at a steady pace while `start`ed
 * (the packets: tests/support/plain-rtp.ts, shared with the media benches), and everything it receives counted per sender and source at its own UDP port (each
 * consumer's SSRC, from its offer, says whose it is). "Bytes at the receiver" in the
 * tests are these counts.
 */

/** Each source is sent on a tick of 20 ms (20 ms of audio, a video frame). */
const TICKS_PER_SECOND = 50;

interface Received {
  peerId: string;
  source: MediaSource;
  producerId: string;
  packets: number;
  bytes: number;
}

export class PlainPeer {
  #person: Person;
  /** One stream per media source, each with an SSRC of its own. */
  readonly #sources = new Map<MediaSource, PlainStream>();
  /** The sources sent on each tick (from the moment their producer is asked for). */
  readonly #sending = new Set<MediaSource>();
  readonly #out: UdpSocket;
  readonly #in: UdpSocket;
  /** What arrives, by the SSRC of the consumer carrying it. */
  readonly #bySsrc = new Map<number, Received>();
  #send: { id: string; ip: string; port: number } | undefined;
  #timer: NodeJS.Timeout | undefined;

  private constructor(person: Person, out: UdpSocket, inbound: UdpSocket) {
    this.#person = person;
    this.#out = out;
    this.#in = inbound;
    inbound.on('message', (packet) => this.#count(packet));
    // Key frame requests come back to where the media comes from (comedia).
    out.on('message', (packet) => {
      for (const ssrc of keyRequests(packet)) for (const stream of this.#sources.values()) if (stream.ssrc === ssrc) stream.wantKey();
    });
  }

  /** For a person whose media has started (`media:join`). */
  static async open(person: Person): Promise<PlainPeer> {
    return new PlainPeer(person, await bindUdp(), await bindUdp());
  }

  get person(): Person {
    return this.#person;
  }

  #sourceOf(source: MediaSource): PlainStream {
    let rtp = this.#sources.get(source);
    if (!rtp) {
      rtp = new PlainStream(source, TICKS_PER_SECOND);
      this.#sources.set(source, rtp);
    }
    return rtp;
  }

  async #sendTransport(): Promise<{ id: string; ip: string; port: number }> {
    this.#send ??= await ok(this.person.socket, 'transport:createPlain', { direction: 'send' });
    return this.#send;
  }

  /** What a `media:produce` of this source would carry (a test may change it: a modified client). */
  async produceRequest(source: MediaSource): Promise<RequestPayload<'media:produce'>> {
    const kind = KIND[source];
    return { transportId: (await this.#sendTransport()).id, kind, source, rtpParameters: this.#sourceOf(source).rtpParameters(), paused: false };
  }

  /**
   * Ask for a producer of this source as it is (the raw answer: a refusal is not thrown). Its
   * media is sent from the moment it is asked for (while `start`ed), whatever the answer: as a
   * modified client would, until `forget`.
   */
  async tryProduce(source: MediaSource, request?: RequestPayload<'media:produce'>): Promise<unknown> {
    const payload = request ?? (await this.produceRequest(source));
    this.#sending.add(source);
    return rawRequest(this.person.socket, 'media:produce', payload);
  }

  /** A producer of this source; its id. */
  async produce(source: MediaSource): Promise<string> {
    const payload = await this.produceRequest(source);
    this.#sending.add(source);
    return (await ok(this.person.socket, 'media:produce', payload)).producerId;
  }

  /** Stop sending this source. */
  forget(source: MediaSource): void {
    this.#sending.delete(source);
  }

  /**
   * Receive everyone's media: every consumer the server offers is set up and resumed (those
   * `media:ready` lists with one `consumers:resume`, each announced later with its own
   * `consumer:resume`). `tileHeight`: a camera tile's height, told in `media:ready`.
   */
  async receive(rtpCapabilities: RequestPayload<'media:ready'>['rtpCapabilities'], tileHeight?: number): Promise<void> {
    const { socket } = this.person;
    this.#listen();
    const recv = await ok(socket, 'transport:createPlain', { direction: 'recv' });
    await ok(socket, 'transport:connectPlain', { transportId: recv.id, ip: '127.0.0.1', port: this.#in.address().port });
    const listed = await ready(this.person, tileHeight === undefined ? { rtpCapabilities } : { rtpCapabilities, tileHeight });
    for (const consumer of listed) this.#track(consumer);
    if (listed.length > 0) await ok(socket, 'consumers:resume', { consumers: listed.map(({ consumerId }) => ({ consumerId })) });
  }

  /** The person's seat resumed on a new socket: what it is told now comes there. */
  rebind(person: Person): void {
    this.#person = person;
    this.#listen();
  }

  #listen(): void {
    const { socket } = this.#person;
    socket.on('consumer:new', (consumer) => {
      this.#track(consumer);
      void ok(socket, 'consumer:resume', { consumerId: consumer.consumerId }).catch(() => undefined);
    });
  }

  /** What arrives with this consumer's SSRC is counted as its sender's. */
  #track(consumer: ConsumerOffer): void {
    const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
    if (ssrc !== undefined && !this.#bySsrc.has(ssrc)) this.#bySsrc.set(ssrc, { peerId: consumer.peerId, source: consumer.source, producerId: consumer.producerId, packets: 0, bytes: 0 });
  }

  /** Send every source produced, steadily: 20 ms of audio and a video frame each 20 ms tick (until `stop`). */
  start(): void {
    this.#timer ??= setInterval(() => this.#tick(), 1000 / TICKS_PER_SECOND);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const send = this.#send;
    if (!send) return;
    for (const source of this.#sending) for (const packet of this.#sourceOf(source).next()) this.#out.send(packet, send.port, send.ip);
  }

  #count(packet: Buffer): void {
    const ssrc = mediaSsrc(packet);
    const stream = ssrc === undefined ? undefined : this.#bySsrc.get(ssrc);
    if (!stream) return;
    stream.packets++;
    stream.bytes += packet.length;
  }

  /** Packets received so far from `peerId` (of one source, or all of theirs). */
  packetsFrom(peerId: string, source?: MediaSource): number {
    let packets = 0;
    for (const stream of this.#bySsrc.values()) if (stream.peerId === peerId && (source === undefined || stream.source === source)) packets += stream.packets;
    return packets;
  }

  /** Packets received so far of one producer. */
  packetsOf(producerId: string): number {
    let packets = 0;
    for (const stream of this.#bySsrc.values()) if (stream.producerId === producerId) packets += stream.packets;
    return packets;
  }

  close(): void {
    this.stop();
    this.#out.close();
    this.#in.close();
  }
}

/** Packets of `source` (or anything) from `peerId` keep arriving at `receiver`. */
export async function flowing(receiver: PlainPeer, peerId: string, source?: MediaSource): Promise<void> {
  const before = receiver.packetsFrom(peerId, source);
  await vi.waitFor(() => expect(receiver.packetsFrom(peerId, source)).toBeGreaterThan(before + 5), WAIT);
}

/**
 * Nothing more of `count` arrives while the control stream (a microphone the receiver gets
 * all along) goes on: first what was on its way settles, then half a second of control
 * packets must pass with `count` unchanged.
 */
export async function still(count: () => number, control: () => number): Promise<void> {
  let base = control();
  await vi.waitFor(() => expect(control()).toBeGreaterThan(base + 5), WAIT);
  const before = count();
  base = control();
  await vi.waitFor(() => expect(control()).toBeGreaterThan(base + 25), WAIT);
  expect(count()).toBe(before);
}

/**
 * A room with its facilitator and members `names` (admitted), each sending `sources` over
 * plain RTP and receiving everyone; resolves once everyone receives everyone else's first
 * source. `watch` sees every producer made (it is set up before anyone's transports). Every
 * peer made is pushed to `opened` (to be closed after the test).
 */
export async function openMediaRoom(server: SignalServer, names: readonly string[], sources: readonly MediaSource[], opened: PlainPeer[]) {
  const room = await openRoom(server, 'Fay');
  const people: Person[] = [room.facilitator];
  for (const name of names) people.push(await admittedMember(server, room, room.facilitator, name));
  const caps: Awaited<ReturnType<typeof mediaJoin>>[] = [];
  for (const person of people) caps.push(await mediaJoin(person));
  const watch = watchMedia(server, room.roomId);
  const media: PlainPeer[] = [];
  for (const [i, person] of people.entries()) {
    const peer = await PlainPeer.open(person);
    opened.push(peer);
    await peer.receive(caps[i]!);
    for (const source of sources) await peer.produce(source);
    peer.start();
    media.push(peer);
  }
  for (const receiver of media) {
    for (const sender of media) if (receiver !== sender) await flowing(receiver, sender.person.id, sources[0]);
  }
  return { room, watch, media };
}
