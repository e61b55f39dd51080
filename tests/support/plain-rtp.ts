import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { MediaSource } from '@group-room/shared';
import { RtpSource } from './synthetic-member.js';

/*
 * The packets of a person's media without a browser, over plain RTP transports (the server runs
 * with SYNTHETIC_MEDIA=true), for the plain-RTP clients of the integration tests
 * (tests/integration/plain-peer.ts) and the media benches (tests/bench/plain-rtp.ts). Frames are
 * not encrypted: the server never opens them, so what it does with them, and when, is the same.
 * Each source is its own stream with its own SSRC: opus-shaped audio, or VP8-shaped video (one
 * layer: a share is sent so) that starts with a key frame and answers the server's key frame
 * requests (RTCP PLI/FIR) at its next frame, as a browser's encoder does. RTP timestamps follow
 * the clock, so a stream's regular packets and its probes (below) can be mixed in any order.
 *
 * Probes: small packets on a stream, each ending with PROBE_MAGIC and its number, whose send
 * times the sender keeps (`probesSent`), so a receiver can tell which of them arrived. The
 * server forwards them as it forwards the stream (audio: an opus-shaped packet; video: a
 * one-packet delta frame); sent every millisecond or two around a command, they time when the
 * server cut a stream more finely than its frames do.
 */

export const AUDIO_PT = 100;
export const VIDEO_PT = 101;
export const KIND: Record<MediaSource, 'audio' | 'video'> = { mic: 'audio', camera: 'video', screen: 'video' };
/** "PRB1", then the probe's number: the last 8 bytes of a probe packet. */
const PROBE_MAGIC = 0x50524231;
const MAX_VIDEO_PAYLOAD = 1100;

/** One stream a person sends. */
export class PlainStream {
  readonly source: MediaSource;
  readonly ssrc: number;
  readonly #fps: number;
  readonly #clockRate: number;
  readonly #epoch = performance.now();
  readonly #tsBase = Math.floor(Math.random() * 0xffffffff);
  #seq = Math.floor(Math.random() * 0xffff);
  #frame = 0;
  #keyWanted = true;
  /** Each probe's send time (performance.now), by its number. */
  readonly probesSent: number[] = [];

  /** `fps`: the frames a caller sends each second (video; it sets how often a key frame comes anyway). */
  constructor(source: MediaSource, fps = 30) {
    this.source = source;
    this.#fps = fps;
    this.#clockRate = KIND[source] === 'audio' ? 48_000 : 90_000;
    this.ssrc = 1 + Math.floor(Math.random() * 0x7fffffff);
  }

