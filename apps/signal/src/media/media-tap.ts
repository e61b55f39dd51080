import { createWriteStream, type WriteStream } from 'node:fs';
import type { types } from 'mediasoup';
import type { Logger } from '../logger.js';
import type { ProducerData } from './peer-media.js';

/** One line of the tap file: one RTP packet as the server received it from a producer. */
export interface TappedPacket {
  producerId: string;
  /** The member who sends it. */
  peerId: string;
  kind: types.MediaKind;
  source: ProducerData['source'];
  /** When the server handed it to the tap (ms since the epoch). */
  t: number;
  /** The whole RTP packet (header, extensions, payload), in hex. */
  rtp: string;
}

/**
 * Tests only (MEDIA_TAP_FILE; the configuration refuses it in production): everything the
 * server could read of the media, written down, so a test can check that it is ciphertext.
 *
 * Every producer gets a consumer on a DirectTransport of its own router from the moment it is
 * made, before anyone else is offered it, so the tap has every packet any receiver is sent. It
 * is a pipe consumer: every simulcast layer, as received, without waiting for a key frame
 * (RTP headers are the router's: SSRCs and payload types mapped, the payload untouched). Each
 * packet is appended to the file as one JSON line (`TappedPacket`). The tap's transport and
 * consumers belong to the router, so they close with the room's media (and a router rebuilt
 * after its worker died gets a new transport with its first producer).
 */
export class MediaTap {
  readonly #out: WriteStream;
  /** Each router's DirectTransport for the tap, made with its first producer. */
  readonly #transports = new WeakMap<types.Router, Promise<types.DirectTransport>>();
  #closed = false;
  #failed = false;

  private constructor(out: WriteStream, log: Logger) {
    this.#out = out;
    out.on('error', (error) => {
      if (this.#failed) return;
      this.#failed = true;
      log.warn('media tap file could not be written', { error: error.message });
    });
  }

  /** Open `file` for appending (created if missing); rejects if it cannot be opened. */
  static async open(file: string, log: Logger): Promise<MediaTap> {
    const out = createWriteStream(file, { flags: 'a' });
    await new Promise<void>((resolve, reject) => {
      out.once('open', () => {
        out.off('error', reject);
        resolve();
      });
      out.once('error', reject);
    });
    return new MediaTap(out, log);
  }

  /** Tap a new producer on its router: resolves once the tap's consumer receives its packets. */
  async attach(router: types.Router, producer: types.Producer<ProducerData>): Promise<void> {
    if (this.#closed) return;
    const transport = await this.#transportOf(router);
    const consumer = await transport.consume({
      producerId: producer.id,
      rtpCapabilities: router.rtpCapabilities,
      paused: false,
      pipe: true,
      enableRtx: false,
    });
    const { peerId, source } = producer.appData;
    const base = { producerId: producer.id, peerId, kind: producer.kind, source };
    consumer.on('rtp', (packet) => this.#write({ ...base, t: Date.now(), rtp: packet.toString('hex') }));
  }

  #transportOf(router: types.Router): Promise<types.DirectTransport> {
    let transport = this.#transports.get(router);
    if (!transport) {
      transport = router.createDirectTransport();
      this.#transports.set(router, transport);
      // A failure is the request's; the next producer tries again.
      transport.catch(() => this.#transports.delete(router));
    }
    return transport;
  }

  #write(line: TappedPacket): void {
    if (this.#closed) return;
    this.#out.write(`${JSON.stringify(line)}\n`);
  }

  /** Stop writing; resolves once what was written is in the file. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#out.end(() => resolve()));
  }
}
