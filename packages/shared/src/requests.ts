import { z } from 'zod';
import { Command } from './commands.js';
import { DisplayName, EntityId, LinkToken, MediaKind, MediaSource, plainLine, RoomId, SeatResume, TransportDirection } from './domain.js';
import { ConsumerOffer, DtlsParameters, IceParameters, IceServer, MAX_CONSUMER_BATCH, MAX_TILE_HEIGHT, RtpCapabilities, RtpParameters, TilePreference, TransportOptions } from './media-params.js';
import { AgreementText, RoomView } from './room.js';
import { RelayRequest } from './e2ee-relay.js';
import { PrivateSignalRequest } from './signals.js';
import { CheckoutAnswerRequest } from './checkout.js';

const Empty = z.object({}).strict();

/**
 * Every client→server request, defined once: its payload schema and its result schema.
 * Each is sent with a Socket.IO acknowledgement that returns `Result<response>`.
 */
export const requests = {
  /** A facilitator makes a room and gets its two links' tokens. */
  'room:create': {
    request: z
      .object({
        /** Normalised like names (no control, bidi or zero-width characters). */
        title: z.string().max(200, 'is too long').transform(plainLine).pipe(z.string().max(80, 'must be at most 80 characters')).default(''),
        durationMinutes: z.number().int().min(15).max(240).default(90),
        /** Epoch milliseconds; defaults to now. */
        startsAt: z.number().int().positive().optional(),
        agreement: AgreementText.optional(),
        /** The facilitator access key, where the operator set one (see RoomCreationInfo). */
        accessKey: z.string().min(1).max(200).optional(),
      })
      .strict(),
    /**
     * `inviteId`: the shared invite link's id, from which the facilitator's browser derives its secret.
     * `ownerKey`: what makes its holder the session's owner (see `room:enter`); the creator's
     * browser keeps it and never puts it in a link.
     */
    response: z.object({ roomId: RoomId, facilitatorToken: LinkToken, inviteToken: LinkToken, inviteId: EntityId, ownerKey: LinkToken }),
  },
  /**
   * Enter with a link's token. Members start at the agreement, facilitators in the room.
   * `ownerKey` (with a facilitator link of the room, of any generation): the seat is the
   * owner's, whom nobody who came in by a link can remove, mute, lock out or end on. An owner
   * key that is not valid for this room is refused (FORBIDDEN), never ignored.
   */
  'room:enter': {
    request: z.object({ roomId: RoomId, token: LinkToken, displayName: DisplayName, ownerKey: LinkToken.optional() }).strict(),
    response: z.object({ view: RoomView, resume: SeatResume }),
  },
  /**
   * Take one's seat back with its resume credential, after a dropped connection or a reload:
   * same person, role, stage, acknowledgement, hand, turn and holds. FORBIDDEN when the
   * credential is not (or no longer) valid or the seat is gone; NOT_FOUND when the session is.
   */
  'room:resume': {
    request: z.object({ roomId: RoomId, credential: LinkToken }).strict(),
    response: z.object({ view: RoomView, resume: SeatResume }),
  },
  /**
   * The page has stored the credential its last resume answered with: from now on the one it
   * resumed with is refused (until then it stays good while the seat is away, in case that
   * answer was lost). Only on the connection holding the seat, with the seat's current
   * credential: FORBIDDEN otherwise, changing nothing.
   */
  'room:confirmResume': {
    request: z.object({ credential: LinkToken }).strict(),
    response: Empty,
  },
  'room:leave': {
    request: Empty,
    response: Empty,
  },
  /** Every change to the room's state: checked against the actor's role and stage. */
  'room:command': {
    request: z.object({ command: Command }).strict(),
    response: Empty,
  },
  /** A facilitator makes another invite link (e.g. one per member, so one can be blocked). */
  'invite:create': {
    request: Empty,
    response: z.object({ inviteToken: LinkToken, inviteId: EntityId }),
  },
  /**
   * The owner or a facilitator who came in by the facilitator link (not a co-facilitator)
   * replaces the facilitator link: every older one stops working at once, and every facilitator
   * inside who came in by an older one is let go (room:ended 'removed'), but for the owner and
   * whoever replaced it. Members and co-facilitators keep their seats. Answers the new link's token.
   */
  'link:rotateFacilitator': {
    request: Empty,
    response: z.object({ facilitatorToken: LinkToken }).strict(),
  },
  /** A member's private signal to the facilitators (never stored, never sent to members). */
  'signal:send': {
    request: z.object({ signal: PrivateSignalRequest }).strict(),
    response: Empty,
  },
  /**
   * A member's answer to the check-out now open (`checkoutId`), sealed for each facilitator's
   * browser: the server records that they answered (once; INVALID_STATE after that or when no
   * such check-out is open) and hands each box to its facilitator's connection, never storing
   * or logging it. Members admitted with the current agreement acknowledged only.
   */
  'checkout:answer': {
    request: CheckoutAnswerRequest,
    response: Empty,
  },
  /**
   * End-to-end encryption's key handshake: an opaque blob for one other person's browser (see
   * e2ee-relay.ts). Only between people admitted with the current agreement acknowledged, and
   * only to or from a facilitator; never logged, never stored, delivered to the seat's current
   * connection or dropped. INVALID_STATE when the addressee is not connected now.
   */
  'e2ee:relay': {
    request: RelayRequest,
    response: Empty,
  },
  /**
   * This browser can now decrypt the room's media (it has just received a key): the server asks
   * the senders of every video it receives for a key frame, so pictures start at once.
   */
  'media:keysReady': {
    request: Empty,
    response: Empty,
  },
  /** Start media: allowed once admitted with the current agreement acknowledged. */
  'media:join': {
    request: Empty,
    /** `iceServers`: relays to pass to the transports (none when the operator runs no TURN). */
    response: z.object({ routerRtpCapabilities: RtpCapabilities, iceServers: z.array(IceServer).max(4) }),
  },
  'transport:create': {
    request: z.object({ direction: TransportDirection }).strict(),
    response: TransportOptions,
  },
  /** A new ICE username/password for a transport (its ICE path broke, or after a resume). */
  'transport:restartIce': {
    request: z.object({ transportId: EntityId }).strict(),
    response: z.object({ iceParameters: IceParameters }),
  },
  'transport:connect': {
    request: z.object({ transportId: EntityId, dtlsParameters: DtlsParameters }).strict(),
    response: Empty,
  },
  /**
   * Load tests only: a plain RTP transport (no ICE, no DTLS) for a synthetic member that sends
   * RTP from a script instead of a browser. Refused (FORBIDDEN) unless the server runs with
   * SYNTHETIC_MEDIA=true, which production refuses. A send transport learns the sender's
   * address from its first packet; a receive transport sends to the address given by
   * `transport:connectPlain`. `srtp` (receive transports only): what it sends is encrypted
   * with SRTP (AEAD_AES_256_GCM, the suite browsers negotiate here), so a load test's
   * receivers cost the SFU what a browser's WebRTC transport does.
   */
  'transport:createPlain': {
    request: z.object({ direction: TransportDirection, srtp: z.boolean().optional() }).strict(),
    response: z.object({ id: EntityId, ip: z.string().max(64), port: z.number().int().min(1).max(65535) }),
  },
  'transport:connectPlain': {
    request: z.object({ transportId: EntityId, ip: z.ipv4(), port: z.number().int().min(1).max(65535) }).strict(),
    response: Empty,
  },
  'media:produce': {
    request: z
      .object({
        transportId: EntityId,
        kind: MediaKind,
        source: MediaSource,
        rtpParameters: RtpParameters,
        paused: z.boolean().default(false),
      })
      .strict(),
    response: z.object({ producerId: EntityId }),
  },
  /** The microphone and camera toggles: the server pauses the producer itself. */
  'media:setProducerPaused': {
    request: z.object({ producerId: EntityId, paused: z.boolean() }).strict(),
    response: Empty,
  },
  'media:closeProducer': {
    request: z.object({ producerId: EntityId }).strict(),
    response: Empty,
  },
  /**
   * The client has loaded its device and made its receive transport: the server now creates
   * (paused) consumers for every producer this peer may receive and lists them in the answer
   * (not announced one by one; producers that appear later come as `consumer:new`).
   * `tileHeight`: the height in device pixels the receiver's layout gives a camera tile now,
   * so each simulcast video starts in the layer that covers it (no switch after the first
   * frame); later tiles report their own (`consumer:prefer`, `consumers:resume`).
   */
  'media:ready': {
    request: z.object({ rtpCapabilities: RtpCapabilities, tileHeight: z.number().int().min(0).max(MAX_TILE_HEIGHT).optional() }).strict(),
    response: z.object({ consumers: z.array(ConsumerOffer).max(MAX_CONSUMER_BATCH) }),
  },
  /**
   * After a resume with its transports still alive: the consumers the server has for this
   * person now (the client drops any others), and `consumer:new` again for those the client
   * has not resumed yet (announcements sent while it was away were lost).
   */
  'media:resync': {
    request: Empty,
    response: z.object({ consumerIds: z.array(EntityId).max(1000) }),
  },
  /**
   * Audio only, for a weak connection: the server pauses every video stream this person
   * receives (and resumes them when `video` is true again). Their own camera is not affected.
   */
  'media:receiveVideo': {
    request: z.object({ video: z.boolean() }).strict(),
    response: Empty,
  },
  /** The client has set up a consumer announced by `consumer:new` and wants its media. */
  'consumer:resume': {
    request: z.object({ consumerId: EntityId }).strict(),
    response: Empty,
  },
  /**
   * Several consumers set up at once (a newcomer's, from `media:ready`): each is resumed as
   * `consumer:resume` does, a video first taking its tile's preference when given (as
   * `consumer:prefer`), all in one exchange, a few at a time on the server. Set-up only: a
   * consumer already resumed is skipped, its preference too (later changes go by
   * `consumer:prefer`), so the same batch sent again does nothing. A consumer gone meanwhile
   * (its producer closed) or that failed on the server is listed in `missing` (the client
   * closes it; a failed one is announced again at the next `media:resync`) and does not fail
   * the rest.
   */
  'consumers:resume': {
    request: z
      .object({
        consumers: z
          .array(z.object({ consumerId: EntityId, preference: TilePreference.strict().optional() }).strict())
          .min(1)
          .max(MAX_CONSUMER_BATCH),
      })
      .strict(),
    response: z.object({ missing: z.array(EntityId).max(MAX_CONSUMER_BATCH) }),
  },
  /**
   * How the client shows a video it receives: while its tile is off screen or hidden
   * (`visible` false) the server pauses it; otherwise a simulcast video is sent in the smallest
   * layer that covers `height`, the tile's height in device pixels. Video consumers only.
   */
  'consumer:prefer': {
    request: z.object({ consumerId: EntityId, ...TilePreference.shape }).strict(),
    response: Empty,
  },
} as const satisfies Record<string, { request: z.ZodType; response: z.ZodType }>;

/**
 * `GET /api/room-creation`: how this server lets rooms be created, so the start page knows
 * whether to ask for the facilitator access key.
 */
export const RoomCreationInfo = z.object({ mode: z.enum(['open', 'key']) });
export type RoomCreationInfo = z.infer<typeof RoomCreationInfo>;

export type RequestName = keyof typeof requests;
/** What a client sends (before defaults and transforms). */
export type RequestPayload<K extends RequestName> = z.input<(typeof requests)[K]['request']>;
/** What the server handler receives after parsing. */
export type ParsedRequest<K extends RequestName> = z.output<(typeof requests)[K]['request']>;
export type ResponseData<K extends RequestName> = z.output<(typeof requests)[K]['response']>;

export const requestNames = Object.keys(requests) as RequestName[];
