import { isFacilitatorRole, type MediaSource, type MemberDetail, type MemberSummary, type RoomView } from '@group-room/shared';
import { actorState } from './authorisation.js';
import { heldBy, mediaAllowed, maySend, membersInOrder, mustAcknowledge, type MemberState, type RoomState } from './state.js';

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
  sending: { mic: sending(state, m, 'mic'), camera: sending(state, m, 'camera') },
});

const detail = (state: RoomState, m: MemberState): MemberDetail => ({
  ...summary(state, m),
  stage: m.stage,
  acknowledgedVersion: m.acknowledgedVersion,
  enteredAt: m.enteredAt,
  heldOff: m.heldOff,
  asked: m.asked,
});

/**
 * What one person is sent of the room. Names and the member list only once they are
 * admitted with the current agreement acknowledged; the facilitation block only for
 * facilitators. Null when the viewer is not in the room.
 */
export function viewFor(state: RoomState, viewerId: string): RoomView | null {
  const viewer = state.members[viewerId];
  if (!viewer) return null;
  const inRoom = actorState(state, viewerId) === 'admitted';
  const ordered = membersInOrder(state);
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
      mustAcknowledge: mustAcknowledge(state, viewer),
      media: mediaAllowed(state, viewer.id),
      held: { mic: heldBy(state, viewer, 'mic'), camera: heldBy(state, viewer, 'camera') },
      asked: viewer.asked,
    },
    ...(inRoom ? { members: ordered.filter((m) => m.stage === 'admitted').map((m) => summary(state, m)), floor: state.floor } : {}),
    ...(inRoom && isFacilitatorRole(viewer.role)
      ? {
          facilitation: {
            autoAdmit: state.autoAdmit,
            everyone: ordered.map((m) => detail(state, m)),
            acknowledgements: state.acknowledgements,
          },
        }
      : {}),
  };
}
