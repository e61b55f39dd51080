import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RtpSink, RtpSource, SyntheticMember } from '../support/synthetic-member.js';
import {
  admittedMember,
  createRoom,
  disconnectAll,
  freeSeats,
  mediaJoin,
  ok,
  openRoom,
  startServer,
  useServer,
  WAIT,
  waitForEvent,
  type Person,
  type TestServer,
} from '../support/signal-client.js';

/*
 * The test-only media tap (MEDIA_TAP_FILE): every RTP packet every producer sends, written to a
 * file as one JSON line each, from the producer's first packet, so tests can check the server
 * sees only ciphertext. Synthetic members (plain RTP, SYNTHETIC_MEDIA) send known packets here,
 * and the tap must hold exactly those, byte for byte in their payloads; after a worker's death
 * the rebuilt router is tapped too.
 */

interface Tapped {
  producerId: string;
  peerId: string;
  kind: 'audio' | 'video';
  source: 'mic' | 'camera';
  t: number;
  rtp: string;
}

const tapDir = mkdtempSync(path.join(tmpdir(), 'group-room-tap-'));
afterAll(() => rmSync(tapDir, { recursive: true, force: true }));

function readTap(file: string): Tapped[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  // A line being written may be cut short at the end: only whole lines count.
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as Tapped);
}

/** An RTP packet's payload (after the fixed header, CSRCs and any header extension). */
function payloadOf(packet: Buffer): Buffer {
  expect(packet[0]! >> 6).toBe(2);
  let offset = 12 + 4 * (packet[0]! & 0x0f);
  if (packet[0]! & 0x10) offset += 4 + 4 * packet.readUInt16BE(offset + 2);
  return packet.subarray(offset);
}

describe('the media tap (MEDIA_TAP_FILE)', () => {
  const file = path.join(tapDir, 'tap.jsonl');
  const t = useServer({ SYNTHETIC_MEDIA: 'true', MEDIA_TAP_FILE: file });
  const members: SyntheticMember[] = [];
  let sink: RtpSink | undefined;

  afterEach(async () => {
    for (const member of members.splice(0)) await member.leave();
    sink?.close();
    sink = undefined;
  });

  it('writes every packet of every producer, from the first one, as one JSON line with who sent it', async () => {
    const { server } = t;
    sink = await RtpSink.open();
    const links = await createRoom(server, { title: 'Tapped' });
    const started = Date.now();
    const host = await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.facilitatorToken, name: 'Host', sink });
    members.push(host);
    await ok(host.socket as never, 'room:command', { command: { type: 'room.setAutoAdmit', enabled: true } });
    const guest = await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.inviteToken, name: 'Guest', sink });
    members.push(guest);
    for (const member of members) member.start();
    await vi.waitFor(() => expect(sink!.totals().streams).toBe(4), { timeout: 15_000, interval: 100 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const member of members) member.stop();

    // Who sends what, as the room's state records it.
    const state = (await server.store.get(links.roomId))!;
    const producers = new Map(Object.values(state.members).flatMap((m) => Object.values(m.producers).map((p) => [p.id, { peerId: m.id, kind: p.kind, source: p.source, role: m.role }] as const)));
    expect(producers.size).toBe(4);
    const sent = (role: string) => (role === 'facilitator' ? host : guest).source.sentPackets;

    // Every packet sent is in the file (loopback loses nothing), and nothing else.
    await vi.waitFor(() => {
      const lines = readTap(file);
      for (const role of ['facilitator', 'member']) {
        expect(lines.filter((l) => producers.get(l.producerId)?.role === role)).toHaveLength(sent(role));
      }
      expect(lines.every((l) => producers.has(l.producerId))).toBe(true);
    }, WAIT);

    const lines = readTap(file);
    for (const line of lines) {
      expect(Object.keys(line).sort()).toEqual(['kind', 'peerId', 'producerId', 'rtp', 'source', 't']);
      const producer = producers.get(line.producerId)!;
      expect({ peerId: line.peerId, kind: line.kind, source: line.source }).toEqual({ peerId: producer.peerId, kind: producer.kind, source: producer.source });
      expect(line.t).toBeGreaterThanOrEqual(started);
      expect(line.t).toBeLessThanOrEqual(Date.now());
      expect(line.rtp).toMatch(/^([0-9a-f]{2})+$/);
    }
    // The payloads as sent: Opus packets of a TOC byte and 89 zeros; VP8 frames whose first
    // packet of a key frame carries the frame's start code right after the payload descriptor.
    const audio = lines.filter((l) => l.kind === 'audio').map((l) => payloadOf(Buffer.from(l.rtp, 'hex')));
    expect(audio.length).toBeGreaterThan(20);
    for (const payload of audio) expect(payload.equals(Buffer.concat([Buffer.from([0x78]), Buffer.alloc(89)]))).toBe(true);
    const video = lines.filter((l) => l.kind === 'video').map((l) => payloadOf(Buffer.from(l.rtp, 'hex')));
    const keyFrameStarts = video.filter((p) => p[0] === 0x10 && p[1] === 0x10 && p.subarray(4, 7).equals(Buffer.from([0x9d, 0x01, 0x2a])));
    expect(keyFrameStarts.length).toBeGreaterThanOrEqual(2);
    // The first video packet tapped from each camera is the first packet of its first (key) frame.
    for (const [id, producer] of producers) {
      if (producer.kind !== 'video') continue;
      const first = lines.find((l) => l.producerId === id)!;
      const payload = payloadOf(Buffer.from(first.rtp, 'hex'));
      expect(payload.subarray(0, 2).equals(Buffer.from([0x10, 0x10]))).toBe(true);
    }
  });
});

