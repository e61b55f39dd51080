import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { JOIN_STEPS } from '../../apps/web/lib/join-timeline.js';
import { fillEntryForm, inboundByPeer, launchChromium, newMember, type Member } from '../support/browser.js';
import { describeWeight, scriptWeight, type PageWeight } from '../support/page-weight.js';
import { startProductionServer } from '../support/prod-server.js';
import { createRoomWithSecrets, roomPath } from '../support/synthetic-keys.js';
import { KEY_FRAME_MIN_INTERVAL_MS, readIvf, RtpSink, SyntheticMember } from '../support/synthetic-member.js';
import { quantile } from './measure.js';

/*
 * npm run bench:big-room [-- <joins>]
 *
 * A room of 12 on a 2-core machine that cannot run 12 browsers: eleven synthetic members (one
 * of them the facilitator) send audio and real VP8 video (ffmpeg's test pattern, 640×360 at
 * 300 kbit/s, from Debian's ffmpeg, cached in ~/.cache/group-room) through the real path, and
 * one headless Chromium member joins through the UI, again and again, in a window where every
 * tile is on screen. Printed, with the median and p95 across joins, from the invite link opened
 * (page load, name, agreement and auto-admit included):
 * - the join's timeline: navigation timing and the page's own `join:<step>` marks
 *   (apps/web/lib/join-timeline.ts), in time order; a step the client does not mark prints "–";
 * - → the first remote video frame, and → every tile showing video (all eleven camera tiles
 *   have presented a frame: the `join:frame:<peerId>` marks, and, as a client without them is
 *   measured too, getStats polled for every tile's decoded frames);
 * - the bench's own typing and clicking (included in the times above);
 * - the room page's JavaScript as loaded by the first join (tests/support/page-weight.ts);
 * and with the browser in the room, its CPU (all Chromium processes) and the bitrate it receives.
 *
 * The synthetic members answer the SFU's key frame requests (RTCP PLI/FIR) with a key frame at
 * the layer asked for, as a browser's encoder does (synthetic-member.ts). They work with a
 * server that lists a newcomer's consumers in media:ready's answer and with one that announces
 * each by consumer:new, so the same bench measures before and after.
 *
 * Everything is end-to-end encrypted as in a real session: the room is made with a room secret
 * as the browser makes it, the synthetic host holds it and hands out the keys (to the browser
 * too), every synthetic frame is sealed before it is packetized, and the browser opens the
 * invite link with the invite's secret. A decoded frame is one the browser decrypted.
 */

const joins = Number(process.argv[2] ?? 5);
const SYNTHETIC = 11;
const run = promisify(execFile);
/** Wall-clock milliseconds, sub-millisecond: the page's marks (performance.timeOrigin + startTime) and the bench's events on one clock. */
const epoch = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

/**
 * CPU seconds used so far by the Chromium processes this process started (descendants of
 * `root`): other Chromiums on the machine, and their exits, do not count.
 */
export async function chromiumCpuSeconds(root = process.pid): Promise<number> {
  const tick = 100; // USER_HZ on Linux
  const processes = new Map<number, { parent: number; chromium: boolean; seconds: number }>();
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      processes.set(Number(pid), { parent: Number(fields[1]), chromium: name.startsWith('chrom'), seconds: (Number(fields[11]) + Number(fields[12])) / tick });
    } catch {
      // gone meanwhile
    }
  }
  const ours = (pid: number): boolean => {
    for (let at = processes.get(pid)?.parent; at !== undefined && at > 1; at = processes.get(at)?.parent) if (at === root) return true;
    return false;
  };
  let total = 0;
  for (const [pid, p] of processes) if (p.chromium && ours(pid)) total += p.seconds;
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

/** The steps of one join that are not the page's own marks. */
const PAGE_STEPS = ['page: navigation start', 'page: response end', 'page: DOMContentLoaded', 'page: load'] as const;
const BENCH_STEPS = ['bench: Continue click done', 'bench: I agree click done'] as const;
const FIRST_FRAME_MARKED = 'first tile frame (join:frame marks)';
const ALL_FRAMES_MARKED = 'every tile showing video (join:frame marks)';
const FIRST_FRAME_POLLED = 'first tile decoding (getStats polled)';
const ALL_FRAMES_POLLED = 'every tile decoding (getStats polled)';
/** Every step printed, in the order a step no join recorded is listed. */
const ALL_STEPS = [...PAGE_STEPS, ...JOIN_STEPS.map((step) => `join:${step}`), ...BENCH_STEPS, FIRST_FRAME_MARKED, FIRST_FRAME_POLLED, ALL_FRAMES_MARKED, ALL_FRAMES_POLLED];

