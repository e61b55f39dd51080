import type { Command, ProducerView, Role } from '@group-room/shared';
import { applyCommand } from './commands.js';
import { enter } from './entry.js';
import { newRoom, type RoomChange, type RoomState } from './state.js';
import { deepFreeze } from './rules.test-support.js';

/* Shared by the share, check-out and aside rule tests: a room with people in it, and commands as the server applies them. */

export const T = 300_000;
export const run = (state: RoomState, ...changes: RoomChange[]): RoomState => changes.reduce((s, change) => change(s), state);
export const arrive = (id: string, role: Role = 'member', at = T, owner = false): RoomChange =>
  enter({ id, displayName: `Name of ${id}`, role, owner, inviteId: role === 'member' ? `invite-${id}` : null }, at);
export const by = (actor: string, command: Command, now = T): RoomChange => applyCommand(actor, command, now);
export const acknowledge =
  (id: string): RoomChange =>
  (state) =>
    by(id, { type: 'agreement.acknowledge', version: state.agreement.version, privateSpace: true })(state);
export const admit = (id: string): RoomChange => by('host', { type: 'member.admit', memberId: id });
const inRoom = (id: string, at: number): RoomChange[] => [arrive(id, 'member', at), acknowledge(id), admit(id)];

export const screen = (id: string, n = 1): ProducerView => ({ id: `${id}-screen-${n}`, kind: 'video', source: 'screen', paused: false });
export const mic = (id: string): ProducerView => ({ id: `${id}-mic`, kind: 'audio', source: 'mic', paused: false });
export const cam = (id: string): ProducerView => ({ id: `${id}-cam`, kind: 'video', source: 'camera', paused: false });

/**
 * host (the session's owner) and co facilitate, lead is a second facilitator by the link; a, b
 * and c are members in the room; w waits.
 */
export function toolsRoom(): RoomState {
  const start = newRoom({ id: 'tools-room-1', capacity: 16, title: 'Group', agreement: 'Be kind.', startsAt: 0, durationMinutes: 90 }, 0);
  return deepFreeze(
    run(
      start,
      arrive('host', 'facilitator', 1, true),
      ...inRoom('co', 2),
      by('host', { type: 'member.setRole', memberId: 'co', role: 'cofacilitator' }),
      arrive('lead', 'facilitator', 3),
      ...inRoom('a', 10),
      ...inRoom('b', 20),
      ...inRoom('c', 30),
      arrive('w', 'member', 40),
      acknowledge('w'),
    ),
  );
}
