import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { types } from 'mediasoup';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../apps/signal/src/logger.js';
import { RoomMedia } from '../../apps/signal/src/media/room-media.js';
import { TalkTime } from '../../apps/signal/src/media/talk-time.js';
import { WorkerPool } from '../../apps/signal/src/media/worker-pool.js';
import type { MediaPolicy } from '../../apps/signal/src/room/state.js';
import { RtpSource } from '../support/synthetic-member.js';
import { WAIT } from '../support/signal-client.js';

/*
 * Talk time while someone is aside (issue 19): the two aside speak with each other, not to the
 * group, so the audio-level observer's reports of them are not counted; back in the group they
 * are. Real mediasoup: two microphones over plain RTP carrying the audio level header extension
 * (RFC 6464) at a loud level, as browsers send it.
 */

const AUDIO_LEVEL_ID = 1;

function opusWithLevels(ssrc: number): types.RtpParameters {
  return {
    codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48_000, channels: 2 }],
    headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: AUDIO_LEVEL_ID }],
    encodings: [{ ssrc }],
    rtcp: { cname: `t-${ssrc}` },
  };
}

/** A microphone speaking loudly (-10 dBov): 20 ms Opus-sized packets with the audio level extension. */
class LoudMic {
  readonly ssrc = 1 + Math.floor(Math.random() * 0x7fffffff);
  readonly #udp: UdpSocket;
  readonly #to: { ip: string; port: number };
  #seq = 0;
  #ts = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(udp: UdpSocket, to: { ip: string; port: number }) {
    this.#udp = udp;
    this.#to = to;
  }

  start(): void {
    this.#timer = setInterval(() => this.#udp.send(this.#packet(), this.#to.port, this.#to.ip), 20);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #packet(): Buffer {
    const header = RtpSource.header(100, false, this.#seq++, this.#ts, this.ssrc, 0);
    this.#ts += 960;
    header[0] = 0x90; // version 2, with a header extension
    // One-byte header extensions (0xBEDE), one 32-bit word: the level element, padded.
    const extension = Buffer.from([0xbe, 0xde, 0x00, 0x01, (AUDIO_LEVEL_ID << 4) | 0, 0x80 | 10, 0x00, 0x00]);
    const payload = Buffer.alloc(60);
    payload[0] = 0x78;
    return Buffer.concat([header, extension, payload]);
  }
}

describe('talk time while aside (real mediasoup)', () => {
  let pool: WorkerPool;
  let media: RoomMedia | undefined;
  const mics: LoudMic[] = [];
  const sockets: UdpSocket[] = [];

  beforeAll(async () => {
    pool = await WorkerPool.create({ count: 1, logLevel: 'error', listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', basePort: 0, log: createLogger('error') });
  });
  afterAll(() => pool.close());
  afterEach(() => {
    for (const mic of mics.splice(0)) mic.stop();
    for (const udp of sockets.splice(0)) udp.close();
    media?.close();
    media = undefined;
  });

  const policy = (ids: string[], apart: [string, string][]): MediaPolicy => {
    const all = new Set(ids);
    return { receive: all, send: { mic: all, camera: all, screen: all }, apart: new Map(apart), shares: new Set() };
  };

  async function speaking(room: RoomMedia, id: string): Promise<void> {
    room.addPeer(id, () => undefined);
    const to = await room.createPlainTransport(id, 'send');
    const udp = createSocket('udp4');
    sockets.push(udp);
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const mic = new LoudMic(udp, to);
    mics.push(mic);
    await room.produce(id, { transportId: to.id, kind: 'audio', source: 'mic', rtpParameters: opusWithLevels(mic.ssrc), paused: false });
    mic.start();
  }

  it('does not count the two aside while they are aside; counts them again back in the group', async () => {
    const talk = TalkTime.from(null);
    const room = await RoomMedia.create(pool, talk, () => undefined);
    media = room;
    await room.applyPolicy(policy(['fay', 'mo', 'lu'], [['fay', 'aside'], ['mo', 'aside']]));
    for (const id of ['fay', 'mo', 'lu']) await speaking(room, id);
    const spoken = (id: string) => talk.snapshot([id])[0]!.speakingMs;

    // Lu, in the group, is counted for a second; the two aside are not, all the while.
    await vi.waitFor(() => expect(spoken('lu')).toBeGreaterThanOrEqual(1000), WAIT);
    expect(spoken('fay')).toBe(0);
    expect(spoken('mo')).toBe(0);

    await room.applyPolicy(policy(['fay', 'mo', 'lu'], []));
    await vi.waitFor(() => expect(spoken('mo')).toBeGreaterThanOrEqual(500), WAIT);
    expect(spoken('fay')).toBeGreaterThan(0);
  });
});