/** One join: when each step happened, in ms from the invite link opened (a step not recorded is absent). */
interface JoinRecord {
  steps: Map<string, number>;
  /** The bench's own typing and clicking (name, privacy box, Continue, I agree), in ms. */
  typing: number;
}

/**
 * Open the invite link and join through the UI as a person would, timing each step from the
 * link opened; the bench's own actions are timed apart from the waits for the page.
 */
async function joinThroughUi(page: Page, inviteUrl: string, name: string): Promise<{ opened: number; record: JoinRecord }> {
  const opened = epoch();
  const steps = new Map<string, number>();
  let typing = 0;
  const act = async (action: () => Promise<void>) => {
    const t = epoch();
    await action();
    typing += epoch() - t;
  };
  await page.goto(inviteUrl);
  await page.getByLabel('Your name, as the group will see it').waitFor();
  await act(async () => {
    await fillEntryForm(page, name);
    await page.getByRole('button', { name: 'Continue' }).click();
  });
  steps.set('bench: Continue click done', epoch() - opened);
  const agree = page.getByRole('button', { name: 'I agree' });
  await agree.waitFor();
  await act(() => agree.click());
  steps.set('bench: I agree click done', epoch() - opened);
  return { opened, record: { steps, typing } };
}

/**
 * Until every synthetic member's camera tile decodes video: getStats polled every 20 ms (as
 * before the page had marks), then the page's marks and navigation timing, all into `record`.
 */
async function watchTiles(page: Page, opened: number, record: JoinRecord, synthetic: readonly SyntheticMember[], names: readonly string[]): Promise<void> {
  const decoding = new Set<string>();
  for (;;) {
    const samples = await inboundByPeer(page);
    const t = epoch() - opened;
    for (const s of samples) if (s.kind === 'video' && s.framesDecoded > 0) decoding.add(s.peerName);
    if (decoding.size > 0 && !record.steps.has(FIRST_FRAME_POLLED)) record.steps.set(FIRST_FRAME_POLLED, t);
    if (names.every((name) => decoding.has(name))) {
      record.steps.set(ALL_FRAMES_POLLED, t);
      break;
    }
    if (t > 60_000) {
      if (decoding.size === 0) throw new Error('no remote video frame within 60 s');
      break; // some tile never showed video: its join has no "every tile" figure
    }
    await sleep(20);
  }
  const ids = synthetic.map((m) => m.id);
  const read = () =>
    page.evaluate(() => {
      const navigation = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
      return {
        timeOrigin: performance.timeOrigin,
        marks: performance.getEntriesByType('mark').map((m) => ({ name: m.name, at: m.startTime })),
        navigation: navigation && { responseEnd: navigation.responseEnd, domContentLoaded: navigation.domContentLoadedEventEnd, load: navigation.loadEventEnd },
      };
    });
  let seen = await read();
  // A client that marks its join marks each tile's first frame too, a moment after it decodes.
  const marking = seen.marks.some((m) => m.name.startsWith('join:'));
  for (const until = Date.now() + 2000; marking && Date.now() < until && !ids.every((id) => seen.marks.some((m) => m.name === `join:frame:${id}`)); ) {
    await sleep(50);
    seen = await read();
  }
  const zero = seen.timeOrigin - opened;
  record.steps.set('page: navigation start', zero);
  if (seen.navigation) {
    record.steps.set('page: response end', zero + seen.navigation.responseEnd);
    record.steps.set('page: DOMContentLoaded', zero + seen.navigation.domContentLoaded);
    if (seen.navigation.load > 0) record.steps.set('page: load', zero + seen.navigation.load);
  }
  const frames = new Map<string, number>();
  for (const { name, at } of seen.marks) {
    if (name.startsWith('join:frame:')) {
      const id = name.slice('join:frame:'.length);
      if (!frames.has(id)) frames.set(id, zero + at);
    } else if (name.startsWith('join:') && !record.steps.has(name)) record.steps.set(name, zero + at);
  }
  const framed = ids.map((id) => frames.get(id)).filter((t) => t !== undefined);
  if (framed.length > 0) record.steps.set(FIRST_FRAME_MARKED, Math.min(...framed));
  if (framed.length === ids.length) record.steps.set(ALL_FRAMES_MARKED, Math.max(...framed));
}

