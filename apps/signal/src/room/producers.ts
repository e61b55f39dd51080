import { isFacilitatorRole, ProtocolFailure, type ProducerView } from '@group-room/shared';
import { authoriseScreen } from './authorisation.js';
import { requireMember, screenShares, shareOf, withMember, type MemberState, type RoomChange, type RoomState, type Share } from './state.js';

/* The room state's record of each member's media, so others' views show mic, camera and screen. */

/** The screen producers in the room, oldest first (see ShareState.started). */
export function sharesInOrder(state: RoomState): Share[] {
  const started = shareOf(state).started ?? [];
  const rank = (id: string) => started.indexOf(id);
  // One not in `started` (none should be) counts as oldest: it goes first when one must.
  return screenShares(state).sort((a, b) => rank(a.producerId) - rank(b.producerId));
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
 * The owner's share is replaced by nobody but the owner (nobody may stop it: see guardOwner);
 * when only theirs could make room, the new share is refused.
 */
function putScreen(state: RoomState, member: MemberState, producer: ProducerView): RoomState {
  authoriseScreen(state, member.id);
  // One a person: the media layer refuses a second first (one producer per source), so this
  // only keeps the rule whole here. The same producer recorded again is not a second.
  if (sharesOf(state, member.id).some((s) => s.producerId !== producer.id)) throw new ProtocolFailure('INVALID_STATE', 'You are sharing already');
  const others = sharesInOrder(state).filter((s) => s.memberId !== member.id);
  const { maxShares } = shareOf(state);
  let next = state;
  if (others.length >= maxShares) {
    if (!isFacilitatorRole(member.role)) throw new ProtocolFailure('INVALID_STATE', 'Someone else is sharing their screen');
    const roleOf = (s: Share) => state.members[s.memberId]?.role ?? 'member';
    const replaceable = others.filter((s) => !state.members[s.memberId]?.owner);
    const needed = others.length - maxShares + 1;
    if (replaceable.length < needed) throw new ProtocolFailure('INVALID_STATE', "The session's creator is sharing");
    const members = replaceable.filter((s) => !isFacilitatorRole(roleOf(s)));
    const facilitators = replaceable.filter((s) => isFacilitatorRole(roleOf(s)));
    next = withoutShares(next, [...members, ...facilitators].slice(0, needed));
  }
  next = withMember(next, { ...member, producers: { ...member.producers, [producer.id]: producer } });
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