describe('the media tap after a media worker died', () => {
  const file = path.join(tapDir, 'tap-after-death.jsonl');
  let k: TestServer;
  const udp: UdpSocket[] = [];

  beforeAll(async () => {
    k = await startServer({ SYNTHETIC_MEDIA: 'true', MEDIA_TAP_FILE: file, MEDIASOUP_WORKERS: '1' });
  });

  afterAll(async () => {
    for (const socket of udp) socket.close();
    disconnectAll();
    if (k) {
      await freeSeats(k.server);
      await k.server.close();
    }
    // The death is logged as an error, and nothing else is.
    expect(k?.logs.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['mediasoup worker died; starting a replacement']);
  });

  /** A microphone over a plain RTP transport: sends `count` packets and returns the producer's id. */
  async function plainMic(person: Person, count: number): Promise<string> {
    const source = new RtpSource(0);
    const send = await ok(person.socket, 'transport:createPlain', { direction: 'send' });
    const { producerId } = await ok(person.socket, 'media:produce', { transportId: send.id, kind: 'audio', source: 'mic', rtpParameters: source.rtpParameters('audio'), paused: false });
    const socket = createSocket('udp4');
    udp.push(socket);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    for (let i = 0; i < count; i++) {
      socket.send(source.audio(), send.port, send.ip);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return producerId;
  }

  it('taps the producers of the router rebuilt on the replacement worker', async () => {
    const s = k.server;
    const room = await openRoom(s, 'Fay');
    await admittedMember(s, room, room.facilitator, 'Mo');
    await mediaJoin(room.facilitator);
    const before = await plainMic(room.facilitator, 10);
    await vi.waitFor(() => expect(readTap(file).filter((l) => l.producerId === before)).toHaveLength(10), WAIT);

    process.kill(s.rooms.media(room.roomId)!.workerPid, 'SIGKILL');
    await waitForEvent(room.facilitator.socket, 'media:reset');
    await vi.waitFor(() => expect(s.pool.restarts).toBe(1), WAIT);

    await mediaJoin(room.facilitator);
    const after = await plainMic(room.facilitator, 12);
    expect(after).not.toBe(before);
    await vi.waitFor(() => expect(readTap(file).filter((l) => l.producerId === after)).toHaveLength(12), WAIT);
    expect(readTap(file).filter((l) => l.producerId === before)).toHaveLength(10);
  });
});