interface RoomRun {
  joins: JoinRecord[];
  /** The first join's room page: the scripts it loaded. */
  weight: PageWeight;
  /** Key frame requests the synthetic members' video got from the SFU: answered, ignored (too soon after the last). */
  keyFrames: { answered: number; ignored: number };
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
 * browser joining `joins` times in a window tall enough for every tile; the last time it stays
 * and is measured there, in a 1024×700 one (the last row of tiles below the fold), on a 375×667
 * phone screen, then with "Audio only" ticked.
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
    const names = ['Host', ...Array.from({ length: SYNTHETIC - 1 }, (_, i) => `Synthetic ${i + 1}`)];
    const records: JoinRecord[] = [];
    let weight: PageWeight | undefined;
    for (let i = 1; ; i++) {
      const member = await newMember(browser, server.url);
      await member.page.setViewportSize({ width: 1024, height: 1100 });
      const { opened, record } = await joinThroughUi(member.page, inviteUrl, `Browser ${i}`);
      await watchTiles(member.page, opened, record, synthetic, names);
      records.push(record);
      // The browser holds only the key of its arrival: every synthetic member must have moved to it.
      const leading = synthetic[0]!.keys.frames.sending;
      const behind = synthetic.filter((m) => m.keys.frames.sending?.gen !== leading?.gen || m.keys.frames.sending?.step !== leading?.step).length;
      const ms = (step: string) => (record.steps.has(step) ? `${record.steps.get(step)!.toFixed(0)} ms` : '–');
      process.stdout.write(
        `join ${i}: invite link opened → first remote video frame ${ms(FIRST_FRAME_POLLED)} (marks: ${ms(FIRST_FRAME_MARKED)}), → every tile showing video ${ms(ALL_FRAMES_POLLED)} (marks: ${ms(ALL_FRAMES_MARKED)}); bench typing ${record.typing.toFixed(0)} ms${behind ? ` (${behind} synthetic members not yet on the host's key)` : ''}\n`,
      );
      weight ??= await scriptWeight(member.page);
      if (i < joins) {
        await member.context.close();
        continue;
      }
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
      const keyFrames = { answered: 0, ignored: 0 };
      for (const m of synthetic) {
        keyFrames.answered += m.source.keyFrameRequests.answered;
        keyFrames.ignored += m.source.keyFrameRequests.ignored;
      }
      return { joins: records, weight, keyFrames, tall, desktop, phone, audioOnly, sealing };
    }
  } finally {
    for (const member of synthetic) await member.leave();
    sink.close();
    await server.stop();
  }
}

/** Samples (ms) as "median ms, p95 ms (n=…)"; "–" without any. `of`: how many joins there were. */
function stat(samples: number[], of: number): string {
  if (samples.length === 0) return '–';
  const sorted = [...samples].sort((a, b) => a - b);
  return `median ${quantile(sorted, 0.5).toFixed(0)} ms, p95 ${quantile(sorted, 0.95).toFixed(0)} ms (n=${sorted.length}${sorted.length < of ? ` of ${of}` : ''})`;
}

/**
 * The timeline as lines, one per step, in time order (by the earliest of the runs' medians;
 * steps no join recorded last, as "–"), each run's median / p95 side by side.
 */
function timeline(runs: Record<string, RoomRun>): string[] {
  const cell = (r: RoomRun, step: string) => {
    const samples = r.joins.flatMap((j) => (j.steps.has(step) ? [j.steps.get(step)!] : [])).sort((a, b) => a - b);
    if (samples.length === 0) return { median: undefined, text: '–' };
    const median = quantile(samples, 0.5);
    return { median, text: `${median.toFixed(0)} / ${quantile(samples, 0.95).toFixed(0)}${samples.length < r.joins.length ? ` (n=${samples.length})` : ''}` };
  };
  const steps = new Set<string>(ALL_STEPS);
  for (const r of Object.values(runs)) for (const j of r.joins) for (const step of j.steps.keys()) steps.add(step);
  const rows = [...steps].map((step, order) => {
    const cells = Object.values(runs).map((r) => cell(r, step));
    const medians = cells.flatMap((c) => (c.median === undefined ? [] : [c.median]));
    return { step, order, at: medians.length ? Math.min(...medians) : Infinity, cells };
  });
  rows.sort((a, b) => a.at - b.at || a.order - b.order);
  const width = Math.max(...rows.map((r) => r.step.length));
  const labels = Object.keys(runs);
  const column = Math.max(...labels.map((l) => l.length), ...rows.flatMap((r) => r.cells.map((c) => c.text.length))) + 3;
  return [`    ${''.padEnd(width)}${labels.map((l) => l.padStart(column)).join('')}`, ...rows.map((r) => `    ${r.step.padEnd(width)}${r.cells.map((c) => c.text.padStart(column)).join('')}`)];
}

