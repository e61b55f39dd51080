import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { ResponseData } from '@group-room/shared';
import type { KeyRef, LinkSecret } from '@group-room/shared/e2ee';
import { io } from 'socket.io-client';
import { keyRequests, senderReport } from './plain-rtp.js';
import { ask, SyntheticKeys, type Client, type FrameSealer } from './synthetic-keys.js';

/*
 * A member without a browser, for load tests: it takes the real path (Socket.IO, the entry
 * agreement, auto-admit, media:join, media:ready, consumers:resume) and sends RTP from this
 * process through plain transports (the server must run with SYNTHETIC_MEDIA=true): opus-sized
 * audio at 50 packets/s and VP8-shaped video at a chosen bitrate (30 frames/s, a key frame
 * every second so new consumers start). What it receives lands in one UDP sink that counts
 * packets and losses per stream (RTP sequence numbers) and interarrival jitter.
 *
 * Like a browser's encoder it answers the server's key frame requests (RTCP PLI and FIR, which
 * mediasoup sends back to the address the member sends from): the layer asked for sends a key
 * frame as its next frame, at most once per KEY_FRAME_MIN_INTERVAL_MS. Like a browser it sends
 * an RTCP sender report for each stream (audio, each video layer) once a second, the first as
 * soon as the stream starts: mediasoup moves a simulcast consumer to another layer only once
 * reports on both layers let it line their timestamps up.
 *
 * Like a browser, it takes part in the end-to-end encryption key handshake with its link's
 * secret (synthetic-keys.ts) and seals every frame before packetizing it; until it has a key
 * in use it sends nothing. A synthetic facilitator holds the room secret and, as the first one
 * online, hands out the room's keys, to browsers too.
 */

const AUDIO_PT = 100;
const VIDEO_PT = 101;
const AUDIO_PAYLOAD_BYTES = 90;
const MAX_VIDEO_PAYLOAD = 1100;
const FPS = 30;
/**
 * A key frame request within this long of the last one answered on the same layer is ignored,
 * as libwebrtc's encoder does (EncoderRtcpFeedback: 300 ms); the SFU asks again if it must.
 */
export const KEY_FRAME_MIN_INTERVAL_MS = 300;

/** The VP8 frame tag's P bit (RFC 6386 §9.1): clear on a key frame. */
export const isVp8KeyFrame = (frame: Uint8Array): boolean => frame.length > 0 && (frame[0]! & 0x01) === 0;

/** Of a looped pattern's key frames (`keys`, ascending, in a loop of `length` frames), the one nearest to `position`, either way round. */
function nearestKeyFrame(keys: readonly number[], position: number, length: number): number {
  let best = position;
  let distance = Infinity;
  for (const key of keys) {
    const forward = (key - position + length) % length;
    const d = Math.min(forward, length - forward);
    if (d < distance) [best, distance] = [key, d];
  }
  return best;
}

/** How often a stream's sender report goes out (libwebrtc: about once a second for video). */
export const SENDER_REPORT_INTERVAL_MS = 1000;

/** What one sent stream (the audio, or a video layer) has sent so far: what its sender reports say. */
interface SentStream {
  clockRate: number;
  packets: number;
  /** Payload octets (RTP headers not counted), as a sender report counts them. */
  octets: number;
  /** The last packet's RTP timestamp, and when its frame was captured (performance.now): what that timestamp stands for. */
  lastTs: number;
  lastAt: number;
  /** When the next report is due (performance.now): at once for a stream that just started. */
  reportAt: number;
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
  #audioTs = Math.floor(Math.random() * 0xffffffff);
  #videoTs = Math.floor(Math.random() * 0xffffffff);
  /** Frames sent (VP8-shaped video: a key frame every FPS of them). */
  #frame = 0;
  readonly #frameBytes: number;
  sentPackets = 0;

