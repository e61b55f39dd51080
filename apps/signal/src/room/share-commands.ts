import { isFacilitatorRole, ProtocolFailure } from '@group-room/shared';
import type { Handlers } from './handler.js';
import { sharesInOrder, sharesOf, withoutShares } from './producers.js';
import { requireMember, shareOf, type RoomState, type ShareState } from './state.js';

/*
 * Screen sharing's rules. Facilitators may always share; a member only while a facilitator's
 * grant stands. Withdrawing a grant or stopping a share takes the screen producer out of the
 * state in the same change, and the media layer closes what the state no longer holds, so a
 * share ends on the server whatever the sharer's browser does. Whether a whole screen may be
 * shared is a rule for the sharers' browsers (the server never sees a frame): it is in every
 * view, and each sharer's page checks what was really picked.
 */

type ShareCommand = 'share.ask' | 'share.grant' | 'share.revoke' | 'share.stop' | 'share.setPolicy';

const withShare = (state: RoomState, share: ShareState): RoomState => ({ ...state, share });
const without = (list: readonly string[], id: string) => list.filter((x) => x !== id);

export const shareHandlers: Handlers<ShareCommand> = {
  'share.ask': (state, actorId, { asking }) => {
    const share = shareOf(state);
    const now = share.asking.includes(actorId);
    // Asking while granted asks for nothing; taking back an ask never made changes nothing.
    if (now === asking || (asking && share.granted.includes(actorId))) return state;
    return withShare(state, { ...share, asking: asking ? [...share.asking, actorId] : without(share.asking, actorId) });
  },

  'share.grant': (state, _actorId, { memberId }) => {
    const member = requireMember(state, memberId);
    if (isFacilitatorRole(member.role)) throw new ProtocolFailure('INVALID_STATE', 'Facilitators may always share');
    if (member.stage !== 'admitted') throw new ProtocolFailure('INVALID_STATE', 'Admit them first');
    const share = shareOf(state);
    if (share.granted.includes(memberId) && !share.asking.includes(memberId)) return state;
    return withShare(state, { ...share, granted: [...without(share.granted, memberId), memberId], asking: without(share.asking, memberId) });
  },

  'share.revoke': (state, _actorId, { memberId }) => {
    if (isFacilitatorRole(requireMember(state, memberId).role)) throw new ProtocolFailure('INVALID_STATE', 'Facilitators may always share: stop their share instead');
    const share = shareOf(state);
    const next =
      share.granted.includes(memberId) || share.asking.includes(memberId)
        ? withShare(state, { ...share, granted: without(share.granted, memberId), asking: without(share.asking, memberId) })
        : state;
    return withoutShares(next, sharesOf(next, memberId));
  },

  'share.stop': (state, _actorId, { memberId }) => {
    requireMember(state, memberId);
    return withoutShares(state, sharesOf(state, memberId));
  },

  'share.setPolicy': (state, _actorId, { maxShares, allowWholeScreen }) => {
    const share = shareOf(state);
    if (share.maxShares === maxShares && share.allowWholeScreen === allowWholeScreen) return state;
    const next = withShare(state, { ...share, maxShares, allowWholeScreen });
    const shares = sharesInOrder(next);
    if (shares.length <= maxShares) return next;
    // Fewer at once: the owner's share stays first (nobody else may end it: see guardOwner),
    // then the latest facilitator's, then the latest.
    const rank = (memberId: string) => {
      const member = state.members[memberId];
      return member?.owner ? 2 : isFacilitatorRole(member?.role ?? 'member') ? 1 : 0;
    };
    const kept = [...shares].reverse().sort((a, b) => rank(b.memberId) - rank(a.memberId)).slice(0, maxShares);
    return withoutShares(next, shares.filter((s) => !kept.includes(s)));
  },
};
