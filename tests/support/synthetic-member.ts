import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { ClientToServerEvents, RequestName, RequestPayload, ResponseData, Result, ServerToClientEvents } from '@group-room/shared';
import { io, type Socket } from 'socket.io-client';

/*
 * A member without a browser, for load tests: it takes the real path (Socket.IO, the entry
 * agreement, auto-admit, media:join, media:ready, consumer:resume) and sends RTP from this
 * process through plain transports (the server must run with SYNTHETIC_MEDIA=true): opus-sized
 * audio at 50 packets/s and VP8-shaped video at a chosen bitrate (30 frames/s, a key frame
 * every second so new consumers start). What it receives lands in one UDP sink that counts
 * packets and losses per stream (RTP sequence numbers) and interarrival jitter.
 */

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

const AUDIO_PT = 100;
const VIDEO_PT = 101;
const AUDIO_PAYLOAD_BYTES = 90;
const MAX_VIDEO_PAYLOAD = 1100;
const FPS = 30;

async function ask<K extends RequestName>(socket: Client, name: K, payload: RequestPayload<K>): Promise<ResponseData<K>> {
  const result = (await (socket as unknown as Socket).timeout(15_000).emitWithAck(name, payload)) as Result<ResponseData<K>>;
  if (!result.ok) throw new Error(`${name}: ${result.error.code} ${result.error.message}`);
  return result.data;
}

/** Per received stream (SSRC): packets, the extended highest sequence number, jitter. */
interface StreamCount {
  packets: number;
  bytes: number;
  firstSeq: number;
  highestSeq: number;
  /** RFC 3550 interarrival jitter, in the stream's clock units. */
  jitter: number;
  lastTransit: number | undefined;
  clockRate: number;
}

/** One UDP socket that all of a process's synthetic receivers point their transports at. */
export class RtpSink {
  readonly socket: UdpSocket;
  readonly #streams = new Map<number, StreamCount>();