  /** Video frames per simulcast layer, lowest first (one layer without simulcast); VP8-shaped when absent. */
  readonly #layers: readonly (readonly Buffer[])[] | undefined;
  /** Each video stream's (layer's) next sequence number. */
  readonly #videoSeqs: number[];
  /** Real frames: where each layer is in its pattern (a key frame on demand moves it). */
  readonly #positions: number[];
  /** Real frames: each layer's key frames' indices. */
  readonly #keyFrames: number[][];
  /** Per layer: the next frame must be a key frame (the server asked). */
  readonly #keyWanted: boolean[];
  /** Per layer: when a key frame request was last answered (performance.now). */
  readonly #keyAnswered: number[];
  /** Key frame requests for this source's video: answered, and ignored (too soon after the last). */
  readonly keyFrameRequests = { answered: 0, ignored: 0 };
  readonly #seal: FrameSealer | undefined;
  /** Sealed frames leave in the order they were made, whatever order their encryption ends in. */
  #queue: Promise<void> = Promise.resolve();
  /** Frames sealed but not sent yet (the generator falling behind shows here). */
  pending = 0;
  /** Each stream sent, by SSRC, for its sender reports. */
  readonly #sent = new Map<number, SentStream>();

  /**
   * `frames`: real VP8 frames to loop over (the first must be a key frame); `layers`: the same
   * for each simulcast layer, lowest first (each on its own SSRC, videoSsrc + index); neither:
   * VP8-shaped frames. `ssrcs`: fixed SSRCs (Janus's remote publishers tell streams apart by
   * them); else random. `seal`: end-to-end encryption (see synthetic-keys.ts): each frame is
   * sealed whole before it is packetized, and dropped while there is no key; without it,
   * frames go out as they are (sent with `audio()` and `videoFrame()`).
   */
  constructor(videoKbps: number, media: { frames?: readonly Buffer[]; layers?: readonly (readonly Buffer[])[]; ssrcs?: { audio: number; video: number }; seal?: FrameSealer } = {}) {
    this.audioSsrc = media.ssrcs?.audio ?? 1 + Math.floor(Math.random() * 0x7fffffff);
    this.videoSsrc = media.ssrcs?.video ?? 1 + Math.floor(Math.random() * 0x3fffffff);
    this.#frameBytes = Math.max(200, Math.round((videoKbps * 1000) / 8 / FPS));
    this.#layers = media.layers ?? (media.frames ? [media.frames] : undefined);
    this.#videoSeqs = (this.#layers ?? [[]]).map(() => Math.floor(Math.random() * 0xffff));
    this.#positions = this.#videoSeqs.map(() => 0);
    this.#keyFrames = (this.#layers ?? []).map((frames) => frames.flatMap((frame, i) => (isVp8KeyFrame(frame) ? [i] : [])));
    this.#keyWanted = this.#videoSeqs.map(() => false);
    this.#keyAnswered = this.#videoSeqs.map(() => -Infinity);
    this.#seal = media.seal;
  }

