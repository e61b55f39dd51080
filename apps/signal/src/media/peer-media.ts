import { ProtocolFailure, type EventName, type EventPayload, type MediaSource, type TransportDirection } from '@group-room/shared';
import type { types } from 'mediasoup';

export type Notify = <K extends EventName>(event: K, payload: EventPayload<K>) => void;

export interface ProducerData {
  /** The member who sends it. */
  peerId: string;
  source: MediaSource;
  /** The member paused it (mic or camera off). */
  selfPaused: boolean;
  /**
   * A screen producer the room state has recorded (so allowed by the one authorisation): once
   * the state no longer has it (withdrawn, stopped, replaced) it is closed. Always false for mic and camera.
   */
  recorded: boolean;
  [key: string]: unknown;
}

export interface ConsumerData {
  /** The receiving client has set it up and asked for its media. */
  clientReady: boolean;
  /** Whose producer it carries, and which source: to announce it again after a resume. */
  senderId: string;
  source: MediaSource;
  /** Video: whether the receiver's tile shows it now (`consumer:prefer`); hidden, it stays paused. */
  visible: boolean;
  /** Video: the receiver's tile height in device pixels, when told; a simulcast layer is chosen to cover it. */
  tileHeight: number | undefined;
  [key: string]: unknown;
}

/** What a person may have one of: a transport per direction, a producer per source. */
export type MediaSlot = `transport:${TransportDirection}` | `producer:${MediaSource}`;

/**
 * One member's mediasoup objects in a room: at most one send and one receive transport, and
 * one producer per source. (Consumers are made by the server, one per other member's
 * producer, so the room's size bounds them.)
 */
export class PeerMedia {
  readonly id: string;
  /** Reaches the person's current connection; a resumed seat rebinds it to the new socket. */
  notify: Notify;
  /** WebRTC transports, or plain RTP ones for synthetic members (load tests). */
  readonly transports = new Map<string, types.WebRtcTransport | types.PlainTransport>();
  readonly producers = new Map<string, types.Producer<ProducerData>>();
  readonly consumers = new Map<string, types.Consumer<ConsumerData>>();
  /** False while this member receives audio only (`media:receiveVideo`): video consumers stay paused. */
  receiveVideo = true;
  /** Set by `media:ready`: what this member's browser can receive. */
  rtpCapabilities: types.RtpCapabilities | undefined;
  /**
   * Set by `media:ready` when told: the height (device pixels) this member's layout gives a
   * camera tile. Each camera consumer starts from it, also those made later for new producers.
   */
  tileHeight: number | undefined;
  /**
   * The producers this member has a consumer of, or one being made: a producer appearing while
   * `media:ready` runs could otherwise be consumed twice (once listed, once announced).
   */
  readonly consuming = new Set<string>();
  /**
   * The slots whose transport or producer is being made now. Making one awaits the worker, so
   * checking only what exists would let every request racing in during that await pass too.
   */
  readonly #making = new Set<MediaSlot>();
  #closed = false;

  constructor(id: string, notify: Notify) {
    this.id = id;
    this.notify = notify;
  }

  transportFor(direction: TransportDirection): types.WebRtcTransport | types.PlainTransport | undefined {
    for (const transport of this.transports.values()) {
      if (transport.appData['direction'] === direction) return transport;
    }
    return undefined;
  }

  /** This member's media was closed (they left, or started media afresh): nothing more is added. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Take `slot` for one request, synchronously, before anything is awaited: refused (with
   * `refusal`) while `filled`, or while another request is filling it. The caller records
   * what it made, then calls the returned release (also when it failed, freeing the slot).
   */
  claim(slot: MediaSlot, filled: boolean, refusal: string): () => void {
    if (filled || this.#making.has(slot)) throw new ProtocolFailure('INVALID_STATE', refusal);
    this.#making.add(slot);
    return () => this.#making.delete(slot);
  }

  /** Closing the transports closes their producers and consumers too. */
  close(): void {
    this.#closed = true;
    for (const transport of this.transports.values()) transport.close();
    this.transports.clear();
    this.producers.clear();
    this.consumers.clear();
    this.consuming.clear();
  }
}
