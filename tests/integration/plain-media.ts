import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { RequestPayload } from '@group-room/shared';
import { RtpSource } from '../support/synthetic-member.js';
import { ok, ready, type Person } from '../support/signal-client.js';

/*
 * Known media without a browser: a person's microphone and camera over plain RTP transports
 * (the server must run with SYNTHETIC_MEDIA=true), sent packet by packet from this process as
 * they are (no encryption), and what they receive pointed at a UDP port. For tests that look at
 * what the server does with the packets themselves (the media tap, key frame requests).
 */
export class PlainMedia {
  readonly person: Person;
  readonly source = new RtpSource(300);
  readonly #udp: UdpSocket;
  #send: { id: string; ip: string; port: number } | undefined;

  private constructor(person: Person, udp: UdpSocket) {
    this.person = person;
    this.#udp = udp;
  }

  /** For a person whose media has started (`media:join`). */
  static async open(person: Person): Promise<PlainMedia> {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    return new PlainMedia(person, udp);
  }

  /** A microphone or camera producer on the plain send transport (made with the first); its id. */
  async produce(kind: 'audio' | 'video'): Promise<string> {
    this.#send ??= await ok(this.person.socket, 'transport:createPlain', { direction: 'send' });
    const { producerId } = await ok(this.person.socket, 'media:produce', {
      transportId: this.#send.id,
      kind,
      source: kind === 'audio' ? 'mic' : 'camera',
      rtpParameters: this.source.rtpParameters(kind),
      paused: false,
    });
    return producerId;
  }

  /** Send `count` 20 ms Opus packets, `gapMs` apart. */
  async sendAudio(count: number, gapMs = 5): Promise<void> {
    for (let i = 0; i < count; i++) {
      this.#out(this.source.audio());
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  }

  /** Send `count` VP8-shaped frames (a key frame first, then every 30th), `gapMs` apart. */
  async sendVideo(count: number, gapMs = 5): Promise<void> {
    for (let i = 0; i < count; i++) {
      for (const packet of this.source.videoFrame()) this.#out(packet);
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  }

  /**
   * Receive everyone's media at `port` (on 127.0.0.1): every consumer the server offers is
   * resumed (those `media:ready` lists together, those announced later one by one).
   */
  async receive(rtpCapabilities: RequestPayload<'media:ready'>['rtpCapabilities'], port: number): Promise<void> {
    const { socket } = this.person;
    socket.on('consumer:new', ({ consumerId }) => void ok(socket, 'consumer:resume', { consumerId }).catch(() => undefined));
    const recv = await ok(socket, 'transport:createPlain', { direction: 'recv' });
    await ok(socket, 'transport:connectPlain', { transportId: recv.id, ip: '127.0.0.1', port });
    const listed = await ready(this.person, { rtpCapabilities });
    if (listed.length > 0) await ok(socket, 'consumers:resume', { consumers: listed.map(({ consumerId }) => ({ consumerId })) });
  }

  #out(packet: Buffer): void {
    const send = this.#send;
    if (!send) throw new Error('produce first');
    this.#udp.send(packet, send.port, send.ip);
  }

  close(): void {
    this.#udp.close();
  }
}
