import { randomUUID } from 'node:crypto';
import { ProtocolFailure, type RoomView } from '@group-room/shared';
import { roomTag } from '../../logger.js';
import type { LiveRoom } from '../../live/live-room.js';
import { enter, leave } from '../../room/entry.js';
import { viewFor } from '../../room/projection.js';
import { confirmSeat, resumeSeat } from '../../room/seats.js';
import type { RoomState } from '../../room/state.js';
import { newNonce, type Connection, type NodeDeps } from '../connection.js';
import type { RequestHandlers } from '../request-router.js';

/**
 * Taking a seat (with a link), taking it back (with the seat's credential) and giving it up.
 * A seat is taken only on the room's home node: a client that reached another node (it
 * connected without naming the room, or the room moved meanwhile) is answered UNAVAILABLE and
 * its connection closed, so it connects again and is handed over.
 */
export function seatHandlers(conn: Connection, deps: NodeDeps): Pick<RequestHandlers, 'room:enter' | 'room:resume' | 'room:confirmResume' | 'room:leave'> {
  const { rooms, tokens, log, nodeId, metrics, store, config } = deps;
  const wayIn = { perAddress: config.ENTRY_PER_ADDRESS, perInvite: config.ENTRY_PER_INVITE, reserved: config.ENTRY_RESERVED };

  const atHome = async (roomId: string): Promise<LiveRoom> => {
    try {
      return await rooms.home(roomId);
    } catch (error) {
      if (error instanceof ProtocolFailure && error.code === 'UNAVAILABLE') setTimeout(() => conn.socket.disconnect(true), 50).unref();
      throw error;
    }
  };

  const currentState = async (roomId: string): Promise<RoomState> => {
    const state = await store.get(roomId);
    if (!state || state.ended) throw new ProtocolFailure('NOT_FOUND', 'This session has ended');
    return state;
  };

  /** A resume attempt, counted as refused in the metrics when it fails. */
  const counted = async <T>(resume: () => Promise<T>): Promise<T> => {
    try {
      return await resume();
    } catch (error) {
      metrics?.resumed('refused');
      throw error;
    }
  };

  /** A node without its lease serves no seat: the client is sent on (to whichever node can). */
  const serving = (): void => {
    if (rooms.serving) return;
    setTimeout(() => conn.socket.disconnect(true), 50).unref();
    throw new ProtocolFailure('UNAVAILABLE', 'This server cannot reach the session data right now: reconnecting');
  };

  return {
    'room:enter': async ({ roomId, token, displayName, ownerKey }) => {
      if (conn.entered || conn.entering) throw new ProtocolFailure('INVALID_STATE', 'Already in a room');
      serving();
      conn.entering = true;
      try {
        const grant = await tokens.verify(token, roomId);
        // An owner key goes with a facilitator link of its room; one that is not valid is refused, never ignored.
        if (ownerKey !== undefined) {
          if (grant.role !== 'facilitator') throw new ProtocolFailure('FORBIDDEN', 'The key of the session’s creator goes with the facilitator link');
          await tokens.verifyOwner(ownerKey, roomId);
        }
        const owner = ownerKey !== undefined;
        const room = await atHome(roomId);
        const memberId = randomUUID();
        const inviteId = grant.role === 'member' ? grant.inviteId : null;
        const linkGeneration = grant.role === 'facilitator' ? grant.generation : undefined;
        const connection = { connectionId: conn.connectionId, node: nodeId, resumeNonce: newNonce() };
        return await room.run(async () => {
          if (conn.socket.disconnected) throw new ProtocolFailure('INVALID_STATE', 'Disconnected while entering');
          // Registered first, so the publish after the change reaches this person too.
          conn.enterSeat(room, memberId);
          let state: RoomState;
          try {
            const addressKey = conn.socket.data.addressKey;
            state = await room.change(enter({ id: memberId, displayName, role: grant.role, inviteId, linkGeneration, owner, addressKey, connection }, Date.now(), wayIn));
          } catch (error) {
            conn.leaveSeat();
            throw error;
          }
          log.info('entered', { room: roomTag(roomId), role: grant.role, owner, people: Object.keys(state.members).length });
          const resume = await conn.resumeFor(state, memberId);
          conn.credentialSent = true;
          return { view: viewFor(state, memberId) as RoomView, resume };
        });
      } finally {
        conn.entering = false;
      }
    },

    'room:resume': async ({ roomId, credential }) => {
      const held = conn.entered;
      if (held) {
        // This connection already holds that seat (the answer to its resume timed out): answer again.
        const seat = await tokens.verifySeat(credential, roomId);
        if (held.room.id !== roomId || held.memberId !== seat.memberId) throw new ProtocolFailure('INVALID_STATE', 'Already in a room');
        const state = await currentState(roomId);
        return { view: viewFor(state, held.memberId) as RoomView, resume: await conn.resumeFor(state, held.memberId) };
      }
      if (conn.entering) throw new ProtocolFailure('INVALID_STATE', 'Already in a room');
      serving();
      conn.entering = true;
      try {
        // The credential is checked before anything is read: a forged one costs no store call.
        // A genuine one for a room that is gone is told the session has ended.
        return await counted(async () => {
          const seat = await tokens.verifySeat(credential, roomId);
          await currentState(roomId);
          const room = await atHome(roomId);
          return await room.run(async () => {
            if (conn.socket.disconnected) throw new ProtocolFailure('INVALID_STATE', 'Disconnected while resuming');
            const connection = { connectionId: conn.connectionId, node: nodeId, resumeNonce: newNonce() };
            // Taken first, registered after: a refused resume must not disturb the seat's live connection.
            const state = await room.change(resumeSeat(seat.memberId, seat.nonce, connection));
            conn.enterSeat(room, seat.memberId, state.version);
            room.media?.rebind(seat.memberId, (event, payload) => conn.send(event, payload));
            const me = state.members[seat.memberId];
            log.info('resumed', { room: roomTag(roomId), role: me?.role });
            metrics?.resumed('ok');
            // The credential it came with stays good while the seat is away (see resumeSeat).
            conn.credentialSent = true;
            return { view: viewFor(state, seat.memberId) as RoomView, resume: await conn.resumeFor(state, seat.memberId) };
          });
        });
      } finally {
        conn.entering = false;
      }
    },

    // The page stored the credential it was answered with: the one before it stops working (see confirmSeat).
    'room:confirmResume': async ({ credential }) => {
      const { room, memberId } = conn.requireEntered();
      const seat = await tokens.verifySeat(credential, room.id);
      if (seat.memberId !== memberId) throw new ProtocolFailure('FORBIDDEN', 'That is not the credential of the seat this connection holds');
      await conn.queuing(() => conn.change(room, confirmSeat(memberId, seat.nonce, conn.connectionId)));
      return {};
    },

    'room:leave': async () => {
      const entered = conn.entered;
      if (!entered) return {};
      const { room, memberId } = entered;
      // Media first, then state, then everyone's views. The seat is let go here only once the
      // leave runs: a room that closed first sends the client on, and it leaves from the home.
      await room.run(async () => {
        // Terminated meanwhile (removed, or the seat resumed elsewhere): nothing of ours to leave.
        if (!conn.leaveSeat()) return;
        room.media?.removePeer(memberId);
        try {
          await room.change(leave(memberId));
        } catch (error) {
          if (!(error instanceof ProtocolFailure && error.code === 'NOT_FOUND')) throw error;
        } finally {
          room.closeMediaIfEmpty();
        }
        log.info('left', { room: roomTag(room.id) });
      });
      return {};
    },
  };
}
