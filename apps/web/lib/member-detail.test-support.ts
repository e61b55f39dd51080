import type { MemberDetail } from '@group-room/shared';

/** Someone as facilitators see them, for unit tests: an admitted member with agreement 'v1', unless patched. */
export const memberDetail = (id: string, patch: Partial<MemberDetail> = {}): MemberDetail => ({
  id,
  displayName: id,
  role: 'member',
  connection: 'online',
  producers: [],
  sending: { mic: false, camera: false, screen: false },
  stage: 'admitted',
  acknowledgedVersion: 'v1',
  enteredAt: 0,
  inviteId: null,
  heldOff: [],
  asked: [],
  share: { granted: false, asking: false },
  owner: false,
  ...patch,
});
