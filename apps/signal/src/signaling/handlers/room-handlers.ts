import { randomBytes, randomUUID } from 'node:crypto';
import { DEFAULT_AGREEMENT, ProtocolFailure, isFacilitatorRole } from '@group-room/shared';
import { roomTag } from '../../logger.js';
import { applyCommand } from '../../room/commands.js';
import { facilitatorLinkGeneration, newRoom, rotateFacilitatorLink, type RoomState } from '../../room/state.js';
import type { Connection, NodeDeps } from '../connection.js';
import { SignalLimit } from '../request-limits.js';
import type { RequestHandlers } from '../request-router.js';
import { sealedBoxes } from './sealed-boxes.js';

/** Private signals are limited per person, whichever connection they come from (one limiter per process). */
const signalLimit = new SignalLimit();

type RoomRequests = 'room:create' | 'room:command' | 'signal:send' | 'invite:create' | 'link:rotateFacilitator';

/** Making a room, and what people in it ask of it: commands, private signals, links. */
export function roomHandlers(conn: Connection, deps: NodeDeps): Pick<RequestHandlers, RoomRequests> {
  const { store, tokens, config, log, roomCreation, metrics } = deps;

  /** The room's stored state, as the person's own view would show it (refused once the session has ended). */
  const currentState = async (roomId: string): Promise<RoomState> => {
    const state = await store.get(roomId);
    if (!state || state.ended) throw new ProtocolFailure('NOT_FOUND', 'This session has ended');
    return state;
  };

  return {
    'room:create': async ({ title, durationMinutes, startsAt, agreement, accessKey }) => {
      await roomCreation.check(accessKey, conn.socket.data.addressKey);
      // Links live until the session's end: a session far in the future would make them live for ever.
      if (startsAt !== undefined && startsAt > Date.now() + config.ROOM_HORIZON_DAYS * 86_400_000) {
        throw new ProtocolFailure('BAD_REQUEST', `startsAt: a session can be scheduled at most ${config.ROOM_HORIZON_DAYS} days ahead`);
      }
      for (;;) {
        const roomId = randomBytes(12).toString('base64url');
        // The shared invite link's id is on record, so blocking it does not remove the whole group.
        const sharedInviteId = randomUUID();
        const room = newRoom({
          id: roomId,
          capacity: config.ROOM_CAPACITY,
          title,
          agreement: agreement ?? DEFAULT_AGREEMENT,
          startsAt: startsAt ?? Date.now(),
          durationMinutes,
          sharedInviteId,
        });
        if (!(await store.create(room))) continue;
        const expiresAt = room.session.endsAt + config.ROOM_GRACE_SECONDS * 1000;
        log.info('room created', { room: roomTag(roomId) });
        return {
          roomId,
          facilitatorToken: await tokens.sign({ roomId, role: 'facilitator', generation: 0 }, expiresAt),
          inviteToken: await tokens.sign({ roomId, role: 'member', inviteId: sharedInviteId }, expiresAt),
          inviteId: sharedInviteId,
          // The creator's own: their browser keeps it, and with it any facilitator link of the room gives the owner's seat.
          ownerKey: await tokens.owner(roomId, expiresAt),
        };
      }
    },

    'room:command': async ({ command }) => {
      const { room, memberId } = conn.requireEntered();
      conn.precheck(room, memberId, command.type);
      const arrived = performance.now();
      // Applied means its effects too: a mute has paused the producers on the SFU by now.
      await conn.queuing(() => conn.change(room, applyCommand(memberId, command)));
      metrics?.commandApplied(command.type, (performance.now() - arrived) / 1000);
      return {};
    },

    'signal:send': async ({ signal }) => {
      const { room, memberId } = conn.requireEntered();
      const state = await currentState(room.id);
      const me = state.members[memberId];
      // Past the entry agreement: waiting, in the room, or re-reading a changed agreement
      // (someone paused for that may well need a moment).
      if (!me || me.role !== 'member' || me.stage === 'agreement') {
        throw new ProtocolFailure('FORBIDDEN', 'Private signals are for members in the room or waiting to come in');
      }
      // A message is sealed for facilitators' browsers the member's browser paired with, which
      // happens only once admitted (see e2ee-handlers.ts); someone waiting has nobody to seal for.
      if (signal.kind === 'message' && me.stage !== 'admitted') {
        throw new ProtocolFailure('FORBIDDEN', 'Messages to the facilitators can be sent once you are in the room');
      }
      const boxes = signal.kind === 'message' ? sealedBoxes(signal.sealed, 'signal.sealed') : null;
      await signalLimit.take(room.id, memberId);
      const id = randomUUID();
      const at = Date.now();
      // Each facilitator gets only the box sealed for them (a message with none for them: nothing).
      const delivered = room.toFacilitatorsEach('signal:private', (facilitatorId) => {
        const sealed = boxes ? boxes.get(facilitatorId) : null;
        if (sealed === undefined) return null;
        return { id, from: memberId, displayName: me.displayName, kind: signal.kind, sealed, at };
      });
      if (delivered === 0) throw new ProtocolFailure('INVALID_STATE', 'No facilitator is connected right now');
      return {};
    },

    'invite:create': async () => {
      const { room, memberId } = conn.requireEntered();
      const state = await currentState(room.id);
      const me = state.members[memberId];
      if (!me || !isFacilitatorRole(me.role)) throw new ProtocolFailure('FORBIDDEN', 'Only facilitators can make invite links');
      const { token, inviteId } = await tokens.invite(room.id, state.session.endsAt + config.ROOM_GRACE_SECONDS * 1000);
      return { inviteToken: token, inviteId };
    },

    'link:rotateFacilitator': async () => {
      const { room, memberId } = conn.requireEntered();
      // Through the room's queue and the store like every change: an entry with the old link
      // queued before it still lands, every one after it is refused.
      const state = await conn.queuing(() => conn.change(room, rotateFacilitatorLink(memberId)));
      log.info('facilitator link replaced', { room: roomTag(room.id) });
      const expiresAt = state.session.endsAt + config.ROOM_GRACE_SECONDS * 1000;
      return { facilitatorToken: await tokens.sign({ roomId: room.id, role: 'facilitator', generation: facilitatorLinkGeneration(state) }, expiresAt) };
    },
  };
}
