import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { enterAdmittedAutomatically, inboundByPeer, launchChromium, newMember, type Member } from '../support/browser.js';
import { startProductionServer } from '../support/prod-server.js';
import { createRoomWithSecrets, roomPath } from '../support/synthetic-keys.js';
import { readIvf, RtpSink, SyntheticMember } from '../support/synthetic-member.js';
import { quantile } from './measure.js';

/*
 * npm run bench:big-room [-- <joins>]
 *
 * A room of 12 on a 2-core machine that cannot run 12 browsers: eleven synthetic members (one
 * of them the facilitator) send audio and real VP8 video (ffmpeg's test pattern, 640×360 at
 * 300 kbit/s, from Debian's ffmpeg, cached in ~/.cache/group-room) through the real path, and
 * one headless Chromium member joins through the UI, again and again. Printed: the invite link
 * opened → first remote video frame decoded (page load, name, agreement and auto-admit
 * included; median, p95), and with the browser in the room, its CPU (all Chromium processes)
 * and the bitrate it receives.
 *
 * Everything is end-to-end encrypted as in a real session: the room is made with a room secret
 * as the browser makes it, the synthetic host holds it and hands out the keys (to the browser
 * too), every synthetic frame is sealed before it is packetized, and the browser opens the
 * invite link with the invite's secret. A decoded frame is one the browser decrypted.
 */

const joins = Number(process.argv[2] ?? 5);
const SYNTHETIC = 11;
const run = promisify(execFile);

