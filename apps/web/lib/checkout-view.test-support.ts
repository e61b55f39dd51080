import type { CheckoutAnswer, MemberDetail, RoomView } from '@group-room/shared';
import { memberDetail } from './member-detail.test-support';

/** Views and answers for unit tests of the check-out (no browser, no server). */

export const NAMES: Record<string, string> = { ada: 'Ada', bea: 'Bea', cyd: 'Cyd', dan: 'Dan', eve: 'Eve' };

function person(id: string, stage: MemberDetail['stage'] = 'admitted'): MemberDetail {
  return memberDetail(id, { displayName: NAMES[id] ?? id, role: id === 'ada' ? 'facilitator' : 'member', stage });
}

/** Ada's (the facilitator's) view with a check-out open (or not), and who the server counts done. */
export function facilitatorView(checkout: { id: string; startedAt: number } | null, done: string[] = [], everyone = ['ada', 'bea', 'cyd', 'dan']): RoomView {
  const people = everyone.map((id) => (id.startsWith('~') ? person(id.slice(1), 'waiting') : person(id)));
  const members = people.filter((p) => p.role === 'member' && p.stage === 'admitted');
  return {
    roomId: 'room-000000',
    title: '',
    session: { startsAt: 0, endsAt: 10_000_000, warnMinutes: 5 },
    agreement: { text: '', version: 'v1', updatedAt: 0 },
    locked: false,
    self: {
      id: 'ada',
      displayName: 'Ada',
      role: 'facilitator',
      stage: 'admitted',
      inviteId: null,
      mustAcknowledge: false,
      media: true,
      held: { mic: null, camera: null },
      asked: [],
      share: { may: true, asking: false },
      checkedOut: false,
    },
    checkout: checkout ? { ...checkout, done: done.length, of: members.length } : null,
    facilitation: { autoAdmit: false, everyone: people, acknowledgements: [], checkedOut: checkout ? done : [] },
  };
}

export const answer = (checkoutId: string, rating: CheckoutAnswer['rating'], followUp = false, words: string | null = null): CheckoutAnswer => ({
  checkoutId,
  rating,
  words,
  followUp,
});
