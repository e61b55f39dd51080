import { ProtocolFailure, isFacilitatorRole } from '@group-room/shared';
import type { LiveRoom } from '../../live/live-room.js';
import { mediaAllowed, type RoomState } from '../../room/state.js';
import { LeaseLost } from '../../store/room-store.js';
import type { Connection } from '../connection.js';
import { KeysReadyLimit, RelayLimit } from '../request-limits.js';
import type { RequestHandlers } from '../request-router.js';

/*
 * End-to-end encryption, as far as the server takes part: it relays the browsers' key
 * handshake without understanding it, and asks for key frames once a browser has a key.
 *
 * A relayed message is an opaque blob (bounded by its schema) for one seat. It is handed to
 * that seat's connection and forgotten: never logged, never stored (not in the room state, not
 * in Redis, not in memory past the emit). The server stamps who sent it, so a browser can bind
 * what it receives to the seat it came from. Relays go only between people admitted with the
 * current agreement acknowledged (the rule that lets them send and receive media), and only to
 * or from a facilitator: a member's browser pairs with the facilitators', never with another
 * member's.
 */

/** Limited per person, whichever connection they come from (one limiter per process). */
const relayLimit = new RelayLimit();
const keysReadyLimit = new KeysReadyLimit();

/**
 * The room as its home last published it: what every connection's view shows now, and the
 * state the room's connections follow (a removal lets the removed person's connection go in
 * the same step that publishes it). Read without awaiting before the delivery, so the check and
 * the delivery see one state.
 */
function published(room: LiveRoom): RoomState {
  if (!room.acting) throw new LeaseLost();
  const state = room.latest;
  if (!state || state.ended) throw new ProtocolFailure('NOT_FOUND', 'This session has ended');
  return state;
}

function requireKeysAllowed(state: RoomState, memberId: string): void {
  if (!mediaAllowed(state, memberId)) {
    throw new ProtocolFailure('FORBIDDEN', 'Encryption keys are exchanged once you are admitted and have agreed to the current agreement');
  }
}

/** The key handshake's relay, and "keys ready". */
export function e2eeHandlers(conn: Connection): Pick<RequestHandlers, 'e2ee:relay' | 'media:keysReady'> {
  return {
    'e2ee:relay': async ({ to, data }) => {
      const { room, memberId } = conn.requireEntered();
      // Counted first, so refused attempts are limited too.
      await relayLimit.take(room.id, memberId);
      // Nothing is awaited from here to the delivery.
      const state = published(room);
      requireKeysAllowed(state, memberId);
      if (to === memberId) throw new ProtocolFailure('BAD_REQUEST', 'to: a message for someone else');
      const sender = state.members[memberId]!;
      const addressee = state.members[to];
      // A member learns nothing here of who else is in the room (waiting, or not at all).
      if (!isFacilitatorRole(sender.role) && !(addressee && isFacilitatorRole(addressee.role))) {
        throw new ProtocolFailure('FORBIDDEN', 'Encryption messages go between a facilitator and someone in the room');
      }
      if (!addressee) throw new ProtocolFailure('NOT_FOUND', 'No such person in this room');
      if (!mediaAllowed(state, to)) {
        throw new ProtocolFailure('FORBIDDEN', 'They are not in the room yet (admitted, with the current agreement acknowledged)');
      }
      if (!room.toMember(to, 'e2ee:relay', { from: memberId, data })) {
        throw new ProtocolFailure('INVALID_STATE', 'They are not connected right now');
      }
      return {};
    },

    'media:keysReady': async () => {
      const { room, memberId } = conn.requireEntered();
      requireKeysAllowed(published(room), memberId);
      await keysReadyLimit.take(room.id, memberId);
      // Before media starts there is nothing to ask for yet: its first key frames come by themselves.
      const media = room.media;
      if (media?.has(memberId)) await media.requestKeyFrames(memberId);
      return {};
    },
  };
}
