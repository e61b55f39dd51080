import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { FrameKeys } from '../support/synthetic-keys.js';

/*
 * One load-generator process of bench:capacity (forked by capacity-load.ts). It sends the RTP
 * of the members it is given from packets built once: each member's 30 video frames (one
 * second, the first a key frame) and 50 audio frames are sealed end to end once, as a browser
 * seals them, and packetized; from then on a packet costs two header writes and one send on a
 * connected UDP socket. An SFU forwards the bytes without opening them, so the same envelope
 * reused each second costs it what fresh ones would. Each packet buffer is rewritten only a
 * second after it was last handed to the kernel.
 *
 * Messages (IPC): {type:'add', members} → {type:'added'}; {type:'count'} → {type:'count', sent,
 * late}; {type:'stop'}.
 */

export interface GeneratedMember {
  /** Where its RTP goes (the SFU's port for this member's streams). */
  port: number;
  audioSsrc: number;
  videoSsrc: number;
  videoKbps: number;
}

export type GeneratorRequest = { type: 'add'; members: GeneratedMember[] } | { type: 'count' } | { type: 'stop' };
export type GeneratorReply = { type: 'added' } | { type: 'count'; sent: number; late: number };

export const AUDIO_PT = 100;
export const VIDEO_PT = 101;
const AUDIO_PAYLOAD_BYTES = 90;
const MAX_VIDEO_PAYLOAD = 1100;
const FPS = 30;
const TICK_MS = 5;
/** Falling further behind than this is skipped, not caught up (and counted as late). */
const MAX_BEHIND_MS = 100;

interface Member {
  udp: UdpSocket;
  audio: Buffer[];
  /** Per frame of the second, its packets (the marker bit is set on each frame's last). */
  video: Buffer[][];
  audioSeq: number;
  audioTs: number;
  videoSeq: number;
  videoTs: number;
  audioIndex: number;
  videoIndex: number;
  nextAudio: number;
  nextVideo: number;
}

const members: Member[] = [];
let sent = 0;
let late = 0;

function header(pt: number, marker: boolean, ssrc: number, payload: Uint8Array, prefix?: number): Buffer {
  const extra = prefix === undefined ? 0 : 1;
  const packet = Buffer.alloc(12 + extra + payload.length);
  packet[0] = 0x80;
  packet[1] = (marker ? 0x80 : 0) | pt;
  packet.writeUInt32BE(ssrc >>> 0, 8);
  if (prefix !== undefined) packet[12] = prefix;
  packet.set(payload, 12 + extra);
  return packet;
}

async function build(spec: GeneratedMember): Promise<Member> {
  const keys = await FrameKeys.local();
  const frameBytes = Math.max(200, Math.round((spec.videoKbps * 1000) / 8 / FPS));
  const video: Buffer[][] = [];
  for (let i = 0; i < FPS; i++) {
    const frame = new Uint8Array(frameBytes);
    // A VP8 frame tag (key frame first: bit 0 clear, start code, 640×360), as synthetic-member.ts shapes them.
    frame.set(i === 0 ? [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 640 & 0xff, 640 >> 8, 360 & 0xff, 360 >> 8] : [0x11, 0x02, 0x00]);
    const wire = await keys.seal(frame, 'vp8')!;
    const packets: Buffer[] = [];
    for (let at = 0; at < wire.length; at += MAX_VIDEO_PAYLOAD) {
      // VP8 payload descriptor: S bit on a frame's first packet.
      packets.push(header(VIDEO_PT, at + MAX_VIDEO_PAYLOAD >= wire.length, spec.videoSsrc, wire.subarray(at, at + MAX_VIDEO_PAYLOAD), at === 0 ? 0x10 : 0x00));
    }
    video.push(packets);
  }
  const audio: Buffer[] = [];
  for (let i = 0; i < 50; i++) {
    const frame = new Uint8Array(AUDIO_PAYLOAD_BYTES);
    frame[0] = 0x78; // an opus TOC byte
    audio.push(header(AUDIO_PT, false, spec.audioSsrc, await keys.seal(frame, 'opus')!));
  }
  const udp = createSocket('udp4');
  udp.on('error', () => undefined); // a port closed meanwhile (ICMP unreachable): nothing to do
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => udp.connect(spec.port, '127.0.0.1', resolve));
  const now = performance.now();
  const random = (n: number) => Math.floor(Math.random() * n);
  // Random phases: the members' packets spread over each tick rather than leaving together.
  return { udp, audio, video, audioSeq: random(0xffff), audioTs: random(0xffffffff), videoSeq: random(0xffff), videoTs: random(0xffffffff), audioIndex: 0, videoIndex: 0, nextAudio: now + Math.random() * 20, nextVideo: now + (Math.random() * 1000) / FPS };
}

function sendAudio(m: Member): void {
  const packet = m.audio[m.audioIndex]!;
  m.audioIndex = (m.audioIndex + 1) % m.audio.length;
  packet.writeUInt16BE(m.audioSeq & 0xffff, 2);
  packet.writeUInt32BE(m.audioTs >>> 0, 4);
  m.audioSeq++;
  m.audioTs += 960;
  m.udp.send(packet);
  sent++;
}

function sendVideo(m: Member): void {
  const packets = m.video[m.videoIndex]!;
  m.videoIndex = (m.videoIndex + 1) % m.video.length;
  for (const packet of packets) {
    packet.writeUInt16BE(m.videoSeq & 0xffff, 2);
    packet.writeUInt32BE(m.videoTs >>> 0, 4);
    m.videoSeq++;
    m.udp.send(packet);
  }
  sent += packets.length;
  m.videoTs += 90_000 / FPS;
}

function tick(): void {
  const now = performance.now();
  for (const m of members) {
    if (now - m.nextAudio > MAX_BEHIND_MS || now - m.nextVideo > MAX_BEHIND_MS) {
      late++;
      m.nextAudio = Math.max(m.nextAudio, now - MAX_BEHIND_MS);
      m.nextVideo = Math.max(m.nextVideo, now - MAX_BEHIND_MS);
    }
    while (m.nextAudio <= now) {
      sendAudio(m);
      m.nextAudio += 20;
    }
    while (m.nextVideo <= now) {
      sendVideo(m);
      m.nextVideo += 1000 / FPS;
    }
  }
}

const reply = (message: GeneratorReply) => process.send?.(message);

process.on('message', (message: GeneratorRequest) => {
  if (message.type === 'add') {
    void Promise.all(message.members.map(build)).then((built) => {
      members.push(...built);
      reply({ type: 'added' });
    });
  } else if (message.type === 'count') {
    reply({ type: 'count', sent, late });
  } else {
    for (const m of members) m.udp.close();
    process.exit(0);
  }
});
// The parent gone, so is this process.
process.on('disconnect', () => process.exit(0));
setInterval(tick, TICK_MS);