  private constructor(socket: UdpSocket) {
    this.socket = socket;
    socket.on('message', (packet) => this.#count(packet));
  }

  static async open(): Promise<RtpSink> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    // Room for bursts: the kernel drops what does not fit, and that shows as loss.
    socket.setRecvBufferSize(8 * 1024 * 1024);
    return new RtpSink(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  #count(packet: Buffer): void {
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return;
    const pt = packet[1]! & 0x7f;
    if (pt >= 72 && pt <= 79) return; // RTCP (rtcp-mux)
    if (pt === 127) return; // mediasoup's bandwidth probation packets (SSRC 1234), not a stream
    const seq = packet.readUInt16BE(2);
    const timestamp = packet.readUInt32BE(4);
    const ssrc = packet.readUInt32BE(8);
    let stream = this.#streams.get(ssrc);
    const clockRate = pt === AUDIO_PT || packet.length < 300 ? 48_000 : 90_000;
    if (!stream) {
      stream = { packets: 0, bytes: 0, firstSeq: seq, highestSeq: seq, jitter: 0, lastTransit: undefined, clockRate };
      this.#streams.set(ssrc, stream);
    }
    stream.packets++;
    stream.bytes += packet.length;
    // Extend the 16-bit sequence number across wraps.
    const base = stream.highestSeq & ~0xffff;
    let extended = base + seq;
    if (extended < stream.highestSeq - 0x8000) extended += 0x10000;
    else if (extended > stream.highestSeq + 0x8000) extended -= 0x10000;
    if (extended > stream.highestSeq) stream.highestSeq = extended;
    const arrival = (performance.now() / 1000) * stream.clockRate;
    const transit = arrival - timestamp;
    if (stream.lastTransit !== undefined) {
      const d = Math.abs(transit - stream.lastTransit);
      if (d < stream.clockRate) stream.jitter += (d - stream.jitter) / 16;
    }
    stream.lastTransit = transit;
  }

  /** Totals over every stream received so far. */
  totals(): { streams: number; packets: number; bytes: number; expected: number; lost: number; jitterMs: number } {
    let packets = 0;
    let bytes = 0;
    let expected = 0;
    let jitterMs = 0;
    for (const s of this.#streams.values()) {
      packets += s.packets;
      bytes += s.bytes;
      expected += s.highestSeq - s.firstSeq + 1;
      jitterMs = Math.max(jitterMs, (s.jitter / s.clockRate) * 1000);
    }
    return { streams: this.#streams.size, packets, bytes, expected, lost: Math.max(0, expected - packets), jitterMs };
  }

  /** Forget what was counted (to measure a fresh window). */
  reset(): void {
    this.#streams.clear();
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * Real VP8 frames (an IVF file, e.g. made by ffmpeg from its test pattern), for synthetic
 * members whose video a browser must decode. Without them the video is VP8-shaped only.
 */
export function readIvf(file: Buffer): Buffer[] {
  if (file.toString('ascii', 0, 4) !== 'DKIF') throw new Error('not an IVF file');
  const frames: Buffer[] = [];
  let offset = file.readUInt16LE(6);
  while (offset + 12 <= file.length) {
    const size = file.readUInt32LE(offset);
    frames.push(file.subarray(offset + 12, offset + 12 + size));
    offset += 12 + size;
  }
  return frames;
}

/** Builds the RTP of one synthetic microphone and camera. */
export class RtpSource {
  readonly audioSsrc: number;
  readonly videoSsrc: number;
  #audioSeq = Math.floor(Math.random() * 0xffff);
  #videoSeq = Math.floor(Math.random() * 0xffff);
  #audioTs = Math.floor(Math.random() * 0xffffffff);
  #videoTs = Math.floor(Math.random() * 0xffffffff);
  #frame = 0;
  readonly #frameBytes: number;
  sentPackets = 0;

  /** Video frames per simulcast layer, lowest first (one layer without simulcast); VP8-shaped when absent. */
  readonly #layers: readonly (readonly Buffer[])[] | undefined;
  readonly #layerSeqs: number[];

  /**
   * `frames`: real VP8 frames to loop over (the first must be a key frame); `layers`: the same
   * for each simulcast layer, lowest first (each on its own SSRC, videoSsrc + index); neither:
   * VP8-shaped frames. `ssrcs`: fixed SSRCs (Janus's remote publishers tell streams apart by
   * them); else random.
   */
  constructor(videoKbps: number, media: { frames?: readonly Buffer[]; layers?: readonly (readonly Buffer[])[]; ssrcs?: { audio: number; video: number } } = {}) {
    this.audioSsrc = media.ssrcs?.audio ?? 1 + Math.floor(Math.random() * 0x7fffffff);
    this.videoSsrc = media.ssrcs?.video ?? 1 + Math.floor(Math.random() * 0x3fffffff);
    this.#frameBytes = Math.max(200, Math.round((videoKbps * 1000) / 8 / FPS));
    this.#layers = media.layers ?? (media.frames ? [media.frames] : undefined);
    this.#layerSeqs = (this.#layers ?? []).map(() => Math.floor(Math.random() * 0xffff));
  }

  static header(pt: number, marker: boolean, seq: number, ts: number, ssrc: number, payloadBytes: number): Buffer {
    const packet = Buffer.alloc(12 + payloadBytes);
    packet[0] = 0x80;
    packet[1] = (marker ? 0x80 : 0) | pt;
    packet.writeUInt16BE(seq & 0xffff, 2);
    packet.writeUInt32BE(ts >>> 0, 4);
    packet.writeUInt32BE(ssrc >>> 0, 8);
    return packet;
  }

  /** One 20 ms opus packet. */
  audio(): Buffer {
    const packet = RtpSource.header(AUDIO_PT, false, this.#audioSeq++, this.#audioTs, this.audioSsrc, AUDIO_PAYLOAD_BYTES);
    packet[12] = 0x78; // an opus TOC byte (CELT FB 20 ms, mono)
    this.#audioTs += 960;
    this.sentPackets++;
    return packet;
  }

  /** One video frame's packets: a VP8 payload descriptor on each, a key frame header every second. */
  videoFrame(): Buffer[] {
    if (this.#layers) return this.#realFrame(this.#layers);
    const key = this.#frame % FPS === 0;
    this.#frame++;
    const packets: Buffer[] = [];
    let left = this.#frameBytes;
    let first = true;
    while (left > 0) {
      const size = Math.min(left, MAX_VIDEO_PAYLOAD);
      left -= size;
      const packet = RtpSource.header(VIDEO_PT, left === 0, this.#videoSeq++, this.#videoTs, this.videoSsrc, 1 + size);
      packet[12] = first ? 0x10 : 0x00; // VP8 payload descriptor: S bit on a frame's first packet
      if (first) {
        // VP8 frame tag: bit 0 clear on a key frame; then the key frame start code and 640×360.
        packet[13] = key ? 0x10 : 0x11;
        packet[14] = 0x02;
        packet[15] = 0x00;
        if (key) {
          packet[16] = 0x9d;
          packet[17] = 0x01;
          packet[18] = 0x2a;
          packet.writeUInt16LE(640, 19);
          packet.writeUInt16LE(360, 21);
        }
      }
      first = false;
      packets.push(packet);
    }
    this.#videoTs += 90_000 / FPS;
    this.sentPackets += packets.length;
    return packets;
  }

  #realFrame(layers: readonly (readonly Buffer[])[]): Buffer[] {
    const packets: Buffer[] = [];
    layers.forEach((frames, layer) => {
      const frame = frames[this.#frame % frames.length]!;
      for (let at = 0; at < frame.length; at += MAX_VIDEO_PAYLOAD) {
        const chunk = frame.subarray(at, at + MAX_VIDEO_PAYLOAD);
        const last = at + MAX_VIDEO_PAYLOAD >= frame.length;
        const packet = RtpSource.header(VIDEO_PT, last, this.#layerSeqs[layer]!++, this.#videoTs, this.videoSsrc + layer, 1 + chunk.length);
        packet[12] = at === 0 ? 0x10 : 0x00;
        chunk.copy(packet, 13);
        packets.push(packet);
      }
    });
    this.#frame++;
    this.#videoTs += 90_000 / FPS;
    this.sentPackets += packets.length;
    return packets;
  }

  rtpParameters(kind: 'audio' | 'video') {
    return kind === 'audio'
      ? { codecs: [{ mimeType: 'audio/opus', payloadType: AUDIO_PT, clockRate: 48_000, channels: 2 }], encodings: [{ ssrc: this.audioSsrc }], rtcp: { cname: `synthetic-${this.audioSsrc}` } }
      : {
          codecs: [{ mimeType: 'video/VP8', payloadType: VIDEO_PT, clockRate: 90_000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }],
          // Simulcast: one encoding per layer, each half the height of the next.
          encodings: this.#layers && this.#layers.length > 1 ? this.#layers.map((_, i, all) => ({ ssrc: this.videoSsrc + i, scaleResolutionDownBy: 2 ** (all.length - 1 - i) })) : [{ ssrc: this.videoSsrc }],
          rtcp: { cname: `synthetic-${this.audioSsrc}` },
        };
  }
}

export interface SyntheticOptions {
  url: string;
  roomId: string;
  /** An invite (member) or facilitator link's token. */
  token: string;
  name: string;
  sink: RtpSink;
  videoKbps?: number;
  /** Real VP8 frames to send (see readIvf). */
  frames?: readonly Buffer[];
  /** Or real VP8 frames per simulcast layer, lowest first. */
  layers?: readonly (readonly Buffer[])[];
}

export class SyntheticMember {
  readonly socket: Client;
  readonly source: RtpSource;
  readonly #udp: UdpSocket;
  #target: { ip: string; port: number } | undefined;
  #timers: NodeJS.Timeout[] = [];

  private constructor(socket: Client, source: RtpSource, udp: UdpSocket) {
    this.socket = socket;
    this.source = source;
    this.#udp = udp;
  }

  /** Enter (agreeing, auto-admitted or a facilitator), start media, produce audio and video, receive everyone. */
  static async join(options: SyntheticOptions): Promise<SyntheticMember> {
    const socket: Client = io(options.url, { transports: ['websocket'], forceNew: true, reconnection: false, query: { room: options.roomId } });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const member = new SyntheticMember(socket, new RtpSource(options.videoKbps ?? 300, { ...(options.frames ? { frames: options.frames } : {}), ...(options.layers ? { layers: options.layers } : {}) }), udp);
    // Resume every consumer the server announces (it creates them paused).
    socket.on('consumer:new', ({ consumerId }) => void ask(socket, 'consumer:resume', { consumerId }).catch(() => undefined));
    const { view } = await ask(socket, 'room:enter', { roomId: options.roomId, token: options.token, displayName: options.name });
    if (view.self.role === 'member') {
      await ask(socket, 'room:command', { command: { type: 'agreement.acknowledge', version: view.agreement.version, privateSpace: true } });
    }
    // Auto-admit lets a member in once it has agreed: media:join answers FORBIDDEN until then.
    const deadline = Date.now() + 15_000;
    let joined: ResponseData<'media:join'> | undefined;
    while (!joined) {
      try {
        joined = await ask(socket, 'media:join', {});
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const recv = await ask(socket, 'transport:createPlain', { direction: 'recv' });
    await ask(socket, 'transport:connectPlain', { transportId: recv.id, ip: '127.0.0.1', port: options.sink.port });
    await ask(socket, 'media:ready', { rtpCapabilities: joined.routerRtpCapabilities });
    const send = await ask(socket, 'transport:createPlain', { direction: 'send' });
    member.#target = { ip: send.ip, port: send.port };
    for (const kind of ['audio', 'video'] as const) {
      await ask(socket, 'media:produce', { transportId: send.id, kind, source: kind === 'audio' ? 'mic' : 'camera', rtpParameters: member.source.rtpParameters(kind), paused: false });
    }
    return member;
  }

  /** The socket this member sends RTP from (a load generator may drive it itself). */
  get udp(): UdpSocket {
    return this.#udp;
  }

  /** Where the server expects this member's RTP (its plain send transport). */
  sendTarget(): { ip: string; port: number } {
    if (!this.#target) throw new Error('not joined');
    return this.#target;
  }

  /** Start sending: audio every 20 ms, a video frame every 1/30 s. */
  start(): void {
    const target = this.#target;
    if (!target) throw new Error('not joined');
    const send = (packet: Buffer) => this.#udp.send(packet, target.port, target.ip);
    this.#timers.push(setInterval(() => send(this.source.audio()), 20));
    this.#timers.push(
      setInterval(() => {
        for (const packet of this.source.videoFrame()) send(packet);
      }, 1000 / FPS),
    );
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
  }

  async leave(): Promise<void> {
    this.stop();
    await ask(this.socket, 'room:leave', {}).catch(() => undefined);
    this.socket.disconnect();
    this.#udp.close();
  }
}
