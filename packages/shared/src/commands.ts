import { z } from 'zod';
import { DeviceSource, EntityId } from './domain.js';
import { TurnSeconds, TurnTimeout } from './floor.js';
import { AgreementText, ShareCount } from './room.js';

/**
 * Every change to a room's state is one of these, sent with `room:command`. Who may send
 * which is one table (the server's authorisation table); each is applied atomically and
 * everyone is sent their new view.
 */
export const Command = z.discriminatedUnion('type', [
  /** Accept the current agreement (by its version) and confirm being somewhere private. */
  z.object({ type: z.literal('agreement.acknowledge'), version: z.string().max(128), privateSpace: z.literal(true) }).strict(),
  z.object({ type: z.literal('agreement.set'), text: AgreementText }).strict(),
  z.object({ type: z.literal('member.admit'), memberId: EntityId }).strict(),
  z.object({ type: z.literal('member.admitAll') }).strict(),
  z.object({ type: z.literal('member.remove'), memberId: EntityId, block: z.boolean() }).strict(),
  z.object({ type: z.literal('member.setRole'), memberId: EntityId, role: z.enum(['cofacilitator', 'member']) }).strict(),
  z.object({ type: z.literal('room.setAutoAdmit'), enabled: z.boolean() }).strict(),
  z.object({ type: z.literal('room.setLocked'), locked: z.boolean() }).strict(),
  /**
   * Let go of everyone still at the entry agreement, and with `waiting` everyone in the
   * waiting room too (people squatting on the way in): they are told they may come in again
   * with their link, which keeps working.
   */
  z.object({ type: z.literal('lobby.clear'), waiting: z.boolean() }).strict(),
  z.object({ type: z.literal('session.end') }).strict(),

  // Turn-taking. Switching mode ends a round and returns the floor.
  z.object({ type: z.literal('floor.setMode'), mode: z.enum(['open', 'hands']) }).strict(),
  /** Give the floor to someone (in raised-hands mode): first in line or anyone. */
  z.object({ type: z.literal('floor.grant'), memberId: EntityId }).strict(),
  /** The holder is done, or a facilitator takes the floor back. */
  z.object({ type: z.literal('floor.release') }).strict(),
  z.object({ type: z.literal('hand.raise') }).strict(),
  /** Lower one's own hand; a facilitator may lower anyone's (memberId). */
  z.object({ type: z.literal('hand.lower'), memberId: EntityId.optional() }).strict(),
  /** Reorder the queue: move someone to a position (past the end = last, i.e. skip). */
  z.object({ type: z.literal('hands.move'), memberId: EntityId, to: z.number().int().min(0).max(1000) }).strict(),
  z.object({ type: z.literal('hands.clear') }).strict(),
  /** A talking-stick round: an order (null = order of arrival), an optional limit per turn. */
  z
    .object({
      type: z.literal('round.start'),
      order: z.array(EntityId).min(1).max(64).nullable(),
      turnSeconds: TurnSeconds.nullable(),
      onTimeout: TurnTimeout,
    })
    .strict(),
  /** The holder passes early; a facilitator moves the round on. */
  z.object({ type: z.literal('round.pass') }).strict(),
  z.object({ type: z.literal('round.end') }).strict(),

  // Muting the server enforces. Nobody can turn anyone's microphone or camera on: they ask.
  z.object({ type: z.literal('member.mute'), memberId: EntityId, source: DeviceSource }).strict(),
  /**
   * Mute every admitted member's microphone (`except: null`), or all but one member: the
   * speaker, as the facilitator sees them (the floor holder, or in open floor whoever spoke
   * last). The server checks `except` is someone in the room.
   */
  z.object({ type: z.literal('member.muteAll'), except: EntityId.nullable() }).strict(),
  z.object({ type: z.literal('member.ask'), memberId: EntityId, source: DeviceSource }).strict(),
  /** The member's answer to an ask: accepting lifts the facilitator's hold on that source. */
  z.object({ type: z.literal('ask.answer'), source: DeviceSource, accept: z.boolean() }).strict(),

  // Screen sharing. Facilitators may always share; a member only while granted (a `screen`
  // producer without a grant is refused, and withdrawing the grant closes it on the server).
  /** A member asks to share (`asking` true) or takes the request back. */
  z.object({ type: z.literal('share.ask'), asking: z.boolean() }).strict(),
  z.object({ type: z.literal('share.grant'), memberId: EntityId }).strict(),
  /** Withdraw a grant (or decline a request): the member's share, if any, is closed at once. */
  z.object({ type: z.literal('share.revoke'), memberId: EntityId }).strict(),
  /** Close someone's share now (the grant stays). */
  z.object({ type: z.literal('share.stop'), memberId: EntityId }).strict(),
  /** How many shares at once (a facilitator's replaces the earliest when full), and whether a whole screen may be shared. */
  z.object({ type: z.literal('share.setPolicy'), maxShares: ShareCount, allowWholeScreen: z.boolean() }).strict(),

  // The check-out at the end: answers go sealed to the facilitators' browsers (`checkout:answer`).
  z.object({ type: z.literal('checkout.start') }).strict(),
  z.object({ type: z.literal('checkout.end') }).strict(),

  // Taking one member aside: the two hear and see only each other; the group sees only that.
  z.object({ type: z.literal('aside.start'), memberId: EntityId }).strict(),
  /** Either of the two, or any facilitator, ends it: both are back in the group. */
  z.object({ type: z.literal('aside.end') }).strict(),
]);
export type Command = z.infer<typeof Command>;
export type CommandType = Command['type'];
export type CommandOf<T extends CommandType> = Extract<Command, { type: T }>;

export const commandTypes = Command.options.map((o) => o.shape.type.value) as CommandType[];
