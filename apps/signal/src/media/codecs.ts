import type { types } from 'mediasoup';

/**
 * Opus and VP8 only. Every frame is encrypted end to end in the browsers (SFrame), leaving
 * clear only the bytes this server needs to forward it: Opus's TOC byte, VP8's frame header
 * (its key frame bit, which simulcast layer switching reads). VP9 and H264 are left out: H264's
 * clear bytes depend on its NAL units, and the browsers encrypt only Opus and VP8. No RED
 * either: an encrypted RED payload cannot be unwrapped here.
 */
export const mediaCodecs: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 101, parameters: { 'x-google-start-bitrate': 1000 } },
];

/** The codecs a producer may send: the router's, by MIME type (lower case). */
export const PRODUCIBLE_MIME_TYPES: ReadonlySet<string> = new Set(mediaCodecs.map((codec) => codec.mimeType.toLowerCase()));
