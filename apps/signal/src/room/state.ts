import { createHash } from 'node:crypto';
import {
  isFacilitatorRole,
  ProtocolFailure,
  OPEN_FLOOR,
  type Acknowledgement,
  type Agreement,
  type Floor,
  type DeviceSource,
  type HeldBy,
  type MediaSource,
  type ShareCount,
  type ProducerView,
  type Role,
  type SessionFrame,
  type Stage,
} from '@group-room/shared';

/*
 * A room's state and the small helpers every rule uses. The rules (entry, commands,
 * producers) are pure functions of (state, input) → new state; they throw ProtocolFailure to
 * refuse, and a refused change writes nothing because the store only writes what a change
 * returns.
 */

export interface MemberState {
  id: string;
  displayName: string;
  role: Role;
  stage: Stage;
  /** The agreement version this person last acknowledged. */
  acknowledgedVersion: string | null;
  /** The invite link this person came in with (null for facilitator links). */
  inviteId: string | null;
  /**
   * The key standing for the address a member came in from (a keyed digest, never the address;
   * see SocketData): what the per-address limit on the way in counts (checkWayIn). Dropped once
   * they are admitted; never sent to anyone. Optional: seats stored before it existed have none.
   */
  addressKey?: string;
  /**
   * The person who created the session (entered with its owner key): outranks everyone who came
   * in by a link (see guardOwner in authorisation.ts). Optional: seats stored before it existed are not.
   */
  owner?: boolean;
  /**
   * The facilitator link generation this facilitator came in with (see
   * RoomState.facilitatorLinkGeneration): a rotation lets go of those on an older one. Absent
   * for members and for seats stored before it existed (counted as 0).
   */
  linkGeneration?: number;
  enteredAt: number;
  producers: Record<string, ProducerView>;
  /** Turned off by a facilitator; stays off until they accept an ask (see ask.answer). */
  heldOff: DeviceSource[];
  /** A facilitator's pending asks to turn a source back on. */
  asked: DeviceSource[];
  /**
   * The seat and its connection (see seats.ts): the connection holding the seat now (null
   * while it is away), the signalling node serving it, since when it is away, and the nonce a
   * resume credential must carry (a new one on every resume, so each credential works once).
   */
  connectionId: string | null;
  node: string | null;
  offlineSince: number | null;
  resumeNonce: string;
  /**
   * The nonce before the last resume, still good while the seat is away: the answer carrying
   * the new credential may have been lost with the connection that asked for it. Cleared once
   * the page confirms it stored the new one (confirmSeat).
   */
  previousNonce: string | null;
}

export interface RoomState {
  id: string;
  /** Bumped by every stored change; the Redis store's compare-and-set key. */
  version: number;
  createdAt: number;
  capacity: number;
  title: string;
  agreement: Agreement;
  session: SessionFrame;
  locked: boolean;
  autoAdmit: boolean;
  /** Set by `session.end`; the server then deletes the room but for its acknowledgements. */
  ended: boolean;
  blockedInvites: string[];
  /**
   * The invite link `room:create` answered with, shared by the whole group: blocking it keeps
   * newcomers out but removes only the person blocked, not everyone who came in with it.
   * (Optional: rooms stored before it existed have none.)
   */
  sharedInviteId?: string | null;
  /**
   * Facilitator links carry the generation they were made for; `link:rotateFacilitator`
   * bumps it, so every older facilitator link stops working at once. (Rooms stored before it
   * existed count as 0.)
   */
  facilitatorLinkGeneration?: number;
  /** Who acknowledged which agreement version, when: kept for the session (and after it). */
  acknowledgements: Acknowledgement[];
  /**
   * The people the last `lobby.clear` let go of, so their connections are told they may come
   * in again with their link rather than that they were removed (see RoomSessions.follow).
   * At most the way in's size; optional (rooms stored before it, and rooms never cleared).
   */
  cleared?: string[];
  members: Record<string, MemberState>;
  /** Turn-taking: mode, holder, raised hands, round (see floor.ts). */
  floor: Floor;
  /**
   * The signalling node serving this room now (its media, its sockets, its timers): `node` its
   * process id, `name` its routing name for the proxy, `fence` the token it was given when it
   * took the room (every write it makes carries it). Held while that node's lease lives; unset
   * until someone connects. Only the store sets it (RoomStore.claimHome): a change cannot.
   */
  home?: { node: string; name: string; fence: number } | null;
  /**
   * Screen sharing (see share-commands.ts): the policy, the members granted a share
   * (facilitators need no grant) and those asking for one. Optional: rooms stored before it
   * read as DEFAULT_SHARE (see shareOf).
   */
  share?: ShareState;
  /**
   * The check-out now open (see checkout-commands.ts): only who has answered is kept, never an
   * answer. Optional: absent reads as none.
   */
  checkout?: CheckoutState | null;
  /** A facilitator and one member aside (see aside-commands.ts). Optional: absent reads as none. */
  aside?: AsideState | null;
}