/** ffmpeg's test pattern as VP8 frames (a key frame every second), made once and cached. */
export async function testPattern(width = 640, height = 360, kbps = 300): Promise<Buffer[]> {
  const file = path.join(os.homedir(), `.cache/group-room/testsrc-${width}x${height}-${kbps}k.ivf`);
  if (!existsSync(file)) {
    await run('ffmpeg', [
      ...['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=30`, '-t', '10'],
      ...['-c:v', 'libvpx', '-b:v', `${kbps}k`, '-deadline', 'realtime', '-cpu-used', '8', '-g', '30', '-keyint_min', '30', '-auto-alt-ref', '0', '-f', 'ivf', file],
    ]).catch((error: unknown) => {
      throw new Error(`ffmpeg is needed for real VP8 frames (apt-get install ffmpeg): ${error instanceof Error ? error.message : String(error)}`);
    });
  }
  return readIvf(await readFile(file));
}

/** Three simulcast layers of the test pattern, lowest first: 160×90, 320×180, 640×360. */
export const simulcastPattern = async (): Promise<Buffer[][]> => [await testPattern(160, 90, 60), await testPattern(320, 180, 150), await testPattern(640, 360, 300)];

/** CPU seconds used so far by every Chromium process on the machine. */
export async function chromiumCpuSeconds(): Promise<number> {
  const tick = 100; // USER_HZ on Linux
  let total = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!name.startsWith('chrom')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / tick;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** What the browser costs and receives over a 10 s window. */
interface Load {
  cpuShare: number;
  kbps: number;
  decoding: number;
  /** How many of the decoding videos arrive at each frame height, e.g. "10×180p, 1×360p". */
  frameHeights: string;
}

async function measureLoad(member: Member): Promise<Load> {
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const bytes = async () => (await inboundByPeer(member.page)).reduce((n, s) => n + s.bytesReceived, 0);
  const cpuBefore = await chromiumCpuSeconds();
  const bytesBefore = await bytes();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  const seconds = (performance.now() - t0) / 1000;
  const cpuShare = ((await chromiumCpuSeconds()) - cpuBefore) / seconds;
  const kbps = (((await bytes()) - bytesBefore) * 8) / 1000 / seconds;
  // Decoding now: frames still rising over the last second.
  const before = await inboundByPeer(member.page);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const after = await inboundByPeer(member.page);
  const live = after.filter((s) => s.kind === 'video' && s.framesDecoded > (before.find((b) => b.peerName === s.peerName && b.kind === 'video')?.framesDecoded ?? 0));
  const heights = new Map<number, number>();
  for (const s of live) heights.set(s.frameHeight, (heights.get(s.frameHeight) ?? 0) + 1);
  const frameHeights = [...heights].sort((a, b) => a[0] - b[0]).map(([h, n]) => `${n}×${h}p`).join(', ') || 'none';
  return { cpuShare, kbps, decoding: live.length, frameHeights };
}

interface RoomRun {
  times: number[];
  /** A 1024×1100 window: every tile on screen. */
  tall: Load;
  /** 1024×700: the last row of tiles below the fold, paused by the server. */
  desktop: Load;
  /** 375×667 at device pixel ratio 1: eleven small tiles, all on screen. */
  phone: Load;
  audioOnly: Load;
  /**
   * The synthetic members' frames: sealed, dropped before they had a key, and the bytes sealing
   * added to each; key handshake messages the server refused to relay (e.g. rate limited).
   */
  sealing: { frames: number; dropped: number; bytesPerFrame: number; relaysRefused: Map<string, number> };
}

/**
 * One room of 12: eleven synthetic members sending `video` (one layer or simulcast), one
 * browser joining `joins` times; the last time it stays and is measured in a window tall enough
 * for every tile, in a 1024×700 one (the last row of tiles below the fold), on a 375×667 phone
 * screen, then with "Audio only" ticked.
 */
async function runRoom(browser: Browser, video: { frames: Buffer[] } | { layers: Buffer[][] }, joins: number): Promise<RoomRun> {
  const server = await startProductionServer({ LOG_LEVEL: 'warn', SYNTHETIC_MEDIA: 'true', MEDIASOUP_WORKERS: '1' });
  const sink = await RtpSink.open();
  const synthetic: SyntheticMember[] = [];
  try {
    const data = await createRoomWithSecrets(server.url, { title: 'Big room' });
    const host = await SyntheticMember.join({ url: server.url, roomId: data.roomId, token: data.facilitatorToken, secret: data.facilitatorSecret, name: 'Host', sink, ...video });
    await host.socket.timeout(10_000).emitWithAck('room:command', { command: { type: 'room.setAutoAdmit', enabled: true } });
    synthetic.push(host);
    for (let i = 1; i < SYNTHETIC; i++) synthetic.push(await SyntheticMember.join({ url: server.url, roomId: data.roomId, token: data.inviteToken, secret: data.inviteSecret, name: `Synthetic ${i}`, sink, ...video }));
    for (const member of synthetic) member.start();
    await Promise.all(synthetic.map((member) => member.keyed()));
    const inviteUrl = `${server.url}${roomPath(data.roomId, data.inviteToken, data.inviteSecret)}`;
    const times: number[] = [];
    for (let i = 1; ; i++) {
      const member = await newMember(browser, server.url);
      const started = performance.now();
      await enterAdmittedAutomatically(member, inviteUrl, `Browser ${i}`);
      for (;;) {
        const samples = await inboundByPeer(member.page);
        if (samples.some((s) => s.kind === 'video' && s.framesDecoded > 0)) break;
        if (performance.now() - started > 60_000) throw new Error('no remote video frame within 60 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const ms = performance.now() - started;
      times.push(ms);
      // The browser holds only the key of its arrival: every synthetic member must have moved to it.
      const leading = synthetic[0]!.keys.frames.sending;
      const behind = synthetic.filter((m) => m.keys.frames.sending?.gen !== leading?.gen || m.keys.frames.sending?.step !== leading?.step).length;
      process.stdout.write(`join ${i}: invite link opened → first remote video frame ${ms.toFixed(0)} ms${behind ? ` (${behind} synthetic members not yet on the host's key)` : ''}\n`);
      if (i < joins) {
        await member.context.close();
        continue;
      }
      await member.page.setViewportSize({ width: 1024, height: 1100 });
      const tall = await measureLoad(member);
      await member.page.setViewportSize({ width: 1024, height: 700 });
      const desktop = await measureLoad(member);
      await member.page.setViewportSize({ width: 375, height: 667 });
      const phone = await measureLoad(member);
      await member.page.setViewportSize({ width: 1024, height: 700 });
      await member.page.getByLabel('Audio only (for a weak connection)').check();
      const audioOnly = await measureLoad(member);
      await member.context.close();
      const totals = synthetic.map((m) => m.keys.frames.totals);
      const frames = totals.reduce((n, t) => n + t.sealed, 0);
      const sealing = {
        frames,
        dropped: totals.reduce((n, t) => n + t.dropped, 0),
        bytesPerFrame: totals.reduce((n, t) => n + t.sealedBytes - t.plainBytes, 0) / frames,
        relaysRefused: synthetic.reduce((all, m) => {
          for (const [code, n] of m.keys.relaysRefused) all.set(code, (all.get(code) ?? 0) + n);
          return all;
        }, new Map<string, number>()),
      };
      return { times, tall, desktop, phone, audioOnly, sealing };
    }
  } finally {
    for (const member of synthetic) await member.leave();
    sink.close();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const browser = await launchChromium();
  try {
    process.stdout.write('one layer (640×360 at 300 kbit/s) from each synthetic member:\n');
    const single = await runRoom(browser, { frames: await testPattern() }, joins);
    process.stdout.write('simulcast (160×90, 320×180, 640×360) from each synthetic member:\n');
    const simulcast = await runRoom(browser, { layers: await simulcastPattern() }, joins);
    const join = (r: RoomRun) => {
      const sorted = [...r.times].sort((a, b) => a - b);
      return `median ${quantile(sorted, 0.5).toFixed(0)} ms, p95 ${quantile(sorted, 0.95).toFixed(0)} ms (n=${sorted.length})`;
    };
    const sealed = (x: RoomRun['sealing']) =>
      `${x.frames} frames sealed by the synthetic members, ${x.bytesPerFrame.toFixed(1)} bytes added to each; ${x.dropped} dropped before their first key; key messages refused by the server: ${[...x.relaysRefused].map(([code, n]) => `${n} ${code}`).join(', ') || 'none'}`;
    const load = (l: Load) => `receiving ${l.kbps.toFixed(0)} kbit/s, decoding ${l.decoding} videos (${l.frameHeights}), Chromium ${(l.cpuShare * 100).toFixed(0)} % of a core`;
    process.stdout.write(
      [
        '',
        `bench:big-room — a room of 12: ${SYNTHETIC} synthetic members (audio, real VP8 from ffmpeg's test pattern) and one headless Chromium member joining through the UI, 1 mediasoup worker, ${os.cpus().length} cores`,
        '  invite link opened → first remote video frame decoded (page load, name, agreement, auto-admit):',
        `    one layer: ${join(single)}`,
        `    simulcast: ${join(simulcast)}`,
        '  in the room, a 1024×1100 window (every tile on screen, ~320×180 px):',
        `    one layer: ${load(single.tall)}`,
        `    simulcast, layer by tile size: ${load(simulcast.tall)}`,
        '  a 1024×700 window (the last row of tiles below the fold: paused by the server):',
        `    one layer: ${load(single.desktop)}`,
        `    simulcast, layer by tile size: ${load(simulcast.desktop)}`,
        '  a 375×667 phone screen at device pixel ratio 1 (eleven tiles of ~170×96 px, all on screen):',
        `    one layer: ${load(single.phone)}`,
        `    simulcast, layer by tile size: ${load(simulcast.phone)}`,
        '  with "Audio only" ticked:',
        `    one layer: ${load(single.audioOnly)}`,
        `    simulcast: ${load(simulcast.audioOnly)}`,
        '  end-to-end encryption (every synthetic frame sealed; the browser decodes only what it decrypted):',
        `    one layer: ${sealed(single.sealing)}`,
        `    simulcast: ${sealed(simulcast.sealing)}`,
        '',
      ].join('\n'),
    );
  } finally {
    await browser.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench:big-room failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