  rtpParameters() {
    return KIND[this.source] === 'audio'
      ? { codecs: [{ mimeType: 'audio/opus', payloadType: AUDIO_PT, clockRate: 48_000, channels: 2 }], encodings: [{ ssrc: this.ssrc }], rtcp: { cname: `plain-${this.ssrc}` } }
      : {
          codecs: [{ mimeType: 'video/VP8', payloadType: VIDEO_PT, clockRate: 90_000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] }],
          encodings: [{ ssrc: this.ssrc }],
          rtcp: { cname: `plain-${this.ssrc}` },
        };
  }

  /** The server asked for a key frame: the next frame is one. */
  wantKey(): void {
    this.#keyWanted = true;
  }

  /** The next packets to send: 20 ms of audio, or one video frame. */
  next(): Buffer[] {
    return KIND[this.source] === 'audio' ? [this.#audio()] : this.#video();
  }

  /** The next probe packet; its send time is taken now (send it at once). */
  probe(): Buffer {
    const number = this.probesSent.length;
    const audio = KIND[this.source] === 'audio';
    // Audio: an opus TOC byte; video: a VP8 payload descriptor starting a frame and a delta frame's tag.
    const head = audio ? [0x78] : [0x10, 0x11, 0x02, 0x00];
    const packet = RtpSource.header(audio ? AUDIO_PT : VIDEO_PT, !audio, this.#seq++, this.#ts(), this.ssrc, head.length + 8);
    packet.set(head, 12);
    packet.writeUInt32BE(PROBE_MAGIC, packet.length - 8);
    packet.writeUInt32BE(number, packet.length - 4);
    this.probesSent.push(performance.now());
    return packet;
  }

  #ts(): number {
    return (this.#tsBase + Math.round(((performance.now() - this.#epoch) * this.#clockRate) / 1000)) >>> 0;
  }

  #audio(): Buffer {
    const packet = RtpSource.header(AUDIO_PT, false, this.#seq++, this.#ts(), this.ssrc, 90);
    packet[12] = 0x78; // an opus TOC byte (CELT FB 20 ms, mono)
    return packet;
  }

  #video(): Buffer[] {
    // A key frame when asked for, and every 3 s anyway (slides change rarely).
    const key = this.#keyWanted || this.#frame % (3 * this.#fps) === 0;
    this.#keyWanted = false;
    this.#frame++;
    const size = key ? 3000 : 600;
    const frame = Buffer.alloc(size);
    // VP8 frame tag: bit 0 clear on a key frame; then the key frame start code and 1280×720.
    frame.set(key ? [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 1280 & 0xff, 1280 >> 8, 720 & 0xff, 720 >> 8] : [0x11, 0x02, 0x00]);
    const ts = this.#ts();
    const packets: Buffer[] = [];
    for (let at = 0; at < size; at += MAX_VIDEO_PAYLOAD) {
      const chunk = frame.subarray(at, at + MAX_VIDEO_PAYLOAD);
      const packet = RtpSource.header(VIDEO_PT, at + MAX_VIDEO_PAYLOAD >= size, this.#seq++, ts, this.ssrc, 1 + chunk.length);
      packet[12] = at === 0 ? 0x10 : 0x00; // VP8 payload descriptor: S bit on a frame's first packet
      chunk.copy(packet, 13);
      packets.push(packet);
    }
    return packets;
  }
}

/** The SSRC of an RTP media packet, or undefined for RTCP, bandwidth probation and anything else. */
export function mediaSsrc(packet: Buffer): number | undefined {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return undefined;
  const pt = packet[1]! & 0x7f;
  if ((pt >= 72 && pt <= 79) || pt === 127) return undefined;
  return packet.readUInt32BE(8);
}

/** A probe packet's number (see PlainStream.probe), or undefined for any other packet. */
export function probeNumber(packet: Buffer): number | undefined {
  if (packet.length < 12 + 8 || packet.readUInt32BE(packet.length - 8) !== PROBE_MAGIC) return undefined;
  return packet.readUInt32BE(packet.length - 4);
}

/** The SSRCs named in an RTCP compound packet's key frame requests (PLI, FIR); none for anything else. */
export function keyRequests(packet: Buffer): number[] {
  if (packet.length < 8 || packet[0]! >> 6 !== 2 || packet[1]! < 192 || packet[1]! > 223) return [];
  const ssrcs: number[] = [];
  for (let at = 0; at + 12 <= packet.length; ) {
    const type = packet[at + 1]!;
    const fmt = packet[at]! & 0x1f;
    const length = (packet.readUInt16BE(at + 2) + 1) * 4;
    if (type === 206 && fmt === 1) ssrcs.push(packet.readUInt32BE(at + 8));
    if (type === 206 && fmt === 4 && at + 16 <= packet.length) ssrcs.push(packet.readUInt32BE(at + 12));
    at += length;
  }
  return ssrcs;
}

/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_OFFSET = 2_208_988_800;

/**
 * An RTCP sender report (RFC 3550 6.4.1, no report blocks) for the stream `ssrc`: `rtpTimestamp`
 * is the stream's RTP time at the wall-clock time `wallMs` (ms since 1970; by default now),
 * which goes out as NTP time; `packets` and `octets` are what the stream has sent so far
 * (payload octets, headers not counted). mediasoup switches a simulcast consumer from one
 * layer to another only once reports like this let it line the layers' timestamps up.
 */
export function senderReport(ssrc: number, rtpTimestamp: number, sent: { packets: number; octets: number } = { packets: 0, octets: 0 }, wallMs = performance.timeOrigin + performance.now()): Buffer {
  const packet = Buffer.alloc(28);
  const ntp = wallMs / 1000 + NTP_OFFSET;
  const seconds = Math.floor(ntp);
  packet[0] = 0x80;
  packet[1] = 200;
  packet.writeUInt16BE(6, 2);
  packet.writeUInt32BE(ssrc >>> 0, 4);
  packet.writeUInt32BE(seconds >>> 0, 8);
  packet.writeUInt32BE(Math.floor((ntp - seconds) * 2 ** 32), 12);
  packet.writeUInt32BE(rtpTimestamp >>> 0, 16);
  packet.writeUInt32BE(sent.packets >>> 0, 20);
  packet.writeUInt32BE(sent.octets >>> 0, 24);
  return packet;
}

/** A UDP socket on loopback, on a port of its own. */
export async function bindUdp(receiveBufferBytes?: number): Promise<UdpSocket> {
  const udp = createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  if (receiveBufferBytes !== undefined) udp.setRecvBufferSize(receiveBufferBytes);
  return udp;
}