  /**
   * The server asked for a key frame on `ssrc` (a layer's SSRC; others are not this source's
   * video): that layer's next frame is one, unless it answered one less than
   * KEY_FRAME_MIN_INTERVAL_MS ago. Whether it was answered.
   */
  requestKeyFrame(ssrc: number, now = performance.now()): boolean {
    const layer = ssrc - this.videoSsrc;
    if (layer < 0 || layer >= this.#videoSeqs.length) return false;
    if (now - this.#keyAnswered[layer]! < KEY_FRAME_MIN_INTERVAL_MS) {
      this.keyFrameRequests.ignored++;
      return false;
    }
    this.#keyAnswered[layer] = now;
    this.#keyWanted[layer] = true;
    this.keyFrameRequests.answered++;
    return true;
  }

  /** RTCP from the server (to the address this source sends from): answers its key frame requests. */
  onRtcp(packet: Buffer, now = performance.now()): void {
    for (const ssrc of keyRequests(packet)) this.requestKeyFrame(ssrc, now);
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

  /** One 20 ms opus packet, sent as it is (a source without encryption). */
  audio(): Buffer {
    this.#plainOnly();
    const { frame, ts, capturedAt } = this.#nextAudio();
    return this.#audioPacket(frame, ts, capturedAt);
  }

  /** One video frame's packets, sent as they are (a source without encryption). */
  videoFrame(): Buffer[] {
    this.#plainOnly();
    const { frames, ts, capturedAt } = this.#nextVideo();
    this.#advanceVideo();
    return frames.flatMap((frame, layer) => this.#videoPackets(layer, frame, ts, capturedAt));
  }

  /** The next 20 ms of audio to `send`: at once, or once sealed; nothing while an encrypting source has no key. */
  audioTo(send: (packet: Buffer) => void): void {
    const { frame, ts, capturedAt } = this.#nextAudio();
    if (!this.#seal) return send(this.#audioPacket(frame, ts, capturedAt));
    const sealed = this.#seal(frame, 'opus');
    if (sealed) this.#inOrder(sealed, (wire) => [this.#audioPacket(wire, ts, capturedAt)], send);
  }

  /**
   * The next video frame (every layer) to `send`, the same way. While frames are dropped for
   * want of a key the video does not move on, so the first frame sent is a key frame.
   */
  videoTo(send: (packet: Buffer) => void): void {
    const { frames, ts, capturedAt } = this.#nextVideo();
    if (!this.#seal) {
      this.#advanceVideo();
      frames.forEach((frame, layer) => this.#videoPackets(layer, frame, ts, capturedAt).forEach(send));
      return;
    }
    const sealed: Promise<Uint8Array>[] = [];
    for (const frame of frames) {
      const one = this.#seal(frame, 'vp8');
      if (!one) return; // no key: the whole frame is dropped
      sealed.push(one);
    }
    this.#advanceVideo();
    this.#inOrder(Promise.all(sealed), (wires) => wires.flatMap((wire, layer) => this.#videoPackets(layer, wire, ts, capturedAt)), send);
  }

  #plainOnly(): void {
    if (this.#seal) throw new Error('this source encrypts: send with audioTo and videoTo');
  }

  /** Packetizes and sends sealed frames in the order they were made (sequence numbers follow). */
  #inOrder<T>(sealed: Promise<T>, packetize: (wires: T) => Buffer[], send: (packet: Buffer) => void): void {
    this.pending++;
    this.#queue = this.#queue
      .then(() => sealed)
      .then((wires) => packetize(wires).forEach(send))
      // A frame that could not be sealed, or sent (its socket closed meanwhile), is dropped.
      .catch(() => undefined)
      .finally(() => this.pending--);
  }

  /** Resolves once every frame sealed so far has been sent (or dropped). */
  flush(): Promise<void> {
    return this.#queue;
  }

  /** The next 20 ms of audio: its frame, RTP time, and capture time (performance.now: what its RTP time stands for). */
  #nextAudio(): { frame: Uint8Array; ts: number; capturedAt: number } {
    const frame = new Uint8Array(AUDIO_PAYLOAD_BYTES);
    frame[0] = 0x78; // an opus TOC byte (CELT FB 20 ms, mono)
    const ts = this.#audioTs;
    this.#audioTs += 960;
    return { frame, ts, capturedAt: performance.now() };
  }

  #audioPacket(payload: Uint8Array, ts: number, capturedAt: number): Buffer {
    const packet = RtpSource.header(AUDIO_PT, false, this.#audioSeq++, ts, this.audioSsrc, payload.length);
    packet.set(payload, 12);
    this.sentPackets++;
    this.#sentOn(this.audioSsrc, 48_000, ts, capturedAt, payload.length);
    return packet;
  }

  /**
   * This frame time's VP8 frame for each layer (the caller then moves on with #advanceVideo):
   * the real ones, a layer asked for a key frame jumping to its pattern's nearest one; or a
   * VP8-shaped one (a key frame every second, or when asked for).
   */
  #nextVideo(): { frames: Uint8Array[]; ts: number; capturedAt: number } {
    const ts = this.#videoTs;
    const capturedAt = performance.now();
    this.#videoTs += 90_000 / FPS;
    if (this.#layers) {
      const frames = this.#layers.map((frames, layer) => {
        const at = this.#positions[layer]! % frames.length;
        // Staying on the key frame until it is sent: a frame dropped for want of a key repeats it.
        if (this.#keyWanted[layer]) this.#positions[layer] = nearestKeyFrame(this.#keyFrames[layer]!, at, frames.length);
        return frames[this.#positions[layer]! % frames.length]!;
      });
      return { frames, ts, capturedAt };
    }
    const key = this.#keyWanted[0]! || this.#frame % FPS === 0;
    const frame = new Uint8Array(this.#frameBytes);
    // VP8 frame tag: bit 0 clear on a key frame; then the key frame start code and 640×360.
    frame.set(key ? [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 640 & 0xff, 640 >> 8, 360 & 0xff, 360 >> 8] : [0x11, 0x02, 0x00]);
    return { frames: [frame], ts, capturedAt };
  }

  /** The frame from #nextVideo went out: every layer moves on, and the key frames asked for are sent. */
  #advanceVideo(): void {
    this.#frame++;
    this.#positions.forEach((at, layer) => (this.#positions[layer] = at + 1));
    this.#keyWanted.fill(false);
  }

  /** One layer's frame as RTP: a VP8 payload descriptor on each packet (S bit on the first). */
  #videoPackets(layer: number, frame: Uint8Array, ts: number, capturedAt: number): Buffer[] {
    const packets: Buffer[] = [];
    for (let at = 0; at < frame.length; at += MAX_VIDEO_PAYLOAD) {
      const chunk = frame.subarray(at, at + MAX_VIDEO_PAYLOAD);
      const last = at + MAX_VIDEO_PAYLOAD >= frame.length;
      const packet = RtpSource.header(VIDEO_PT, last, this.#videoSeqs[layer]!++, ts, this.videoSsrc + layer, 1 + chunk.length);
      packet[12] = at === 0 ? 0x10 : 0x00;
      packet.set(chunk, 13);
      packets.push(packet);
      this.#sentOn(this.videoSsrc + layer, 90_000, ts, capturedAt, 1 + chunk.length);
    }
    this.sentPackets += packets.length;
    return packets;
  }

  /**
   * A packet of `payloadBytes` goes out on `ssrc`, of a frame with RTP time `ts` captured at
   * `capturedAt` (performance.now): its stream's counts move on (a new stream's first report is
   * due now).
   */
  #sentOn(ssrc: number, clockRate: number, ts: number, capturedAt: number, payloadBytes: number): void {
    let stream = this.#sent.get(ssrc);
    if (!stream) {
      stream = { clockRate, packets: 0, octets: 0, lastTs: ts, lastAt: capturedAt, reportAt: performance.now() };
      this.#sent.set(ssrc, stream);
    }
    stream.packets++;
    stream.octets += payloadBytes;
    stream.lastTs = ts;
    stream.lastAt = capturedAt;
  }

  /**
   * The RTCP sender reports due at `now` (performance.now), to send as they are: one for each
   * stream that has sent something and was not reported on in the last
   * SENDER_REPORT_INTERVAL_MS (a new stream at once). Each maps `now`'s wall-clock time to the
   * stream's RTP time then: its last packet's timestamp moved on by the time since its frame was
   * captured, on the stream's clock (as libwebrtc does), so the layers of one frame line up.
   */
  senderReports(now = performance.now()): Buffer[] {
    const reports: Buffer[] = [];
    for (const [ssrc, stream] of this.#sent) {
      if (now < stream.reportAt) continue;
      stream.reportAt = now + SENDER_REPORT_INTERVAL_MS;
      const ts = stream.lastTs + Math.round(((now - stream.lastAt) * stream.clockRate) / 1000);
      reports.push(senderReport(ssrc, ts, stream, performance.timeOrigin + now));
    }
    return reports;
  }

  rtpParameters(kind: 'audio' | 'video') {
    return kind === 'audio'
      ? { codecs: [{ mimeType: 'audio/opus', payloadType: AUDIO_PT, clockRate: 48_000, channels: 2 }], encodings: [{ ssrc: this.audioSsrc }], rtcp: { cname: `synthetic-${this.audioSsrc}` } }
      : {
          codecs: [{ mimeType: 'video/VP8', payloadType: VIDEO_PT, clockRate: 90_000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] }],
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
  /** The same link's secret: an invite's (see roomSecrets in synthetic-keys.ts), or the room secret for a facilitator link. */
  secret: LinkSecret;
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
  /** Its part in the key handshake and the keys it seals with. */
  readonly keys: SyntheticKeys;
  readonly #udp: UdpSocket;
  #target: { ip: string; port: number } | undefined;
  #timers: NodeJS.Timeout[] = [];
  #id = '';

  private constructor(socket: Client, keys: SyntheticKeys, source: RtpSource, udp: UdpSocket) {
    this.socket = socket;
    this.keys = keys;
    this.source = source;
    this.#udp = udp;
    // The only packets the send socket gets are the server's RTCP for what it sends (comedia, rtcp-mux).
    udp.on('message', (packet) => source.onRtcp(packet));
  }

  /** Enter (agreeing, auto-admitted or a facilitator), start media, produce audio and video, receive everyone. */
  static async join(options: SyntheticOptions): Promise<SyntheticMember> {
    const socket: Client = io(options.url, { transports: ['websocket'], forceNew: true, reconnection: false, query: { room: options.roomId } });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    // Listening before entering: the handshake starts with the first view that lets this member have media.
    const keys = new SyntheticKeys(socket, options.roomId, options.secret);
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const seal: FrameSealer = keys.frames.seal;
    const source = new RtpSource(options.videoKbps ?? 300, { ...(options.frames ? { frames: options.frames } : {}), ...(options.layers ? { layers: options.layers } : {}), seal });
    const member = new SyntheticMember(socket, keys, source, udp);
    // Resume every consumer the server announces (it creates them paused): those for producers that appear later, and all of them on an older server.
    socket.on('consumer:new', ({ consumerId }) => void ask(socket, 'consumer:resume', { consumerId }).catch(() => undefined));
    const seen = keys.viewsSeen;
    const { view } = await ask(socket, 'room:enter', { roomId: options.roomId, token: options.token, displayName: options.name });
    member.#id = view.self.id;
    keys.entered(view, seen);
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
    // The consumers for what the others send already, listed in the answer, resumed in one exchange. An older server answers {} and announces each by consumer:new instead (above).
    const ready: Partial<ResponseData<'media:ready'>> = await ask(socket, 'media:ready', { rtpCapabilities: joined.routerRtpCapabilities });
    const listed = ready.consumers ?? [];
    if (listed.length > 0) await ask(socket, 'consumers:resume', { consumers: listed.map(({ consumerId }) => ({ consumerId })) });
    const send = await ask(socket, 'transport:createPlain', { direction: 'send' });
    member.#target = { ip: send.ip, port: send.port };
    for (const kind of ['audio', 'video'] as const) {
      await ask(socket, 'media:produce', { transportId: send.id, kind, source: kind === 'audio' ? 'mic' : 'camera', rtpParameters: member.source.rtpParameters(kind), paused: false });
    }
    return member;
  }

  /** This member's id in the room. */
  get id(): string {
    return this.#id;
  }

  /** Resolves once this member has a key in use, i.e. its frames go out (see SyntheticKeys.keyed). */
  keyed(timeoutMs?: number): Promise<KeyRef> {
    return this.keys.keyed(timeoutMs);
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

  /**
   * Start sending: audio every 20 ms, a video frame every 1/30 s (each sealed; none before a key
   * is in use), and each stream's sender reports (looked for with the audio: a new stream's
   * first goes out within 20 ms).
   */
  start(): void {
    const target = this.#target;
    if (!target) throw new Error('not joined');
    const send = (packet: Buffer) => this.#udp.send(packet, target.port, target.ip);
    this.#timers.push(
      setInterval(() => {
        this.source.audioTo(send);
        this.source.senderReports().forEach(send);
      }, 20),
    );
    this.#timers.push(setInterval(() => this.source.videoTo(send), 1000 / FPS));
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
  }

  async leave(): Promise<void> {
    this.stop();
    await this.source.flush();
    this.keys.close();
    await ask(this.socket, 'room:leave', {}).catch(() => undefined);
    this.socket.disconnect();
    this.#udp.close();
  }
}
