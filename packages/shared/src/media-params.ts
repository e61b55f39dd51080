import { z } from 'zod';
import { EntityId, MediaKind, MediaSource } from './domain.js';

/*
 * WebRTC parameters exchanged with mediasoup. The schemas check the shape and bound every
 * array and string so a hostile payload stays small; mediasoup validates the details itself
 * and its TypeError becomes BAD_REQUEST. Objects are loose so that fields mediasoup knows and
 * we do not (rtcpFeedback, codec parameters, ...) pass through unchanged.
 */

const shortString = z.string().max(256);
const ssrc = z.number().int().min(0).max(2 ** 32 - 1);

const RtpCodec = z.looseObject({
  kind: z.enum(['audio', 'video']).optional(),
  mimeType: shortString,
  clockRate: z.number().int().positive(),
  channels: z.number().int().positive().max(8).optional(),
  payloadType: z.number().int().min(0).max(127).optional(),
  preferredPayloadType: z.number().int().min(0).max(127).optional(),
  parameters: z.record(z.string().max(64), z.union([z.string().max(256), z.number()])).optional(),
  rtcpFeedback: z.array(z.looseObject({ type: shortString, parameter: shortString.optional() })).max(16).optional(),
});

const HeaderExtension = z.looseObject({
  uri: shortString,
});

export const RtpCapabilities = z.looseObject({
  codecs: z.array(RtpCodec).max(64).optional(),
  headerExtensions: z.array(HeaderExtension).max(64).optional(),
});
export type RtpCapabilities = z.infer<typeof RtpCapabilities>;

export const RtpParameters = z.looseObject({
  mid: z.string().max(32).optional(),
  codecs: z.array(RtpCodec).min(1).max(16),
  headerExtensions: z.array(HeaderExtension).max(32).optional(),
  encodings: z
    .array(z.looseObject({ ssrc: ssrc.optional(), rtx: z.looseObject({ ssrc }).optional() }))
    .max(8)
    .optional(),
  rtcp: z.looseObject({ cname: shortString.optional() }).optional(),
});
export type RtpParameters = z.infer<typeof RtpParameters>;

/**
 * The camera as clients capture it. The server takes `height` as the full-size simulcast
 * layer's height when it picks the layer that covers a receiver's tile (it never sees frames).
 */
export const CAMERA_CAPTURE = { width: 640, height: 360, frameRate: 24 } as const;

/** The tallest tile a client reports, in device pixels (an 8K screen's height). */
export const MAX_TILE_HEIGHT = 4320;

export const DtlsParameters = z.looseObject({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(z.looseObject({ algorithm: z.string().max(32), value: z.string().max(256) }))
    .min(1)
    .max(8),
});
export type DtlsParameters = z.infer<typeof DtlsParameters>;

export const IceParameters = z.looseObject({
  usernameFragment: shortString,
  password: shortString,
  iceLite: z.boolean().optional(),
});
export type IceParameters = z.infer<typeof IceParameters>;

export const IceCandidate = z.looseObject({
  foundation: shortString,
  priority: z.number(),
  address: shortString,
  protocol: z.enum(['udp', 'tcp']),
  port: z.number().int(),
  type: z.string().max(16),
  tcpType: z.string().max(16).optional(),
});

export const TransportOptions = z.object({
  id: z.string(),
  iceParameters: IceParameters,
  iceCandidates: z.array(IceCandidate),
  dtlsParameters: DtlsParameters,
});
export type TransportOptions = z.infer<typeof TransportOptions>;

/**
 * A relay (TURN) server a browser may use to reach the media server when its network blocks
 * the direct path (UDP blocked, only 443 open). The credential is short-lived, made by the
 * server from a secret it shares with the relay; clients never hold a lasting password.
 */
export const IceServer = z.object({
  urls: z.array(z.string().regex(/^turns?:[^\s]{1,250}$/)).min(1).max(8),
  username: z.string().max(128),
  credential: z.string().max(128),
});
export type IceServer = z.infer<typeof IceServer>;

/**
 * A consumer the server made (paused) for a receiver: announced by `consumer:new` for a
 * producer that appears later, and listed all at once in `media:ready`'s answer for what the
 * others already send, so a newcomer sets everything up in one exchange.
 */
export const ConsumerOffer = z.object({
  consumerId: EntityId,
  producerId: EntityId,
  peerId: EntityId,
  kind: MediaKind,
  source: MediaSource,
  rtpParameters: RtpParameters,
  producerPaused: z.boolean(),
});
export type ConsumerOffer = z.infer<typeof ConsumerOffer>;

/**
 * The most consumers one `media:ready` answer lists or one `consumers:resume` takes: every
 * other person's microphone and camera in the largest room (ROOM_CAPACITY ≤ 50), and shares.
 */
export const MAX_CONSUMER_BATCH = 128;

/**
 * How a receiver's page will show a video: whether its tile is on screen (`visible`) and the
 * tile's height in device pixels. A simulcast video is sent in the smallest layer covering it.
 */
export const TilePreference = z.object({ visible: z.boolean(), height: z.number().int().min(0).max(MAX_TILE_HEIGHT) });
export type TilePreference = z.infer<typeof TilePreference>;