async function main(): Promise<void> {
  const browser = await launchChromium();
  try {
    process.stdout.write('one layer (640×360 at 300 kbit/s) from each synthetic member:\n');
    const single = await runRoom(browser, { frames: await testPattern() }, joins);
    process.stdout.write('simulcast (160×90, 320×180, 640×360) from each synthetic member:\n');
    const simulcast = await runRoom(browser, { layers: await simulcastPattern() }, joins);
    const runs = { 'one layer': single, simulcast };
    const join = (r: RoomRun, step: string) => stat(r.joins.flatMap((j) => (j.steps.has(step) ? [j.steps.get(step)!] : [])), r.joins.length);
    const typing = (r: RoomRun) => stat(r.joins.map((j) => j.typing), r.joins.length);
    /** Per join, from one step to another (both recorded), as median / p95. */
    const since = (r: RoomRun, from: string, to: string) =>
      stat(r.joins.flatMap((j) => (j.steps.has(from) && j.steps.has(to) ? [j.steps.get(to)! - j.steps.get(from)!] : [])), r.joins.length);
    const sealed = (x: RoomRun['sealing']) =>
      `${x.frames} frames sealed by the synthetic members, ${x.bytesPerFrame.toFixed(1)} bytes added to each; ${x.dropped} dropped before their first key; key messages refused by the server: ${[...x.relaysRefused].map(([code, n]) => `${n} ${code}`).join(', ') || 'none'}`;
    const load = (l: Load) => `receiving ${l.kbps.toFixed(0)} kbit/s, decoding ${l.decoding} videos (${l.frameHeights}), Chromium ${(l.cpuShare * 100).toFixed(0)} % of a core`;
    process.stdout.write(
      [
        '',
        `bench:big-room — a room of 12: ${SYNTHETIC} synthetic members (audio, real VP8 from ffmpeg's test pattern) and one headless Chromium member joining through the UI, 1 mediasoup worker, ${os.cpus().length} cores`,
        '  invite link opened → first remote video frame (page load, name, agreement, auto-admit; a 1024×1100 window, every tile on screen):',
        ...Object.entries(runs).map(([label, r]) => `    ${label}: ${join(r, FIRST_FRAME_POLLED)} (getStats polled); ${join(r, FIRST_FRAME_MARKED)} (join:frame marks)`),
        `  invite link opened → every tile showing video (all ${SYNTHETIC} camera tiles have a frame):`,
        ...Object.entries(runs).map(([label, r]) => `    ${label}: ${join(r, ALL_FRAMES_POLLED)} (getStats polled); ${join(r, ALL_FRAMES_MARKED)} (join:frame marks)`),
        '  the join itself: let in (join:admitted: "I agree" with auto-admit) → every tile showing video / → first frame (join marks; the page load and the bench\'s typing are not in it):',
        ...Object.entries(runs).map(([label, r]) => `    ${label}: every tile ${since(r, 'join:admitted', ALL_FRAMES_MARKED)}; first frame ${since(r, 'join:admitted', FIRST_FRAME_MARKED)}`),
        '  the bench\'s own typing and clicking (name, privacy box, Continue, I agree; included above):',
        ...Object.entries(runs).map(([label, r]) => `    ${label}: ${typing(r)}`),
        '  the join\'s timeline from the invite link opened (median / p95 ms across joins; "–": not recorded):',
        ...timeline(runs),
        `  key frame requests (RTCP PLI/FIR) from the SFU to the synthetic members' video, answered with a key frame (ignored: < ${KEY_FRAME_MIN_INTERVAL_MS} ms after the last on that layer):`,
        ...Object.entries(runs).map(([label, r]) => `    ${label}: ${r.keyFrames.answered} answered, ${r.keyFrames.ignored} ignored`),
        `  ${describeWeight('the room page\'s JavaScript as the first join loaded it (gzip level 6 of each script, summed)', single.weight).split('\n')[0]}`,
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
