import type { EventPayload, RoomView } from '@group-room/shared';
import { describeError as describe } from './describe-error';
import type { FacilitatorTools } from './facilitator-tools';
import type { RoomMedia } from './room-media';
import type { EndReason } from './room-snapshot';
import type { SignalClient } from './signal-client';

/** Where the server's room events go, and what they need to know of the client. */
export interface RoomEventHost {
  /** Whether `signal` is still the room's connection: a replaced one's events are ignored. */
  isCurrent(signal: SignalClient): boolean;
  /** The view shown now (to tell why this person was let go). */
  currentView(): RoomView | undefined;
  /** A pushed view, with the server's clock as it was sent. */
  viewPushed(view: RoomView, serverNow: number): void;
  ended(reason: EndReason): void;
  /** The server is going away (a restart or a deploy). */
  draining(signal: SignalClient): void;
  /** The server's media for the room was lost. */
  mediaReset(): void;
  readonly media: RoomMedia;
  readonly facilitation: FacilitatorTools;
  /** Another browser's key-handshake message for this one. */
  relayed(from: string, data: string): void;
  /** A member's private signal (a message is opened before it is shown). */
  privateSignal(signal: EventPayload<'signal:private'>): void;
  /** A member's check-out answer, sealed for this page (facilitators only). */
  checkoutAnswer(delivery: EventPayload<'checkout:answer'>): void;
}

/** Route everything the server pushes on `signal` to the part of the client it is for. */
export function listenToRoomEvents(signal: SignalClient, host: RoomEventHost): void {
  const on = <K extends keyof Handlers>(name: K, handle: Handlers[K]) =>
    signal.on(name, (payload) => {
      if (host.isCurrent(signal)) handle(payload);
    });
  on('room:view', ({ view, serverNow }) => host.viewPushed(view, serverNow));
  on('consumer:new', (event) => {
    host.media.consume(signal, event).catch((error: unknown) => console.warn("could not receive a member's media:", describe(error)));
  });
  on('consumer:closed', ({ consumerId }) => host.media.closeConsumer(consumerId));
  on('talk:time', (report) => host.facilitation.talkTime.set(report));
  on('signal:private', (received) => host.privateSignal(received));
  on('checkout:answer', (delivery) => host.checkoutAnswer(delivery));
  on('e2ee:relay', ({ from, data }) => host.relayed(from, data));
  on('room:ended', ({ reason }) => host.ended(endReason(reason, host.currentView())));
  on('server:draining', () => host.draining(signal));
  on('media:reset', () => host.mediaReset());
}

type RoomEvent = 'room:view' | 'consumer:new' | 'consumer:closed' | 'talk:time' | 'signal:private' | 'checkout:answer' | 'e2ee:relay' | 'room:ended' | 'server:draining' | 'media:reset';
type Handlers = { [K in RoomEvent]: (payload: EventPayload<K>) => void };

/** Nobody removes someone still reading the entry agreement: the server let them go for taking too long. */
function endReason(reason: EventPayload<'room:ended'>['reason'], view: RoomView | undefined): EndReason {
  const atEntry = view?.self.stage === 'agreement' && view.self.role === 'member';
  return reason === 'removed' && atEntry ? 'agreement-timeout' : reason;
}
