import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PlainMedia } from './plain-media.js';
import {
  admittedMember,
  disconnectAll,
  freeSeats,
  mediaJoin,
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
 * sees only ciphertext. Known packets are sent here over plain RTP transports (SYNTHETIC_MEDIA),
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
  const plain: PlainMedia[] = [];

  afterEach(() => {
    for (const media of plain.splice(0)) media.close();
  });

  it('writes every packet of every producer, from the first one, as one JSON line with who sent it', async () => {
    const { server } = t;
    const started = Date.now();
    const room = await openRoom(server, 'Fay');
    const mo = await admittedMember(server, room, room.facilitator, 'Mo');
    const senders = [room.facilitator, mo];
    for (const person of senders) {
      await mediaJoin(person);
      plain.push(await PlainMedia.open(person));
    }
    const producers = new Map<string, { peerId: string; kind: string; source: string; media: PlainMedia }>();
    for (const media of plain) {
      for (const kind of ['audio', 'video'] as const) {
        producers.set(await media.produce(kind), { peerId: media.person.id, kind, source: kind === 'audio' ? 'mic' : 'camera', media });
      }
    }
    await Promise.all(plain.map(async (media) => Promise.all([media.sendAudio(40), media.sendVideo(40)])));

    // Every packet sent is in the file (loopback loses nothing), and nothing else.
    await vi.waitFor(() => {
      const lines = readTap(file);
      for (const media of plain) expect(lines.filter((l) => producers.get(l.producerId)?.media === media)).toHaveLength(media.source.sentPackets);
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
    expect(audio).toHaveLength(80);
    for (const payload of audio) expect(payload.equals(Buffer.concat([Buffer.from([0x78]), Buffer.alloc(89)]))).toBe(true);
    const video = lines.filter((l) => l.kind === 'video').map((l) => payloadOf(Buffer.from(l.rtp, 'hex')));
    const keyFrameStarts = video.filter((p) => p[0] === 0x10 && p[1] === 0x10 && p.subarray(4, 7).equals(Buffer.from([0x9d, 0x01, 0x2a])));
    expect(keyFrameStarts).toHaveLength(4); // frames 0 and 30 of each camera
    // The first packet tapped from each camera is the first packet of its first (key) frame.
    for (const [id, producer] of producers) {
      if (producer.kind !== 'video') continue;
      const first = payloadOf(Buffer.from(lines.find((l) => l.producerId === id)!.rtp, 'hex'));
      expect(first.subarray(0, 2).equals(Buffer.from([0x10, 0x10]))).toBe(true);
    }
  });
});

describe('the media tap after a media worker died', () => {
  const file = path.join(tapDir, 'tap-after-death.jsonl');
  let k: TestServer;
  const plain: PlainMedia[] = [];

  beforeAll(async () => {
    k = await startServer({ SYNTHETIC_MEDIA: 'true', MEDIA_TAP_FILE: file, MEDIASOUP_WORKERS: '1' });
  });

  afterAll(async () => {
    for (const media of plain) media.close();
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
    const media = await PlainMedia.open(person);
    plain.push(media);
    const producerId = await media.produce('audio');
    await media.sendAudio(count);
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
