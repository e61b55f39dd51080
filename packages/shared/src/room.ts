import { z } from 'zod';
import { DeviceSource, EntityId, ProducerView, RoomId } from './domain.js';
import { Floor, HeldBy } from './floor.js';

/** Who someone is in a room. Roles come from tokens the server signs, never from a client. */
export const Role = z.enum(['facilitator', 'cofacilitator', 'member']);
export type Role = z.infer<typeof Role>;

export const isFacilitatorRole = (role: Role): boolean => role === 'facilitator' || role === 'cofacilitator';

/**
 * Where a member is on the way in: reading the agreement, in the waiting room, or admitted.
 * A removed member is no longer in the room at all.
 */
export const Stage = z.enum(['agreement', 'waiting', 'admitted']);
export type Stage = z.infer<typeof Stage>;

export const AGREEMENT_MAX = 4000;

export const AgreementText = z
  .string()
  .max(AGREEMENT_MAX, `must be at most ${AGREEMENT_MAX} characters`)
  .transform((t) => t.normalize('NFC').replace(/\r\n?/g, '\n').trim())
  .pipe(z.string().min(1, 'must not be empty'));

export const DEFAULT_AGREEMENT = [
  'What is said here stays here. You may share what you learned, never who said what.',
  'No recording, screenshots or photos of the screen, by anyone.',
  'Join from somewhere private where nobody else can see or hear the group; use headphones if anyone is near.',
  'Respect each other: one voice at a time, speak for yourself, and no pressure to share more than you want.',
  'If the facilitator is worried that someone is at risk of serious harm, they may contact that person privately after the session and, if needed, emergency services. Outside sessions, call your local emergency number in a crisis.',
].join('\n\n');

export const Agreement = z.object({
  text: z.string(),
  /** A digest of the text: what a member acknowledges. */
  version: z.string(),
  updatedAt: z.number(),
});
export type Agreement = z.infer<typeof Agreement>;

export const SessionFrame = z.object({
  startsAt: z.number(),
  endsAt: z.number(),
  /** Minutes before the end when everyone sees a warning. */
  warnMinutes: z.number(),
});
export type SessionFrame = z.infer<typeof SessionFrame>;

export const Acknowledgement = z.object({
  memberId: EntityId,
  displayName: z.string(),
  version: z.string(),
  at: z.number(),
});
export type Acknowledgement = z.infer<typeof Acknowledgement>;

/**
 * Whether a person's connection is there now. A seat outlives its connection: someone whose
 * connection dropped stays in the room as `reconnecting` for a grace period.
 */
export const Connection = z.enum(['online', 'reconnecting']);
export type Connection = z.infer<typeof Connection>;

/** How many people may share a screen at once. */
export const ShareCount = z.union([z.literal(1), z.literal(2)]);
export type ShareCount = z.infer<typeof ShareCount>;

/**
 * Screen sharing's rules, set by a facilitator: `maxShares` at once (when full, a facilitator's
 * new share replaces the earliest; a member's is refused), and whether a whole screen (a
 * monitor) may be shared, or only a window or a tab (the default: nothing else on the screen
 * goes out by mistake).
 */
export const SharePolicy = z.object({ maxShares: ShareCount, allowWholeScreen: z.boolean() });
export type SharePolicy = z.infer<typeof SharePolicy>;
export const DEFAULT_SHARE_POLICY: SharePolicy = { maxShares: 1, allowWholeScreen: false };

/**
 * The check-out now open, as everyone in the room sees it: how many of the members have
 * answered (`done` of `of`, members only, facilitators do not answer). The answers themselves
 * go sealed to the facilitators' browsers and are never on the server.
 */
export const CheckoutView = z.object({ id: EntityId, startedAt: z.number(), done: z.number().int().min(0), of: z.number().int().min(0) });
export type CheckoutView = z.infer<typeof CheckoutView>;

/** A facilitator and one member aside: they hear and see only each other. */
export const Aside = z.object({ facilitatorId: EntityId, memberId: EntityId, startedAt: z.number() });
export type Aside = z.infer<typeof Aside>;

