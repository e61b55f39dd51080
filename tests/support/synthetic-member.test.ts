import { describe, expect, it } from 'vitest';
import { KEY_FRAME_MIN_INTERVAL_MS, RtpSource } from './synthetic-member.js';

/*
 * A synthetic member answers the SFU's key frame requests as a browser's encoder does: RTCP
 * PLI or FIR naming one of its video layers' SSRCs makes that layer's next frame a key frame
 * (with real frames: a jump to the nearest key frame of the looped pattern), at most once per
 * KEY_FRAME_MIN_INTERVAL_MS per layer; any other RTCP changes nothing.
 */

const SENDER = 0x5eed;

/** An RTCP header: version 2, `count` (FMT for feedback), payload type, length in 32-bit words minus one. */
function rtcp(count: number, type: number, words: number[]): Buffer {
  const packet = Buffer.alloc(4 + words.length * 4);
  packet[0] = 0x80 | count;
  packet[1] = type;
  packet.writeUInt16BE(words.length, 2);
  words.forEach((word, i) => packet.writeUInt32BE(word >>> 0, 4 + i * 4));
  return packet;
}
/** Receiver report without report blocks: what a compound packet starts with. */
const receiverReport = () => rtcp(0, 201, [SENDER]);
const pli = (ssrc: number) => rtcp(1, 206, [SENDER, ssrc]);
const fir = (ssrc: number) => rtcp(4, 206, [SENDER, 0, ssrc, 0x07000000]);
const nack = (ssrc: number) => rtcp(1, 205, [SENDER, ssrc, 0x00010000]);
const remb = (ssrc: number) => rtcp(15, 206, [SENDER, 0, 0x52454d42, 0x01000100, ssrc]);

/** A looped pattern of `length` frames, a key frame every `keyEvery`: each frame's second byte is its index. */
function pattern(length: number, keyEvery: number): Buffer[] {
  return Array.from({ length }, (_, i) => Buffer.from([i % keyEvery === 0 ? 0x10 : 0x11, i, 0, 0]));
}

/** Which frame of its pattern each layer sent (one packet each: small frames), lowest layer first. */
function sentFrames(source: RtpSource): number[] {
  const byLayer: number[] = [];
  for (const packet of source.videoFrame()) byLayer[packet.readUInt32BE(8) - source.videoSsrc] = packet[14]!;
  return byLayer;
}

/** Sends `n` frames; the frames each layer sent. */
const sendFrames = (source: RtpSource, n: number) => Array.from({ length: n }, () => sentFrames(source));

describe('a synthetic source answers key frame requests', () => {
  it('on a PLI in a compound packet, the layer named jumps to its nearest key frame; the others go on', () => {
    const source = new RtpSource(300, { layers: [pattern(60, 30), pattern(60, 30), pattern(60, 30)] });
    expect(sendFrames(source, 20).at(-1)).toEqual([19, 19, 19]);
    // Frame 20: key frames at 0 and 30, 30 is nearer.
    source.onRtcp(Buffer.concat([receiverReport(), pli(source.videoSsrc + 1)]), 1000);
    expect(sendFrames(source, 2)).toEqual([
      [20, 30, 20],
      [21, 31, 21],
    ]);
    // Frame 35 of layer 2: its key frame 30 is nearer than 0 (round the loop).
    sendFrames(source, 14);
    source.onRtcp(pli(source.videoSsrc + 2), 2000);
    expect(sentFrames(source)).toEqual([36, 46, 30]);
  });

  it('a FIR asks as a PLI does (the SSRC is in its FCI)', () => {
    const source = new RtpSource(300, { layers: [pattern(60, 30), pattern(60, 30)] });
    sendFrames(source, 5);
    source.onRtcp(Buffer.concat([receiverReport(), fir(source.videoSsrc)]), 1000);
    expect(sentFrames(source)).toEqual([0, 5]);
  });

  it('other RTCP, and requests for SSRCs that are not its video, change nothing', () => {
    const source = new RtpSource(300, { layers: [pattern(60, 30), pattern(60, 30)] });
    sendFrames(source, 10);
    for (const packet of [receiverReport(), nack(source.videoSsrc), remb(source.videoSsrc), pli(source.audioSsrc), pli(source.videoSsrc + 2), pli(source.videoSsrc - 1)]) source.onRtcp(packet, 1000);
    expect(sentFrames(source)).toEqual([10, 10]);
    expect(source.keyFrameRequests).toEqual({ answered: 0, ignored: 0 });
  });

  it(`answers a layer at most once per ${KEY_FRAME_MIN_INTERVAL_MS} ms; other layers have their own`, () => {
    const source = new RtpSource(300, { layers: [pattern(90, 30), pattern(90, 30)] });
    sendFrames(source, 10);
    source.onRtcp(pli(source.videoSsrc), 1000);
    expect(sentFrames(source)).toEqual([0, 10]);
    sendFrames(source, 9);
    source.onRtcp(pli(source.videoSsrc), 1000 + KEY_FRAME_MIN_INTERVAL_MS - 1);
    source.onRtcp(pli(source.videoSsrc + 1), 1000 + KEY_FRAME_MIN_INTERVAL_MS - 1);
    expect(sentFrames(source)).toEqual([10, 30]);
    expect(source.keyFrameRequests).toEqual({ answered: 2, ignored: 1 });
    sendFrames(source, 9);
    source.onRtcp(fir(source.videoSsrc), 1000 + KEY_FRAME_MIN_INTERVAL_MS);
    expect(sentFrames(source)).toEqual([30, 40]);
  });

  it('VP8-shaped video (no real frames): the next frame is a key frame, then deltas again', () => {
    const source = new RtpSource(300);
    // The P bit of the frame tag (after the RTP header and the one-byte VP8 payload descriptor): 0 on a key frame.
    const firstTag = () => source.videoFrame()[0]![13]! & 0x01;
    expect(firstTag()).toBe(0); // a stream starts with a key frame
    expect([firstTag(), firstTag()]).toEqual([1, 1]);
    source.onRtcp(pli(source.videoSsrc), 1000);
    expect([firstTag(), firstTag()]).toEqual([0, 1]);
  });

  it('with frames sealed, a key frame asked for while there is no key is the first frame sent', async () => {
    let keyed = false;
    const source = new RtpSource(300, { layers: [pattern(60, 30)], seal: (frame) => (keyed ? Promise.resolve(frame) : null) });
    const sent: Buffer[] = [];
    const send = (packet: Buffer) => sent.push(packet);
    keyed = true;
    for (let i = 0; i < 12; i++) source.videoTo(send);
    keyed = false;
    source.onRtcp(pli(source.videoSsrc), 1000);
    source.videoTo(send); // dropped: no key
    keyed = true;
    source.videoTo(send);
    source.videoTo(send);
    await source.flush();
    expect(sent.map((packet) => packet[14])).toEqual([...Array.from({ length: 12 }, (_, i) => i), 0, 1]);
  });
});

