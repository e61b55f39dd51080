import { decodeHeader, parseEnvelope, refOf, SFRAME_TAG_LENGTH, type FrameCodec } from '@group-room/shared/e2ee';

/*
 * Reading what the media tap wrote (apps/signal/src/media/media-tap.ts): RTP packets as the
 * SFU saw them, and whether each one's payload is an SFrame envelope (clear prefix, SFrame
 * header, ciphertext, tag) under a key id the room really used.
 */

export interface TappedPacket {
  producerId: string;
  peerId: string;
  kind: 'audio' | 'video';
  source: string;
  t: number;
  rtp: string;
}

/** The RTP payload (after CSRCs, header extensions and before padding), or null if malformed. */
export function rtpPayload(packet: Buffer): Buffer | null {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return null;
  const csrcs = packet[0]! & 0x0f;
  let at = 12 + 4 * csrcs;
  if (packet[0]! & 0x10) {
    if (packet.length < at + 4) return null;
    at += 4 + 4 * packet.readUInt16BE(at + 2);
  }
  let end = packet.length;
  if (packet[0]! & 0x20) end -= packet[packet.length - 1]!;
  return at <= end ? packet.subarray(at, end) : null;
}

/**
 * A VP8 RTP payload (RFC 7741): whether it starts a frame (S bit and partition 0) and the
 * frame bytes after the payload descriptor.
 */
export function vp8Payload(payload: Buffer): { start: boolean; frame: Buffer } | null {
  if (payload.length < 1) return null;
  const b0 = payload[0]!;
  let at = 1;
  if (b0 & 0x80) {
    const x = payload[at++];
    if (x === undefined) return null;
    if (x & 0x80) at += payload[at]! & 0x80 ? 2 : 1; // PictureID, 7 or 15 bits
    if (x & 0x40) at += 1; // TL0PICIDX
    if (x & 0x30) at += 1; // TID/Y/KEYIDX
  }
  if (at > payload.length) return null;
  return { start: (b0 & 0x10) !== 0 && (b0 & 0x07) === 0, frame: payload.subarray(at) };
}

export type EnvelopeCheck = { kind: 'envelope'; gen: number } | { kind: 'not-envelope' } | { kind: 'skip' };

/**
 * Whether a tapped packet's frame is an SFrame envelope whose key id names one of `gens`.
 * Video packets that do not start a frame carry only ciphertext and are skipped.
 */
export function checkPacket(packet: TappedPacket, gens: ReadonlySet<number>): EnvelopeCheck {
  const payload = rtpPayload(Buffer.from(packet.rtp, 'hex'));
  if (!payload) return { kind: 'not-envelope' };
  let frame: Buffer;
  let codec: FrameCodec;
  if (packet.kind === 'audio') {
    frame = payload;
    codec = 'opus';
  } else {
    const vp8 = vp8Payload(payload);
    if (!vp8) return { kind: 'not-envelope' };
    if (!vp8.start) return { kind: 'skip' };
    frame = vp8.frame;
    codec = 'vp8';
  }
  // An empty frame (DTX) is sealed with no clear prefix at all: header and tag only.
  const bytes = new Uint8Array(frame);
  let header = parseEnvelope(bytes, codec)?.header ?? null;
  if (!header) {
    const bare = decodeHeader(bytes);
    header = bare && bytes.length === bare.length + SFRAME_TAG_LENGTH ? bare : null;
  }
  const ref = header ? refOf(header.kid) : null;
  return ref && gens.has(ref.gen) ? { kind: 'envelope', gen: ref.gen } : { kind: 'not-envelope' };
}