/** What an admitted member is shown of another admitted member. */
export const MemberSummary = z.object({
  id: EntityId,
  displayName: z.string(),
  role: Role,
  connection: Connection,
  producers: z.array(ProducerView),
  /** What of theirs reaches the group now: on at their end and not held by the server. */
  sending: z.object({ mic: z.boolean(), camera: z.boolean(), screen: z.boolean() }),
});
export type MemberSummary = z.infer<typeof MemberSummary>;

/** What facilitators are shown of anyone in the room, wherever they are on the way in. */
export const MemberDetail = MemberSummary.extend({
  stage: Stage,
  /** The agreement version they last acknowledged, if any. */
  acknowledgedVersion: z.string().nullable(),
  enteredAt: z.number(),
  /**
   * The invite link they came in with (null for a facilitator link): a facilitator's browser
   * derives that link's secret from it to check their key handshake.
   */
  inviteId: z.string().nullable(),
  /** Turned off by a facilitator, until they accept an ask to turn it back on. */
  heldOff: z.array(DeviceSource),
  /** Asks to turn back on that they have not answered yet. */
  asked: z.array(DeviceSource),
  /** Screen sharing: granted by a facilitator (facilitators need none), and whether they ask to. */
  share: z.object({ granted: z.boolean(), asking: z.boolean() }),
  /**
   * The person who created the session (entered with its owner key): nobody who came in by a
   * link can remove, mute, change or end the session on them.
   */
  owner: z.boolean(),
});
export type MemberDetail = z.infer<typeof MemberDetail>;

export const SelfView = z.object({
  id: EntityId,
  displayName: z.string(),
  role: Role,
  stage: Stage,
  /** The invite link this person came in with (null for a facilitator link). */
  inviteId: z.string().nullable(),
  /** True when the current agreement still needs this person's acknowledgement. */
  mustAcknowledge: z.boolean(),
  /** True when the server lets this person send and receive media now. */
  media: z.boolean(),
  /** Why their microphone or camera is held off by the server, if it is. */
  held: z.object({ mic: HeldBy.nullable(), camera: HeldBy.nullable() }),
  /** A facilitator asks them to turn these back on; they accept or decline. */
  asked: z.array(DeviceSource),
  /**
   * Screen sharing: `may` whether the server takes a screen from them now (a facilitator, or a
   * member with a grant), `asking` whether they asked a facilitator to let them.
   */
  share: z.object({ may: z.boolean(), asking: z.boolean() }),
  /** In a check-out now open: whether they have answered it. */
  checkedOut: z.boolean(),
});
export type SelfView = z.infer<typeof SelfView>;

/**
 * What one person is sent of the room: a projection of the room state for their role and
 * stage. Someone who has not acknowledged the agreement, or is waiting, gets no names.
 */
export const RoomView = z.object({
  roomId: RoomId,
  title: z.string(),
  session: SessionFrame,
  agreement: Agreement,
  locked: z.boolean(),
  self: SelfView,
  /** Admitted people, present only for those who may see them. */
  members: z.array(MemberSummary).optional(),
  /** Turn-taking, for those in the room. */
  floor: Floor.optional(),
  /** Screen sharing's rules now, for those in the room. */
  share: SharePolicy.optional(),
  /** The check-out, while one is open, for those in the room (null when none). */
  checkout: CheckoutView.nullable().optional(),
  /** Who is aside now (a facilitator with one member), for those in the room (null when nobody). */
  aside: Aside.nullable().optional(),
  /** Present only for facilitators. */
  facilitation: z
    .object({
      autoAdmit: z.boolean(),
      everyone: z.array(MemberDetail),
      acknowledgements: z.array(Acknowledgement),
      /** Who has answered the check-out now open (empty when none is): the others show "no answer". */
      checkedOut: z.array(EntityId),
    })
    .optional(),
});
export type RoomView = z.infer<typeof RoomView>;