describe('a synthetic source sends sender reports as a browser does', () => {
  /** A sender report's fields. */
  const read = (report: Buffer) => ({
    type: report[1],
    ssrc: report.readUInt32BE(4),
    /** The NTP time as ms since 1970. */
    wallMs: (report.readUInt32BE(8) + report.readUInt32BE(12) / 2 ** 32 - 2_208_988_800) * 1000,
    rtp: report.readUInt32BE(16),
    packets: report.readUInt32BE(20),
    octets: report.readUInt32BE(24),
  });
  const payloadBytes = (packets: Buffer[]) => packets.reduce((n, packet) => n + packet.length - 12, 0);

  it('one per stream once it has sent, at once, then not again for a second; counts and RTP time follow what was sent', () => {
    const source = new RtpSource(300);
    expect(source.senderReports(performance.now() + 5000)).toEqual([]);
    const before = performance.now();
    const audio = source.audio();
    const after = performance.now();

    const [first, ...others] = source.senderReports(after).map(read);
    expect(others).toEqual([]);
    expect(first).toMatchObject({ type: 200, ssrc: source.audioSsrc, packets: 1, octets: payloadBytes([audio]) });
    expect(Math.abs(first!.wallMs - (performance.timeOrigin + after))).toBeLessThan(0.01);
    // Its RTP time is the packet's, moved on by the time since it was made (48 kHz).
    const ts = audio.readUInt32BE(4);
    expect((first!.rtp - ts) >>> 0).toBeLessThanOrEqual(Math.round((after - before) * 48) + 1);

    const more = [source.audio(), source.audio()];
    expect(source.senderReports(after + 999)).toEqual([]);
    const [second] = source.senderReports(after + 1000).map(read);
    expect(second).toMatchObject({ ssrc: source.audioSsrc, packets: 3, octets: payloadBytes([audio, ...more]) });
    const lastTs = more[1]!.readUInt32BE(4);
    const elapsed = (second!.rtp - lastTs) >>> 0;
    expect(elapsed).toBeGreaterThanOrEqual(Math.round((after + 1000 - performance.now()) * 48));
    expect(elapsed).toBeLessThanOrEqual(1000 * 48 + 1);
    expect(source.senderReports(after + 1500)).toEqual([]);
  });

  it('each simulcast layer its own, at the same RTP and NTP time (one frame time for all layers); video on a 90 kHz clock', () => {
    const source = new RtpSource(300, { layers: [pattern(60, 30), pattern(60, 30), pattern(60, 30)] });
    const packets = source.videoFrame();
    const now = performance.now() + 100;
    const reports = source.senderReports(now).map(read);
    expect(reports.map((r) => r.ssrc)).toEqual([0, 1, 2].map((layer) => source.videoSsrc + layer));
    expect(new Set(reports.map((r) => r.rtp)).size).toBe(1);
    expect(new Set(reports.map((r) => r.wallMs)).size).toBe(1);
    const moved = (reports[0]!.rtp - packets[0]!.readUInt32BE(4)) >>> 0;
    expect(moved).toBeGreaterThanOrEqual(100 * 90);
    expect(moved).toBeLessThan(200 * 90);
    for (const r of reports) {
      const mine = packets.filter((packet) => packet.readUInt32BE(8) === r.ssrc);
      expect(r).toMatchObject({ packets: mine.length, octets: payloadBytes(mine) });
    }
  });

  it('a sealing source reports what it sent: nothing while frames are dropped for want of a key', async () => {
    let keyed = false;
    const source = new RtpSource(300, { layers: [pattern(60, 30)], seal: (frame) => (keyed ? Promise.resolve(frame) : null) });
    const sent: Buffer[] = [];
    source.audioTo((packet) => sent.push(packet));
    source.videoTo((packet) => sent.push(packet));
    await source.flush();
    expect(source.senderReports()).toEqual([]);
    keyed = true;
    source.audioTo((packet) => sent.push(packet));
    source.videoTo((packet) => sent.push(packet));
    await source.flush();
    expect(source.senderReports().map(read).map((r) => [r.ssrc, r.packets, r.octets])).toEqual([
      [source.audioSsrc, 1, payloadBytes(sent.filter((p) => p.readUInt32BE(8) === source.audioSsrc))],
      [source.videoSsrc, 1, payloadBytes(sent.filter((p) => p.readUInt32BE(8) === source.videoSsrc))],
    ]);
  });
});
