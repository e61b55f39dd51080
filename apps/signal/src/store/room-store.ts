import { ProtocolFailure, type Acknowledgement } from '@group-room/shared';
import type { RoomChange, RoomState } from '../room/state.js';

/** Speaking time per member id: milliseconds heard, and when last heard. */
export type TalkTally = Record<string, { speakingMs: number; lastSpokeAt: number }>;

/**
 * A node's hold on a room: the room's home node and the fencing token it was given when it
 * took the room. Every write a home makes carries it, and the store refuses a write whose
 * token is not the room's current one or whose node's lease has lapsed.
 */
export interface Fence {
  node: string;
  fence: number;
}

/** A signalling node as the store knows it: its process id (its lease key) and routing name. */
export interface NodeIdentity {
  id: string;
  name: string;
}

/**
 * What `claimHome` found. `here`: this node holds the room (already or just now) with `fence`.
 * `elsewhere`: a node whose lease is live holds it. `lapsed`: its home's lease lapsed, but
 * this node was told not to take lapsed rooms (it has not had the store for a whole lease
 * period itself). `missing`: no such room. `unleased`: this node's own lease has lapsed.
 */
export type Claim =
  | { kind: 'here'; fence: Fence; taken: boolean }
  /** `leaseLeftMs`: how long the holder's lease has left (it grows again when the holder renews). */
  | { kind: 'elsewhere'; name: string; leaseLeftMs: number }
  | { kind: 'lapsed'; name: string }
  | { kind: 'missing' }
  | { kind: 'unleased' };

/**
 * What `findHome` saw, without changing anything: no such room, a room nobody holds (never
 * taken, or released), or its home's node, name, and the time its lease has left (0: lapsed).
 */
export type HomeSighting = { kind: 'missing' } | { kind: 'none' } | { kind: 'home'; node: string; name: string; leaseLeftMs: number };

/** The refusal of a write by a node that no longer holds the room (its fence is stale or its lease lapsed). */
export class LeaseLost extends ProtocolFailure {
  constructor() {
    super('UNAVAILABLE', 'This session is now served by another server: reconnecting');
  }
}

/** Another live node holds this node's name (NODE_NAME): refused until that node's lease lapses. */
export class NameInUse extends Error {
  constructor(name: string) {
    super(`NODE_NAME ${name} is in use by another live node`);
    this.name = 'NameInUse';
  }
}

/**
 * What an ended session leaves behind, until the facilitator takes it or it expires: the
 * acknowledgements, and which facilitator link generation may take them.
 */
export interface KeptRecord {
  acknowledgements: Acknowledgement[];
  facilitatorLinkGeneration: number;
}

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
  /**
   * The room's state, with `home` as the store holds it (its node, name and fence). Every
   * state the store hands out (here, to a change, from `update`) is frozen all the way down:
   * nobody can change it in place, so it is shared rather than copied.
   */
  get(roomId: string): Promise<RoomState | null>;
  /**
   * Apply `change` atomically and return the stored result. The change may run more than
   * once (Redis retries on a concurrent write), so it must be pure: it is given a frozen state
   * (writing to it throws) and returns a new one, or the same one for no change; it cannot change `home`
   * (only claimHome and releaseHomes do). Throws NOT_FOUND when the room does not exist, and
   * whatever ProtocolFailure the change throws (nothing is written). `writer`: the home's
   * fence; the write is refused with LeaseLost unless it is the room's current one and its
   * node's lease is live. A write without one is refused once the room has a home.
   * `known`: a state this store handed out that the caller believes current (the home's
   * latest): a store may apply the change to it without reading the room first, as long as
   * the write still fails over to the stored state when `known` turns out to be old (Redis:
   * its compare-and-set on the version), and a change that leaves it unchanged is checked
   * against a fresh read.
   */
  update(roomId: string, change: RoomChange, writer?: Fence, known?: RoomState): Promise<RoomState>;
  /**
   * End a session: delete the room's state, keeping only its acknowledgement record for
   * `retentionSeconds`. Returns that record, or null if the room was already gone. Fenced
   * like `update`.
   */
  end(roomId: string, retentionSeconds: number, writer?: Fence): Promise<Acknowledgement[] | null>;
  /** The kept record, left where it is (tests and checks; nothing serves it). */
  acknowledgementRecord(roomId: string): Promise<Acknowledgement[] | null>;
  /**
   * Hand the kept record out once: it is deleted in the same atomic step (Redis GETDEL), so two
   * requests at once cannot both have it. `linkGeneration`: the facilitator link generation the
   * asker's link is of; a record kept for another generation (the link was replaced before the
   * end) is neither handed out nor deleted. Null: any (the owner key). Null when there is none.
   */
  takeAcknowledgements(roomId: string, linkGeneration: number | null): Promise<Acknowledgement[] | null>;
  /**
   * Each member's speaking time so far, kept beside the room (and expiring with it) so that a
   * node taking the room over goes on from there. Not written if the room is gone, nor by a
   * node that no longer holds the room (LeaseLost); deleted with the room and when the
   * session ends.
   */
  saveTalk(roomId: string, tally: TalkTally, writer: Fence): Promise<void>;
  loadTalk(roomId: string): Promise<TalkTally | null>;
  delete(roomId: string): Promise<void>;
  /** Every live room's id (tests and the in-memory store's expiry; nodes walk only their own). */
  roomIds(): Promise<string[]>;
  /**
   * A node's lease: renewed every second or so with a time to live, measured by the store's
   * own clock. While it lives the node holds its rooms; once it lapses (the node died, or is
   * cut off from the store) other nodes may take them. The lease also holds the node's name:
   * NameInUse while another node with a live lease has it (two live nodes never share a name).
   */
  renewLease(node: NodeIdentity, ttlMs: number): Promise<void>;
  /**
   * Make `node` the room's home if nobody else holds it: the room has no home, its home is
   * this node, its home ran under the same name (a restarted node takes its predecessor's
   * rooms at once), or its home's lease lapsed and `takeLapsed`. Taking it gives a new
   * fence. Atomic: two nodes claiming at once cannot both win.
   */
  claimHome(roomId: string, node: NodeIdentity, options: { takeLapsed: boolean }): Promise<Claim>;
  /** Where the room's home is, read only (what a handshake asks: it writes nothing). */
  findHome(roomId: string): Promise<HomeSighting>;
  /** The rooms whose home is this node, as the store records it. */
  heldRooms(nodeId: string): Promise<string[]>;
  /** Up to `limit` rooms whose home's lease has lapsed, or that a stopping node released (so another node may take them). */
  lapsedRooms(limit: number): Promise<string[]>;
  /**
   * A node stopping cleanly: its rooms have no home from now on (any node takes them at once)
   * and its lease ends.
   */
  releaseHomes(node: NodeIdentity): Promise<void>;
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
