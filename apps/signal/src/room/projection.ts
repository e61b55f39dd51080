import {
  isFacilitatorRole,
  type Aside,
  type CheckoutView,
  type MediaSource,
  type MemberDetail,
  type MemberSummary,
  type RoomView,
  type SharePolicy,
} from '@group-room/shared';
import { actorState } from './authorisation.js';
import {
  asideOf,
  checkoutOf,
  heldBy,
  mediaAllowed,
  maySend,
  membersInOrder,
  mustAcknowledge,
  shareOf,
  type MemberState,
  type RoomState,
  type ShareState,
} from './state.js';

/** On at their end (a producer, not paused by them) and let through by the server. */
function sending(state: RoomState, m: MemberState, source: MediaSource): boolean {
  return maySend(state, m.id, source) && Object.values(m.producers).some((p) => p.source === source && !p.paused);
}

const summary = (state: RoomState, m: MemberState): MemberSummary => ({
  id: m.id,
  displayName: m.displayName,
  role: m.role,
  connection: m.connectionId === null ? 'reconnecting' : 'online',
  producers: Object.values(m.producers),
  sending: { mic: sending(state, m, 'mic'), camera: sending(state, m, 'camera'), screen: sending(state, m, 'screen') },
});

// Spelt out rather than spread from the summary: the same fields in the same order, built faster.
const detail = (m: MemberState, summarised: MemberSummary, share: ShareState): MemberDetail => ({
  id: summarised.id,
  displayName: summarised.displayName,
  role: summarised.role,
  connection: summarised.connection,
  producers: summarised.producers,
  sending: summarised.sending,
  stage: m.stage,
  acknowledgedVersion: m.acknowledgedVersion,
  enteredAt: m.enteredAt,
  inviteId: m.inviteId,
  heldOff: m.heldOff,
  asked: m.asked,
  share: { granted: isFacilitatorRole(m.role) || share.granted.includes(m.id), asking: share.asking.includes(m.id) },
  owner: m.owner === true,
});

type Facilitation = NonNullable<RoomView['facilitation']>;

/** The parts of a state's views that are the same for every viewer allowed them. */
interface Shared {
  /** Admitted people, for everyone in the room. */
  members: MemberSummary[];
  /** For facilitators in the room. */
  facilitation: Facilitation;
  /** Screen sharing's rules, the check-out (how many answered) and who is aside: for everyone in the room. */
  share: SharePolicy;
  checkout: CheckoutView | null;
  aside: Aside | null;
}

/** The check-out as everyone sees it: how many of the members in the room have answered. */
function checkoutView(state: RoomState, ordered: readonly MemberState[]): CheckoutView | null {
  const checkout = checkoutOf(state);
  if (!checkout) return null;
  const answering = ordered.filter((m) => m.role === 'member' && m.stage === 'admitted');
  const done = answering.filter((m) => checkout.done.includes(m.id)).length;
  return { id: checkout.id, startedAt: checkout.startedAt, done, of: answering.length };
}

/**
 * Built once per state, not once per viewer: after a change every connected person is sent a
 * view of the same state object. Keyed weakly by that object, which nothing changes in place
 * (a change makes a new state), so a state's entry goes when the state does.
 */
const sharedParts = new WeakMap<RoomState, Shared>();

function shared(state: RoomState): Shared {
  let parts = sharedParts.get(state);
  if (parts) return parts;
  const ordered = membersInOrder(state);
  const summaries = ordered.map((m) => summary(state, m));
  const share = shareOf(state);
  parts = {
    members: summaries.filter((_, i) => ordered[i]!.stage === 'admitted'),
    facilitation: {
      autoAdmit: state.autoAdmit,
      everyone: ordered.map((m, i) => detail(m, summaries[i]!, share)),
      acknowledgements: state.acknowledgements,
      checkedOut: checkoutOf(state)?.done ?? [],
    },
    share: { maxShares: share.maxShares, allowWholeScreen: share.allowWholeScreen },
    checkout: checkoutView(state, ordered),
    aside: asideOf(state),
  };
  sharedParts.set(state, parts);
  return parts;
}

/**
 * What one person is sent of the room. Names and the member list only once they are
 * admitted with the current agreement acknowledged; the facilitation block only for
 * facilitators. Null when the viewer is not in the room. Views of one state share their
 * member list and facilitation block (see `shared`): never change a view in place.
 */
export function viewFor(state: RoomState, viewerId: string): RoomView | null {
  const viewer = state.members[viewerId];
  if (!viewer) return null;
  const inRoom = actorState(state, viewerId) === 'admitted';
  const parts = inRoom ? shared(state) : undefined;
  return {
    roomId: state.id,
    title: state.title,
    session: state.session,
    agreement: state.agreement,
    locked: state.locked,
    self: {
      id: viewer.id,
      displayName: viewer.displayName,
      role: viewer.role,
      stage: viewer.stage,
      inviteId: viewer.inviteId,
      mustAcknowledge: mustAcknowledge(state, viewer),
      media: mediaAllowed(state, viewer.id),
      held: { mic: heldBy(state, viewer, 'mic'), camera: heldBy(state, viewer, 'camera') },
      asked: viewer.asked,
      share: { may: maySend(state, viewer.id, 'screen'), asking: shareOf(state).asking.includes(viewer.id) },
      checkedOut: checkoutOf(state)?.done.includes(viewer.id) ?? false,
    },
    ...(parts ? { members: parts.members, floor: state.floor, share: parts.share, checkout: parts.checkout, aside: parts.aside } : {}),
    ...(parts && isFacilitatorRole(viewer.role) ? { facilitation: parts.facilitation } : {}),
  };
}
