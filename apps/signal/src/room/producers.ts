import { isFacilitatorRole, ProtocolFailure, type ProducerView } from '@group-room/shared';
import { authoriseScreen } from './authorisation.js';
import { requireMember, shareOf, withMember, type MemberState, type RoomChange, type RoomState } from './state.js';

/* The room state's record of each member's media, so others' views show mic, camera and screen. */

/** A screen producer in the room: whose, and which. */
export interface Share {
  memberId: string;
  producerId: string;
}

/** The screen producers in the room, oldest first (see ShareState.started). */
export function sharesInOrder(state: RoomState): Share[] {
  const started = shareOf(state).started ?? [];
  const rank = (id: string) => started.indexOf(id);
  const shares: Share[] = [];
  for (const member of Object.values(state.members)) {
    for (const producer of Object.values(member.producers)) {
      if (producer.source === 'screen') shares.push({ memberId: member.id, producerId: producer.id });
    }
  }
  // One not in `started` (none should be) counts as oldest: it goes first when one must.
  return shares.sort((a, b) => rank(a.producerId) - rank(b.producerId));
}

/** Take screen producers out of the room state; the media layer closes them (see MediaPolicy.shares). */
export function withoutShares(state: RoomState, shares: readonly Share[]): RoomState {
  let next = state;
  for (const { memberId, producerId } of shares) next = removeProducer(memberId, producerId)(next);
  if (next === state) return state;
  const share = shareOf(next);
  if (!share.started) return next;
  const gone = new Set(shares.map((s) => s.producerId));
  return { ...next, share: { ...share, started: share.started.filter((id) => !gone.has(id)) } };
}

/** Every screen producer of one member. */
export const sharesOf = (state: RoomState, memberId: string): Share[] => sharesInOrder(state).filter((s) => s.memberId === memberId);

/**
 * A screen, authorised and counted in the one change that records it, so two at once cannot
 * both pass: the table's 'screen.publish' row and the grant; then, with `maxShares` already on,
 * a facilitator's share replaces the earliest others (members' first), a member's is refused.
 * Someone's new share replaces their own older one.
 */
function putScreen(state: RoomState, member: MemberState, producer: ProducerView): RoomState {
  authoriseScreen(state, member.id);
  const others = sharesInOrder(state).filter((s) => s.memberId !== member.id);
  const { maxShares } = shareOf(state);
  let next = withoutShares(state, sharesOf(state, member.id).filter((s) => s.producerId !== producer.id));
  if (others.length >= maxShares) {
    if (!isFacilitatorRole(member.role)) throw new ProtocolFailure('INVALID_STATE', 'Someone else is sharing their screen');
    const isMembers = (s: Share) => !isFacilitatorRole(state.members[s.memberId]?.role ?? 'member');
    const replaced = [...others.filter(isMembers), ...others.filter((s) => !isMembers(s))].slice(0, others.length - maxShares + 1);
    next = withoutShares(next, replaced);
  }
  const current = requireMember(next, member.id);
  next = withMember(next, { ...current, producers: { ...current.producers, [producer.id]: producer } });
  const share = shareOf(next);
  const live = new Set(sharesInOrder(next).map((s) => s.producerId));
  const started = [...(share.started ?? []).filter((id) => live.has(id) && id !== producer.id), producer.id];
  return { ...next, share: { ...share, started } };
}

export const putProducer =
  (memberId: string, producer: ProducerView): RoomChange =>
  (state) => {
    const member = requireMember(state, memberId);
    if (producer.source === 'screen') return putScreen(state, member, producer);
    return withMember(state, { ...member, producers: { ...member.producers, [producer.id]: producer } });
  };

export const setProducerPaused =
  (memberId: string, producerId: string, paused: boolean): RoomChange =>
  (state) => {
    const member = requireMember(state, memberId);
    const producer = member.producers[producerId];
    if (!producer) throw new ProtocolFailure('NOT_FOUND', 'No such producer');
    if (producer.paused === paused) return state;
    return withMember(state, { ...member, producers: { ...member.producers, [producerId]: { ...producer, paused } } });
  };

export const removeProducer =
  (memberId: string, producerId: string): RoomChange =>
  (state) => {
    const member = state.members[memberId];
    if (!member?.producers[producerId]) return state;
    const producers = { ...member.producers };
    delete producers[producerId];
    return withMember(state, { ...member, producers });
  };
