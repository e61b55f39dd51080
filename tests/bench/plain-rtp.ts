import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { MediaSource, RoomView } from '@group-room/shared';
import { io } from 'socket.io-client';
import { ask, type Client } from '../support/synthetic-keys.js';
import { RtpSource } from '../support/synthetic-member.js';

/*
 * People without a browser for the media benches (bench:share, bench:aside): a socket.io
 * client each, on the real path (enter, agreement, admitted by the facilitator, media:join,
 * consumer:resume as the web client does), sending over plain RTP transports (the server runs
 * with SYNTHETIC_MEDIA=true) and timing what arrives. Each source is its own stream: audio every
 * 20 ms, VP8-shaped video at a set frame rate that starts with a key frame and answers the
 * server's key frame requests (RTCP PLI/FIR) with one at the next frame, as a browser's encoder
 * does (a forwarded video starts only at a key frame). Frames are not encrypted: the server
 * never opens them, so what it does with them, and when, is the same.
 * Every packet received is stamped on arrival (performance.now) by the SSRC of the consumer
 * carrying it, so the first and last packet of each consumer are known.
 */

const AUDIO_PT = 100;
const VIDEO_PT = 101;
const KIND: Record<MediaSource, 'audio' | 'video'> = { mic: 'audio', camera: 'video', screen: 'video' };

/** One stream this person sends. */
class Sending {
  readonly source: MediaSource;
  readonly ssrc: number;
  readonly #fps: number;
  #seq = Math.floor(Math.random() * 0xffff);
  #ts = Math.floor(Math.random() * 0xffffffff);
  #frame = 0;
  #keyWanted = true;
  #timer: NodeJS.Timeout | undefined;

  constructor(source: MediaSource, fps: number) {
    this.source = source;
    this.#fps = fps;
    this.ssrc = 1 + Math.floor(Math.random() * 0x7fffffff);
  }

