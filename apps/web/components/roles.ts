import type { Role } from '@group-room/shared';

export const roleLabel: Record<Role, string> = {
  facilitator: 'Facilitator',
  cofacilitator: 'Co-facilitator',
  member: 'Member',
};
