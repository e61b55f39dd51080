import { z } from 'zod';
import { EntityId } from './domain.js';

/*
 * Turn-taking: who may speak now. The facilitator switches modes live; the server pauses the
 * audio of every member the mode does not let speak (facilitators may always speak).
 */

/** open: anyone may unmute. hands: raised-hand queue, the holder speaks. round: talking stick. */
export const FloorMode = z.enum(['open', 'hands', 'round']);
export type FloorMode = z.infer<typeof FloorMode>;

/** When a round's turn runs out: a gentle warning only, or the stick passes on by itself. */
export const TurnTimeout = z.enum(['warn', 'pass']);
export type TurnTimeout = z.infer<typeof TurnTimeout>;

export const TURN_SECONDS_MIN = 15;
export const TURN_SECONDS_MAX = 30 * 60;
export const TurnSeconds = z.number().int().min(TURN_SECONDS_MIN).max(TURN_SECONDS_MAX);

export const Round = z.object({
  /** Who takes a turn, in order (member ids). */
  order: z.array(EntityId),
  /** Index into `order` of the current turn. */
  position: z.number().int().min(0),
  turnSeconds: TurnSeconds.nullable(),
  onTimeout: TurnTimeout,
});
export type Round = z.infer<typeof Round>;

export const Floor = z.object({
  mode: FloorMode,
  /** Who holds the floor: the member granted it (hands) or whose turn it is (round). */
  holder: EntityId.nullable(),
  /** Raised hands, first in line first. */
  hands: z.array(EntityId),
  round: Round.nullable(),
  /** Bumped whenever the holder changes, so a turn's timer can tell it is still that turn. */
  turn: z.number().int().min(0),
  turnStartedAt: z.number().nullable(),
  /** When the current round turn's limit runs out, if it has one. */
  turnEndsAt: z.number().nullable(),
  /**
   * A timed turn whose holder's connection dropped is paused: the time it had left (ms), and
   * `turnEndsAt` is null until they are back. Null otherwise.
   */
  turnPausedMs: z.number().nullable(),
});
export type Floor = z.infer<typeof Floor>;

export const OPEN_FLOOR: Floor = {
  mode: 'open',
  holder: null,
  hands: [],
  round: null,
  turn: 0,
  turnStartedAt: null,
  turnEndsAt: null,
  turnPausedMs: null,
};

/** Why a member may not send a source now: a facilitator turned it off, or it is not their turn. */
export const HeldBy = z.enum(['facilitator', 'floor']);
export type HeldBy = z.infer<typeof HeldBy>;