  rtpParameters() {
    return KIND[this.source] === 'audio'
      ? { codecs: [{ mimeType: 'audio/opus', payloadType: AUDIO_PT, clockRate: 48_000, channels: 2 }], encodings: [{ ssrc: this.ssrc }], rtcp: { cname: `bench-${this.ssrc}` } }
      : {
          codecs: [{ mimeType: 'video/VP8', payloadType: VIDEO_PT, clockRate: 90_000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] }],
          encodings: [{ ssrc: this.ssrc }],
          rtcp: { cname: `bench-${this.ssrc}` },
        };
  }

  start(send: (packet: Buffer) => void): void {
    const audio = KIND[this.source] === 'audio';
    const tick = () => (audio ? send(this.#audio()) : this.#video().forEach(send));
    // The first frame at once, as a track's first frame is sent as soon as it is captured.
    tick();
    this.#timer = setInterval(tick, audio ? 20 : 1000 / this.#fps);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The server asked for a key frame: the next frame is one. */
  wantKey(): void {
    this.#keyWanted = true;
  }

  #audio(): Buffer {
    const packet = RtpSource.header(AUDIO_PT, false, this.#seq++, this.#ts, this.ssrc, 90);
    packet[12] = 0x78;
    this.#ts += 960;
    return packet;
  }

  #video(): Buffer[] {
    // A key frame when asked for, and every 3 s anyway (slides change rarely).
    const key = this.#keyWanted || this.#frame % (3 * this.#fps) === 0;
    this.#keyWanted = false;
    this.#frame++;
    const size = key ? 3000 : 600;
    const frame = Buffer.alloc(size);
    frame.set(key ? [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 1280 & 0xff, 1280 >> 8, 720 & 0xff, 720 >> 8] : [0x11, 0x02, 0x00]);
    const ts = this.#ts;
    this.#ts += Math.round(90_000 / this.#fps);
    const packets: Buffer[] = [];
    for (let at = 0; at < size; at += 1100) {
      const chunk = frame.subarray(at, at + 1100);
      const packet = RtpSource.header(VIDEO_PT, at + 1100 >= size, this.#seq++, ts, this.ssrc, 1 + chunk.length);
      packet[12] = at === 0 ? 0x10 : 0x00;
      chunk.copy(packet, 13);
      packets.push(packet);
    }
    return packets;
  }
}

/** What one consumer brought: whose, which source, and when its packets arrived. */
export interface Arrivals {
  consumerId: string;
  producerId: string;
  peerId: string;
  source: MediaSource;
  first: number | undefined;
  last: number | undefined;
  closedAt: number | undefined;
}

/** The SSRCs named in an RTCP compound packet's key frame requests (PLI, FIR). */
function keyRequests(packet: Buffer): number[] {
  const ssrcs: number[] = [];
  for (let at = 0; at + 12 <= packet.length; ) {
    const type = packet[at + 1]!;
    const fmt = packet[at]! & 0x1f;
    const length = (packet.readUInt16BE(at + 2) + 1) * 4;
    if (type === 206 && (fmt === 1 || fmt === 4)) ssrcs.push(fmt === 1 ? packet.readUInt32BE(at + 8) : packet.readUInt32BE(at + 12));
    at += length;
  }
  return ssrcs;
}

export class PlainClient {
  readonly socket: Client;
  readonly id: string;
  /** This person's latest view. */
  view: RoomView;
  readonly #out: UdpSocket;
  readonly #in: UdpSocket;
  readonly #sending = new Map<MediaSource, Sending>();
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
      if (packet.length < 8 || packet[0]! >> 6 !== 2 || packet[1]! < 192 || packet[1]! > 223) return;
      for (const ssrc of keyRequests(packet)) for (const stream of this.#sending.values()) if (stream.ssrc === ssrc) stream.wantKey();
    });
    socket.on('consumer:new', (consumer) => {
      const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
      if (ssrc !== undefined) this.#arrivals.set(ssrc, { consumerId: consumer.consumerId, producerId: consumer.producerId, peerId: consumer.peerId, source: consumer.source, first: undefined, last: undefined, closedAt: undefined });
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
    const bind = async () => {
      const udp = createSocket('udp4');
      await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
      udp.setRecvBufferSize(4 * 1024 * 1024);
      return udp;
    };
    const client = new PlainClient(socket, view, await bind(), await bind());
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

  /** Start media: receive everyone (consumers resumed as they come). */
  async startMedia(): Promise<void> {
    const { routerRtpCapabilities } = await ask(this.socket, 'media:join', {});
    const recv = await ask(this.socket, 'transport:createPlain', { direction: 'recv' });
    await ask(this.socket, 'transport:connectPlain', { transportId: recv.id, ip: '127.0.0.1', port: this.#in.address().port });
    await ask(this.socket, 'media:ready', { rtpCapabilities: routerRtpCapabilities });
  }

  /**
   * A producer for `source`, its stream sent once the server has answered, starting with a key
   * frame (as in a browser: RTP for a new track flows once the answer completes the send
   * transport's negotiation, and an encoder starts with a key frame).
   */
  async produce(source: MediaSource, fps = 30): Promise<string> {
    this.#send ??= await ask(this.socket, 'transport:createPlain', { direction: 'send' });
    const stream = new Sending(source, fps);
    const send = this.#send;
    const { producerId } = await ask(this.socket, 'media:produce', { transportId: send.id, kind: KIND[source], source, rtpParameters: stream.rtpParameters(), paused: false });
    this.#sending.get(source)?.stop();
    this.#sending.set(source, stream);
    stream.start((packet) => this.#out.send(packet, send.port, send.ip));
    return producerId;
  }

  /** The capture ended (the share was withdrawn): nothing more of it is sent. */
  stopSending(source: MediaSource): void {
    this.#sending.get(source)?.stop();
    this.#sending.delete(source);
  }

  #arrived(packet: Buffer): void {
    const now = performance.now();
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return;
    const pt = packet[1]! & 0x7f;
    if ((pt >= 72 && pt <= 79) || pt === 127) return;
    const stream = this.#arrivals.get(packet.readUInt32BE(8));
    if (!stream) return;
    stream.first ??= now;
    stream.last = now;
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
    for (const stream of this.#sending.values()) stream.stop();
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
