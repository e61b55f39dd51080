import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { io } from 'socket.io-client';
import { enterAdmittedAutomatically, inboundByPeer, launchChromium, newMember } from '../support/browser.js';
import { startProductionServer } from '../support/prod-server.js';
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
 */

const joins = Number(process.argv[2] ?? 5);
const SYNTHETIC = 11;
const run = promisify(execFile);

async function testPattern(): Promise<Buffer[]> {
  const file = path.join(os.homedir(), '.cache/group-room/testsrc-640x360-300k.ivf');
  if (!existsSync(file)) {
    await run('ffmpeg', [
      ...['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=30', '-t', '10'],
      ...['-c:v', 'libvpx', '-b:v', '300k', '-deadline', 'realtime', '-cpu-used', '8', '-g', '30', '-keyint_min', '30', '-auto-alt-ref', '0', '-f', 'ivf', file],
    ]).catch((error: unknown) => {
      throw new Error(`ffmpeg is needed for real VP8 frames (apt-get install ffmpeg): ${error instanceof Error ? error.message : String(error)}`);
    });
  }
  return readIvf(await readFile(file));
}

/** CPU seconds used so far by every Chromium process on the machine. */
async function chromiumCpuSeconds(): Promise<number> {
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

async function main(): Promise<void> {
  const frames = await testPattern();
  const browser = await launchChromium();
  const server = await startProductionServer({ LOG_LEVEL: 'warn', SYNTHETIC_MEDIA: 'true', MEDIASOUP_WORKERS: '1' });
  const sink = await RtpSink.open();
  const synthetic: SyntheticMember[] = [];
  try {
    const creator = io(server.url, { transports: ['websocket'], forceNew: true, reconnection: false });
    const { data } = (await creator.timeout(10_000).emitWithAck('room:create', { title: 'Big room' })) as { data: { roomId: string; facilitatorToken: string; inviteToken: string } };
    creator.disconnect();
    const host = await SyntheticMember.join({ url: server.url, roomId: data.roomId, token: data.facilitatorToken, name: 'Host', sink, frames });
    await host.socket.timeout(10_000).emitWithAck('room:command', { command: { type: 'room.setAutoAdmit', enabled: true } });
    synthetic.push(host);
    for (let i = 1; i < SYNTHETIC; i++) synthetic.push(await SyntheticMember.join({ url: server.url, roomId: data.roomId, token: data.inviteToken, name: `Synthetic ${i}`, sink, frames }));
    for (const member of synthetic) member.start();
    const inviteUrl = `${server.url}/room/${data.roomId}#k=${encodeURIComponent(data.inviteToken)}`;

    const times: number[] = [];
    let cpuShare = 0;
    let kbps = 0;
    let decoding = 0;
    let audioOnly = { cpuShare: 0, kbps: 0 };
    for (let i = 1; i <= joins; i++) {
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
      process.stdout.write(`join ${i}: invite link opened → first remote video frame ${ms.toFixed(0)} ms\n`);
      if (i === joins) {
        // In the room with eleven others: what it costs the browser, over 10 s.
        await new Promise((resolve) => setTimeout(resolve, 3000));
        const bytes = async () => (await inboundByPeer(member.page)).reduce((n, s) => n + s.bytesReceived, 0);
        const cpuBefore = await chromiumCpuSeconds();
        const bytesBefore = await bytes();
        const t0 = performance.now();
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        const seconds = (performance.now() - t0) / 1000;
        cpuShare = ((await chromiumCpuSeconds()) - cpuBefore) / seconds;
        kbps = (((await bytes()) - bytesBefore) * 8) / 1000 / seconds;
        decoding = (await inboundByPeer(member.page)).filter((s) => s.kind === 'video' && s.framesDecoded > 0).length;
        // The same browser with "Audio only" ticked: the server sends it no video.
        await member.page.getByLabel('Audio only (for a weak connection)').check();
        await new Promise((resolve) => setTimeout(resolve, 3000));
        const cpuAudio = await chromiumCpuSeconds();
        const bytesAudio = await bytes();
        const t1 = performance.now();
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        const secondsAudio = (performance.now() - t1) / 1000;
        audioOnly = { cpuShare: ((await chromiumCpuSeconds()) - cpuAudio) / secondsAudio, kbps: (((await bytes()) - bytesAudio) * 8) / 1000 / secondsAudio };
      }
      await member.context.close();
    }
    const sorted = [...times].sort((a, b) => a - b);
    process.stdout.write(
      [
        '',
        `bench:big-room — a room of 12: ${SYNTHETIC} synthetic members (audio, real VP8 640×360 at 300 kbit/s) and one headless Chromium member joining through the UI, 1 mediasoup worker, ${os.cpus().length} cores`,
        `  invite link opened → first remote video frame decoded (page load, name, agreement, auto-admit): median ${quantile(sorted, 0.5).toFixed(0)} ms, p95 ${quantile(sorted, 0.95).toFixed(0)} ms (n=${times.length})`,
        `  in the room: decoding ${decoding} remote videos, receiving ${kbps.toFixed(0)} kbit/s, Chromium using ${(cpuShare * 100).toFixed(0)} % of a core (all its processes)`,
        `  with "Audio only" ticked: receiving ${audioOnly.kbps.toFixed(0)} kbit/s, Chromium using ${(audioOnly.cpuShare * 100).toFixed(0)} % of a core`,
        '  simulcast/SVC: not on (the synthetic members send one VP8 layer)',
        '',
      ].join('\n'),
    );
  } finally {
    for (const member of synthetic) await member.leave();
    sink.close();
    await browser.close();
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:big-room failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