export interface ShareState {
  maxShares: ShareCount;
  /** Enforced in the sharers' browsers (the server never sees frames): it is in every view. */
  allowWholeScreen: boolean;
  granted: string[];
  asking: string[];
  /**
   * Screen producer ids in the order they started, oldest first: which share a facilitator's
   * replaces, and which one stays when two become one. Kept here because a ProducerView has no
   * time; ids of producers gone since are ignored (and dropped on the next share). Optional.
   */
  started?: string[];
}

export const DEFAULT_SHARE: ShareState = { maxShares: 1, allowWholeScreen: false, granted: [], asking: [] };

export interface CheckoutState {
  id: string;
  startedAt: number;
  /** Members who answered (the answers went sealed to the facilitators, not here). */
  done: string[];
}

export interface AsideState {
  facilitatorId: string;
  memberId: string;
  startedAt: number;
}

export const shareOf = (state: RoomState): ShareState => state.share ?? DEFAULT_SHARE;
export const checkoutOf = (state: RoomState): CheckoutState | null => state.checkout ?? null;
export const asideOf = (state: RoomState): AsideState | null => state.aside ?? null;

export type RoomChange = (state: RoomState) => RoomState;

export function agreementVersion(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export function makeAgreement(text: string, now: number): Agreement {
  return { text, version: agreementVersion(text), updatedAt: now };
}

export interface NewRoomOptions {
  id: string;
  capacity: number;
  title: string;
  agreement: string;
  startsAt: number;
  durationMinutes: number;
  warnMinutes?: number;
  /** The id of the shared invite link made with the room (see RoomState.sharedInviteId). */
  sharedInviteId?: string;
}

export function newRoom(options: NewRoomOptions, now = Date.now()): RoomState {
  return {
    id: options.id,
    version: 0,
    createdAt: now,
    capacity: options.capacity,
    title: options.title,
    agreement: makeAgreement(options.agreement, now),
    session: {
      startsAt: options.startsAt,
      endsAt: options.startsAt + options.durationMinutes * 60_000,
      warnMinutes: options.warnMinutes ?? 5,
    },
    locked: false,
    autoAdmit: false,
    ended: false,
    blockedInvites: [],
    sharedInviteId: options.sharedInviteId ?? null,
    facilitatorLinkGeneration: 0,
    acknowledgements: [],
    members: {},
    floor: OPEN_FLOOR,
  };
}

/** The generation facilitator links must carry now (see RoomState.facilitatorLinkGeneration). */
export function facilitatorLinkGeneration(state: RoomState): number {
  return state.facilitatorLinkGeneration ?? 0;
}

/**
 * The facilitator link changes generation: every older facilitator link is refused from now on,
 * and in the same change every facilitator inside who came in by an older one is let go (a
 * leaked link's holder inside goes with the link), but for the owner and whoever rotated, whose
 * seat now counts as of the new generation (they hold the new link). Co-facilitators made from
 * members came by an invite, not the link: they stay.
 *
 * Who may: the owner, and any facilitator in the room who came in by the link. The remedy
 * against a leaked link must work when the owner is not there; it cannot touch the owner, and
 * what a leaked link's holder gains by it (the others who came by the link let go, a new link)
 * the owner undoes by removing them and replacing the link again.
 */
export const rotateFacilitatorLink =
  (actorId: string, now = Date.now()): RoomChange =>
  (state) => {
    if (state.ended) throw new ProtocolFailure('NOT_FOUND', 'This session has ended');
    const actor = state.members[actorId];
    if (!actor || actor.role !== 'facilitator' || actor.stage !== 'admitted') {
      throw new ProtocolFailure('FORBIDDEN', 'Only a facilitator in the room can replace the facilitator link');
    }
    const generation = facilitatorLinkGeneration(state) + 1;
    let next: RoomState = withMember({ ...state, facilitatorLinkGeneration: generation }, { ...actor, linkGeneration: generation });
    for (const member of membersInOrder(state)) {
      if (member.id !== actorId && member.role === 'facilitator' && !member.owner && (member.linkGeneration ?? 0) < generation) {
        next = withoutMember(next, member.id, now);
      }
    }
    return next;
  };

export function memberCount(state: RoomState): number {
  return Object.keys(state.members).length;
}

export function requireMember(state: RoomState, memberId: string, message = 'No such member'): MemberState {
  const member = state.members[memberId];
  if (!member) throw new ProtocolFailure('NOT_FOUND', message);
  return member;
}

export function withMember(state: RoomState, member: MemberState): RoomState {
  return { ...state, members: { ...state.members, [member.id]: member } };
}

/**
 * The member is gone: from the member list and from the floor (queue, round, holder), off the
 * share lists and the check-out's answered list, and an aside they are in ends.
 */
export function withoutMember(state: RoomState, memberId: string, now = Date.now()): RoomState {
  if (!state.members[memberId]) return state;
  const members = { ...state.members };
  delete members[memberId];
  const left = { ...state, members, floor: floorWithout(state.floor, memberId, now) };
  return withoutCheckedOut(withoutAsideOf(withoutShareLists(left, memberId), memberId), memberId);
}

/** Off the share lists (granted, asking): someone who left, or needs no grant now. Unchanged state when on neither. */
export function withoutShareLists(state: RoomState, memberId: string): RoomState {
  const share = shareOf(state);
  if (!share.granted.includes(memberId) && !share.asking.includes(memberId)) return state;
  return { ...state, share: { ...share, granted: share.granted.filter((id) => id !== memberId), asking: share.asking.filter((id) => id !== memberId) } };
}

/** An aside with this person in it (either of the two) ends: both are back in the group. Unchanged state otherwise. */
export function withoutAsideOf(state: RoomState, memberId: string): RoomState {
  const aside = asideOf(state);
  return aside && (aside.memberId === memberId || aside.facilitatorId === memberId) ? { ...state, aside: null } : state;
}

/**
 * Off the open check-out's answered list: only for someone who left (a member made a
 * co-facilitator and back stays on it, so they cannot answer twice). Unchanged state otherwise.
 */
function withoutCheckedOut(state: RoomState, memberId: string): RoomState {
  const checkout = checkoutOf(state);
  if (!checkout?.done.includes(memberId)) return state;
  return { ...state, checkout: { ...checkout, done: checkout.done.filter((id) => id !== memberId) } };
}

/** Take someone off the floor: out of the queue and the round; if they held it, it moves on. */
export function floorWithout(floor: Floor, memberId: string, now: number): Floor {
  const hands = floor.hands.filter((id) => id !== memberId);
  if (!floor.round) {
    const next = { ...floor, hands };
    return floor.holder === memberId ? passFloor(next, null, now) : next;
  }
  const { order, position } = floor.round;
  const at = order.indexOf(memberId);
  if (at === -1) return { ...floor, hands };
  const rest = order.filter((id) => id !== memberId);
  const round = { ...floor.round, order: rest, position: at < position ? position - 1 : position };
  if (floor.holder !== memberId) return { ...floor, hands, round };
  return roundAt({ ...floor, hands, round }, round.position, now);
}

/** Hand the floor to `holder` (or nobody), starting a new turn. */
export function passFloor(floor: Floor, holder: string | null, now: number, turnSeconds: number | null = null): Floor {
  return {
    ...floor,
    holder,
    turn: floor.turn + 1,
    turnStartedAt: holder ? now : null,
    turnEndsAt: holder && turnSeconds ? now + turnSeconds * 1000 : null,
    turnPausedMs: null,
  };
}

/** The round's turn at `position`; past the last turn the round is over and the floor opens. */
export function roundAt(floor: Floor, position: number, now: number): Floor {
  const round = floor.round;
  if (!round || position >= round.order.length) {
    return { ...passFloor(floor, null, now), mode: 'open', round: null, hands: [] };
  }
  return passFloor({ ...floor, round: { ...round, position } }, round.order[position] ?? null, now, round.turnSeconds);
}

/**
 * A member (not a facilitator) at the agreement step, or whose acknowledgement is missing or
 * for an older text. The stage counts too: someone sent back to read a changed text stays
 * there even if the text is then set back to what they had acknowledged, and may acknowledge.
 */
export function mustAcknowledge(state: RoomState, member: MemberState): boolean {
  return !isFacilitatorRole(member.role) && (member.stage === 'agreement' || member.acknowledgedVersion !== state.agreement.version);
}

/**
 * Media follows state: the one rule for who may send and receive. Admitted, and (for
 * members) with the current agreement acknowledged.
 */
export function mediaAllowed(state: RoomState, memberId: string): boolean {
  const member = state.members[memberId];
  return Boolean(member && member.stage === 'admitted' && !mustAcknowledge(state, member));
}

export function membersWithMedia(state: RoomState): Set<string> {
  return new Set(Object.keys(state.members).filter((id) => mediaAllowed(state, id)));
}

/**
 * Why the server holds a member's microphone or camera off, or null if it may be sent.
 * Facilitators may always speak; a member's camera is held only by a facilitator; a member's
 * microphone also by the floor (raised hands or a round: only the holder speaks), except while
 * they are aside (they talk with the facilitator, not to the group). A screen is not a device:
 * it is never held, only granted (see maySend).
 */
export function heldBy(state: RoomState, member: MemberState, source: MediaSource): HeldBy | null {
  if (source === 'screen' || isFacilitatorRole(member.role)) return null;
  if (member.heldOff.includes(source)) return 'facilitator';
  if (source === 'mic' && state.floor.mode !== 'open' && state.floor.holder !== member.id && asideOf(state)?.memberId !== member.id) return 'floor';
  return null;
}

/** Whether someone may share a screen: a facilitator, or a member with a grant. */
export function mayShare(state: RoomState, member: MemberState): boolean {
  return isFacilitatorRole(member.role) || shareOf(state).granted.includes(member.id);
}

/**
 * Who may send a source: allowed media and not held; a screen only with a grant (or as a
 * facilitator). A hold on the camera does not touch the screen, nor a grant the camera.
 */
export function maySend(state: RoomState, memberId: string, source: MediaSource): boolean {
  const member = state.members[memberId];
  if (!member || !mediaAllowed(state, memberId)) return false;
  return source === 'screen' ? mayShare(state, member) : heldBy(state, member, source) === null;
}

/** A screen producer in the room: whose, and which. */
export interface Share {
  memberId: string;
  producerId: string;
}

/** Every screen producer in the room, in no particular order (sharesInOrder gives their order). */
export function screenShares(state: RoomState): Share[] {
  const shares: Share[] = [];
  for (const member of Object.values(state.members)) {
    for (const producer of Object.values(member.producers)) {
      if (producer.source === 'screen') shares.push({ memberId: member.id, producerId: producer.id });
    }
  }
  return shares;
}

/** The screen producers in the room now (ids), whoever's: what the media layer keeps open. */
export function screenProducerIds(state: RoomState): Set<string> {
  return new Set(screenShares(state).map((s) => s.producerId));
}

/** The space of the two aside (everyone else is in the group: absent from `apart`). */
export const ASIDE_SPACE = 'aside';

/** What the media layer applies: who receives, and who may send each source. */
export interface MediaPolicy {
  receive: ReadonlySet<string>;
  send: Readonly<Record<MediaSource, ReadonlySet<string>>>;
  /**
   * Peers not in the group, by the space they are in (the two aside): media flows only between
   * peers in the same space (absent = the group).
   */
  apart: ReadonlyMap<string, string>;
  /** The screen producers the room state holds (see screenProducerIds): any other is closed. */
  shares: ReadonlySet<string>;
}

export function mediaPolicy(state: RoomState): MediaPolicy {
  const ids = Object.keys(state.members);
  const aside = asideOf(state);
  return {
    receive: membersWithMedia(state),
    send: {
      mic: new Set(ids.filter((id) => maySend(state, id, 'mic'))),
      camera: new Set(ids.filter((id) => maySend(state, id, 'camera'))),
      screen: new Set(ids.filter((id) => maySend(state, id, 'screen'))),
    },
    apart: new Map(aside ? [[aside.facilitatorId, ASIDE_SPACE], [aside.memberId, ASIDE_SPACE]] : []),
    shares: screenProducerIds(state),
  };
}

/** In entry order, so lists stay stable. */
export function membersInOrder(state: RoomState): MemberState[] {
  return Object.values(state.members).sort((a, b) => a.enteredAt - b.enteredAt || a.id.localeCompare(b.id));
}
