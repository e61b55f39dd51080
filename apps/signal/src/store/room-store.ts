import { ProtocolFailure, type Acknowledgement } from '@group-room/shared';
import type { RoomChange, RoomState } from '../room/state.js';

/** Speaking time per member id: milliseconds heard, and when last heard. */
export type TalkTally = Record<string, { speakingMs: number; lastSpokeAt: number }>;

/** How long a room's state may live after a write, in seconds (see roomTtl). */
export type RoomTtl = (state: RoomState) => number;

/**
 * The one place room state lives. Implementations: in memory (the default) and Redis
 * (when REDIS_URL is set, shared by every signalling node). Both pass the contract suite.
 */
export interface RoomStore {
  /**
   * Store a new room; false if a room with that id already exists. Throws UNAVAILABLE when
   * the store already holds its most live rooms (MAX_ROOMS), checked in the same atomic step.
   */
  create(room: RoomState): Promise<boolean>;
  get(roomId: string): Promise<RoomState | null>;
  /**
   * Apply `change` atomically and return the stored result. The change may run more than
   * once (Redis retries on a concurrent write), so it must be pure. Throws NOT_FOUND when the
   * room does not exist, and whatever ProtocolFailure the change throws (nothing is written).
   */
  update(roomId: string, change: RoomChange): Promise<RoomState>;
  /**
   * End a session: delete the room's state, keeping only its acknowledgement record for
   * `retentionSeconds`. Returns that record, or null if the room was already gone.
   */
  end(roomId: string, retentionSeconds: number): Promise<Acknowledgement[] | null>;
  acknowledgementRecord(roomId: string): Promise<Acknowledgement[] | null>;
  /**
   * Each member's speaking time so far, kept beside the room (and expiring with it) so that a
   * node taking the room over goes on from there. Not written if the room is gone; deleted
   * with the room and when the session ends.
   */
  saveTalk(roomId: string, tally: TalkTally): Promise<void>;
  loadTalk(roomId: string): Promise<TalkTally | null>;
  delete(roomId: string): Promise<void>;
  /** Every live room's id (the seat sweeper walks them). */
  roomIds(): Promise<string[]>;
  /**
   * Signalling nodes say they are alive by renewing a key with a TTL; a node that stops
   * (killed, or cut off) lapses, and its people's seats are then treated as disconnected.
   */
  heartbeat(nodeId: string, ttlMs: number): Promise<void>;
  /** A node stopping cleanly says so at once rather than waiting for its TTL. */
  forgetNode(nodeId: string): Promise<void>;
  liveNodes(): Promise<Set<string>>;
  /** Throws if the backing service is unreachable (used by /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A room's state lives until its session's scheduled end plus a grace period, at least a minute. */
export function roomTtl(graceSeconds: number, now: () => number = Date.now): RoomTtl {
  return (state) => Math.max(60, Math.ceil((state.session.endsAt - now()) / 1000) + graceSeconds);
}

export const fixedTtl =
  (seconds: number): RoomTtl =>
  () =>
    seconds;

/** The refusal when the store holds as many live rooms as it may (MAX_ROOMS). */
export const serverFull = () =>
  new ProtocolFailure('UNAVAILABLE', 'This server is holding as many sessions as it can. Try again later, or ask the administrator.');
