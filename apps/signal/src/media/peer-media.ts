import type { EventName, EventPayload, MediaSource, TransportDirection } from '@group-room/shared';
import type { types } from 'mediasoup';

export type Notify = <K extends EventName>(event: K, payload: EventPayload<K>) => void;

export interface ProducerData {
  /** The member who sends it. */
  peerId: string;
  source: MediaSource;
  /** The member paused it (mic or camera off). */
  selfPaused: boolean;
  [key: string]: unknown;
}

export interface ConsumerData {
  /** The receiving client has set it up and asked for its media. */
  clientReady: boolean;
  /** Whose producer it carries, and which source: to announce it again after a resume. */
  senderId: string;
  source: MediaSource;
  [key: string]: unknown;
}

/** One member's mediasoup objects in a room: at most one send and one receive transport. */
export class PeerMedia {
  readonly id: string;
  /** Reaches the person's current connection; a resumed seat rebinds it to the new socket. */
  notify: Notify;
  readonly transports = new Map<string, types.WebRtcTransport>();
  readonly producers = new Map<string, types.Producer<ProducerData>>();
  readonly consumers = new Map<string, types.Consumer<ConsumerData>>();
  /** Set by `media:ready`: what this member's browser can receive. */
  rtpCapabilities: types.RtpCapabilities | undefined;

  constructor(id: string, notify: Notify) {
    this.id = id;
    this.notify = notify;
  }

  transportFor(direction: TransportDirection): types.WebRtcTransport | undefined {
    for (const transport of this.transports.values()) {
      if (transport.appData['direction'] === direction) return transport;
    }
    return undefined;
  }

  /** Closing the transports closes their producers and consumers too. */
  close(): void {
    for (const transport of this.transports.values()) transport.close();
    this.transports.clear();
    this.producers.clear();
    this.consumers.clear();
  }
}
