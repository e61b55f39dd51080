import { z } from 'zod';
import { EntityId } from './domain.js';
import { ConsumerOffer } from './media-params.js';
import { RelayedMessage } from './e2ee-relay.js';
import { RoomView } from './room.js';
import { CheckoutAnswerDelivery } from './checkout.js';
import { PrivateSignal, TalkTimeEntry } from './signals.js';

/** Every server→client event, defined once. Events carry no acknowledgement. */
export const events = {
  /**
   * This person's view of the room changed (their projection of the room state). `serverNow` is
   * the server's clock when it was sent, so a client can count down to server times
   * (`floor.turnEndsAt`, `session.endsAt`) whatever its own clock says.
   */
  'room:view': z.object({ view: RoomView, serverNow: z.number() }),
  /** A consumer was made (paused) for this client; it should set it up and ask to resume it. */
  'consumer:new': ConsumerOffer,
  'consumer:closed': z.object({ consumerId: EntityId }),
  /** Facilitators only: each member's speaking time so far, about once a second. */
  'talk:time': z.object({ at: z.number(), members: z.array(TalkTimeEntry) }),
  /** Another browser's end-to-end encryption message for this one (see `e2ee:relay`). */
  'e2ee:relay': RelayedMessage,
  /** Facilitators only: a member's sealed check-out answer (see `checkout:answer`). */
  'checkout:answer': CheckoutAnswerDelivery,
  /** Facilitators only: a member's private signal. */
  'signal:private': PrivateSignal,
  /**
   * The server ended this client's membership: its media is closed and it is no longer in the
   * room's state. The socket stays open (it can enter again if allowed); the web client closes it.
   */
  'room:ended': z.object({
    /**
     * session-ended: a facilitator ended it. removed: a facilitator removed this person.
     * replaced: this seat was resumed from another connection (e.g. a second tab or a
     * newer connection of the same tab); this one is let go. cleared: a facilitator cleared the
     * way in (the agreement, perhaps the waiting room) this person was on; their link still
     * works, and they may come in again with it.
     */
    reason: z.enum(['session-ended', 'removed', 'replaced', 'cleared']),
  }),
  /**
   * The server is going away (restarting or being upgraded): nothing ended. The client keeps
   * its seat and resumes it (see `room:resume`) once it can reach a server again.
   */
  'server:draining': z.object({}),
  /**
   * The room's media was lost on the server (its media worker died) and is being rebuilt:
   * the client closes its transports and starts media again (`media:join`). Seats, holds and
   * the floor are untouched.
   */
  'media:reset': z.object({}),
} as const satisfies Record<string, z.ZodType>;

export type EventName = keyof typeof events;
export type EventPayload<K extends EventName> = z.output<(typeof events)[K]>;

export const eventNames = Object.keys(events) as EventName[];
