import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { launchChromium } from '../support/browser.js';
import { repoRoot } from '../support/prod-server.js';
import { capacity, held, perStreamRatio, type CapacityReport, type Mode, type Run, type Step } from './capacity.js';
import { MADE_FASTER } from './made-faster.js';
import { benchSummary, installTimes, roomPageWeight, type PageWeight } from './other-figures.js';

/*
 * npm run bench: runs the capacity measurement (rooms of 12 by default; see capacity.ts) and
 * writes docs/performance.md (method, machine, table) and docs/capacity.png (a chart drawn as
 * SVG and rendered by the same headless Chromium the tests use).
 */

const COLORS = { ours: '#1f6feb', bare: '#d1242f', janus: '#2da44e' } as const;

/** SFU CPU by rooms: one line per system and mode (solid: full receivers; dashed: forwarding only). */
function chartSvg(report: CapacityReport): string {
  const width = 760;
  const height = 420;
  const pad = { left: 70, right: 20, top: 40, bottom: 60 };
  const series = report.runs.filter((r) => r.steps.length);
  const maxRooms = Math.max(...series.flatMap((s) => s.steps.map((x) => x.rooms)), 1);
  const maxCore = Math.max(1, ...series.flatMap((s) => s.steps.map((x) => x.workerCore)));
  const x = (rooms: number) => pad.left + ((width - pad.left - pad.right) * rooms) / maxRooms;
  const y = (core: number) => height - pad.bottom - ((height - pad.top - pad.bottom) * core) / maxCore;
  const lines = series
    .map(({ system, mode, name, steps }, i) => {
      const color = COLORS[system];
      const dash = mode === 'forwarding' ? ' stroke-dasharray="7 5"' : '';
      const points = steps.map((s) => `${x(s.rooms).toFixed(1)},${y(s.workerCore).toFixed(1)}`).join(' ');
      const dots = steps.map((s) => `<circle cx="${x(s.rooms).toFixed(1)}" cy="${y(s.workerCore).toFixed(1)}" r="3.5" fill="${color}"/>`).join('');
      const legendY = pad.top + 16 * i;
      return `<polyline fill="none" stroke="${color}" stroke-width="2.5"${dash} points="${points}"/>${dots}<line x1="${pad.left + 12}" x2="${pad.left + 40}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${color}" stroke-width="2.5"${dash}/><text x="${pad.left + 46}" y="${legendY}" fill="${color}" font-size="12">${name}</text>`;
    })
    .join('');
  const tickEvery = Math.max(1, Math.ceil(maxRooms / 20));
  const xTicks = Array.from({ length: Math.floor(maxRooms / tickEvery) }, (_, i) => (i + 1) * tickEvery)
    .map((r) => `<text x="${x(r)}" y="${height - pad.bottom + 20}" font-size="12" text-anchor="middle">${r}</text>`)
    .join('');
  const yTicks = [0, 0.25, 0.5, 0.75, 1]
    .map((c) => `<text x="${pad.left - 8}" y="${y(c * maxCore) + 4}" font-size="12" text-anchor="end">${Math.round(c * maxCore * 100)} %</text><line x1="${pad.left}" x2="${width - pad.right}" y1="${y(c * maxCore)}" y2="${y(c * maxCore)}" stroke="#ddd"/>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${pad.left}" y="24" font-size="16">SFU CPU (share of its one core) by rooms of ${report.members}, ${report.videoKbps} kbit/s video</text>
${yTicks}${xTicks}
<text x="${(width + pad.left) / 2}" y="${height - 15}" font-size="13" text-anchor="middle">rooms</text>
${lines}
</svg>`;
}

async function renderPng(svg: string, file: string): Promise<void> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 760, height: 420 } });
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    await page.screenshot({ path: file, clip: { x: 0, y: 0, width: 760, height: 420 } });
  } finally {
    await browser.close();
  }
}


const pct = (x: number, digits = 0) => `${(x * 100).toFixed(digits)} %`;

const row = (s: Step) =>
  `| ${s.rooms} | ${s.streams} | ${s.packetsInPerSec.toFixed(0)} | ${s.packetsOutPerSec.toFixed(0)} | ${pct(s.inboundLoss, 2)} | ${s.sfu ? pct(s.sfu.forwarding, 2) : '–'} | ${pct(s.sinkLoss, 2)}${s.lossAtSink > 0 ? ` (${pct(s.lossAtSink)} at the bench's socket)` : ''} | ${s.jitterMs.toFixed(1)} | ${pct(s.workerCore)} | ${(s.workerPerStream * 1e5).toFixed(1)} | ${pct(s.generatorCore)}${s.generatorLate ? ' (late)' : ''} | ${s.signallingRssMb === undefined ? '–' : s.signallingRssMb.toFixed(0)} | ${s.workerRssMb.toFixed(0)} |`;

function runTable(run: Run): string {
  return [
    `### ${run.name} (stopped by ${run.stoppedBy})`,
    '',
    '| rooms | streams forwarded | RTP packets/s in | datagrams/s out | not read in by the SFU | not forwarded (mediasoup\'s counters) | loss at the sampled receivers | jitter (ms) | SFU CPU (of its core) | per stream (1/100,000 of a core) | bench CPU | signalling RSS (MB) | SFU peak RSS (MB) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...run.steps.map(row),
    '',
  ].join('\n');
}

interface Others {
  summaries: { name: string; command: string; text: string }[];
  page: PageWeight;
  install: { coldSeconds: number; cachedSeconds: number };
}

function othersMarkdown(others: Others): string {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
  return `## The other figures, from the same run

The room page's JavaScript as the browser loads it from the production build
(\`performance.getEntriesByType('resource')\` on \`/room/<id>\`, the gzip (level 6) of each script
summed): ${others.page.scripts} scripts, ${kb(others.page.decoded)} decoded, ${kb(others.page.transferred)} over the wire as served,
**${kb(others.page.gzipped)} gzipped (${others.page.gzipped} bytes; the budget is 200,000, checked by
tests/browser/page-weight.test.ts)**. That is what the page loads before its first screen works;
the screens after the entry form, the key handshake and mediasoup-client are fetched as soon as
someone is on the way in (while they type their name), off the join's path. Everything a
member's browser has loaded once in the room is larger: bench:big-room below prints it ("as the
first join loaded it"), and the page-weight test prints a member's and a facilitator's totals.

A clean clone's \`npm install\`: ${others.install.coldSeconds.toFixed(0)} s with an empty npm cache, ${others.install.cachedSeconds.toFixed(0)} s
with the machine's cache (the mediasoup worker's build is separate and cached per machine:
~5–7 min the first time, see infra/mediasoup).

${others.summaries.map((s) => `### ${s.name} (\`${s.command}\`)\n\n\`\`\`\n${s.text}\n\`\`\`\n`).join('\n')}`;
}

/** Our SFU CPU per forwarded stream as ratios to bare mediasoup's and Janus's, in both modes; rooms held; the machine's loopback. */
function ratios(report: CapacityReport): string {
  const modes: Mode[] = ['forwarding', 'full'];
  const cell = (mode: Mode, other: 'bare' | 'janus') => {
    const r = perStreamRatio(report, mode, other);
    if (r) return `${r.ratio.toFixed(2)} (at ${r.rooms} room${r.rooms === 1 ? '' : 's'} each)`;
    return other === 'janus' && mode === 'full' && report.janusFullNotMeasured ? 'not measured (below)' : '–';
  };
  const heldRooms = (system: Run['system'], mode: Mode) => {
    const run = report.runs.find((r) => r.system === system && r.mode === mode);
    return run?.steps.length ? `${held(run.steps).rooms} (${run.limit === 'loss' ? 'loss' : run.limit === 'core' ? 'core saturated' : run.limit === 'bench' ? "the bench's core" : 'the maximum tried'})` : '–';
  };
  const ours = report.runs.find((r) => r.system === 'ours' && r.mode === 'full');
  return [
    '| SFU CPU per forwarded stream | forwarding only | full receivers |',
    '|---|---|---|',
    `| ours ÷ bare mediasoup | ${cell('forwarding', 'bare')} | ${cell('full', 'bare')} |`,
    `| ours ÷ Janus VideoRoom | ${cell('forwarding', 'janus')} | ${cell('full', 'janus')} |`,
    '',
    '| rooms of ' + report.members + ' held (what stopped it) | forwarding only | full receivers |',
    '|---|---|---|',
    ...(['ours', 'bare', 'janus'] as const).map((system) => `| ${system === 'ours' ? 'ours' : system === 'bare' ? 'bare mediasoup' : 'Janus VideoRoom'} | ${modes.map((m) => heldRooms(system, m)).join(' | ')} |`),
    '',
    ours?.steps.length
      ? `Our full receivers at the most rooms held forward ${held(ours.steps).packetsOutPerSec.toFixed(0)} datagrams/s, ${pct(held(ours.steps).packetsOutPerSec / report.loopback.sendPerSec, 1)} of what one core sends over loopback UDP (${report.loopback.tool}: ${report.loopback.sendPerSec.toFixed(0)} packets/s of ${report.loopback.packetBytes} bytes sent, ${report.loopback.receivePerSec.toFixed(0)} received by another process).`
      : '',
    ...(report.janusFullNotMeasured ? ['', `Janus's full receivers (WebRTC subscribers): ${report.janusFullNotMeasured}.`] : []),
  ].join('\n');
}

/** Rooms held per core by room size: how the figures grow with members per room. */
function growthMarkdown(reports: CapacityReport[]): string {
  const line = (r: CapacityReport, run: Run) => {
    if (!run.steps.length) return [];
    const s = held(run.steps);
    return `| ${r.members} | ${run.name} | ${s.rooms} | ${s.rooms * r.members} | ${s.streams} | ${s.packetsOutPerSec.toFixed(0)} | ${pct(s.workerCore)} | ${(s.workerPerStream * 1e5).toFixed(1)} | ${run.limit === 'loss' ? 'loss' : run.limit === 'core' ? 'core saturated' : run.limit === 'bench' ? "the bench's core" : 'the maximum tried'} |`;
  };
  return `## How it grows with the size of the room

One SFU core, ${reports[0]!.videoKbps} kbit/s video; the most rooms held at < 1 % loss with the
core not saturated. Forwarded streams grow with members² per room (each of M members receives
2 (M − 1) streams), so halving the room size roughly quadruples the rooms a core carries.

| members per room | | rooms held | people | streams forwarded | datagrams/s out | SFU CPU | per stream (1/100,000 of a core) | stopped by |
|---|---|---|---|---|---|---|---|---|
${reports.flatMap((r) => r.runs.map((run) => line(r, run)).flat()).join('\n')}
`;
}

function markdown(report: CapacityReport, date: string): string {
  const cpu = os.cpus();
  return `# Performance

Measured by \`npm run bench\` (\`tests/bench/report.ts\`), which writes this file and
[capacity.png](capacity.png). Date: ${date}.

## Machine

${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 1e9).toFixed(1)} GB, Linux ${os.release()},
Node ${process.version}, mediasoup 3.27.1 (worker built from Debian 12's packages).

## Capacity of one SFU core

Method (\`npm run bench:capacity\`, tests/bench/capacity.ts): rooms of ${report.members} are added until
loss passes 1 % at the SFU, the SFU's core saturates (≥ 95 %), or the bench's own core does
(then the SFU was not the limit); each step is measured over ${report.windowMs / 1000} s after ${report.warmMs / 1000} s of warm-up.
Every system is measured at 1, 4 and 8 rooms (its costs compare with the others' there; a
checkpoint its cost so far says would saturate its core is left out), then each step goes half
the way to where its core would saturate at the cost per room seen so far.
Each member sends opus-sized audio (50 packets/s) and VP8-shaped video (${report.videoKbps} kbit/s, 30
frames/s, a key frame every second), every frame sealed end to end as browsers seal them, and
receives every other member's two streams.

- **Cores**: ${report.pinning}.
- **The load** is cheap so the SFU runs out first: ${report.generators} generator processes send packets built
  once (each member's second of sealed frames, looped: two header writes and one send per
  packet). One member's streams in each of the first three rooms and every fourth after go to
  a sink that reads every packet (sequence gaps: the loss at these sampled receivers, and
  jitter); everyone else's go to a "hole", a
  socket no process reads, where the kernel counts each datagram (its buffer stays full). A
  packet still costs the SFU its whole send; the receiving process's wake-up, which on loopback
  the sender's core pays, is spared (on a network it is the other machine's).
- **Loss at the SFU**, from the SFU's own counters: packets the generators sent that the
  kernel dropped at the SFU's receiving sockets (not read in time), and for mediasoup, per
  consumer, the packets its producer's stream received against the packets the consumer sent
  (one \`getStats\` answer gives both, so both are read at the same moment), for about 264
  consumers spread over all rooms (thousands of requests take minutes from a saturated worker).
- **Ours**: the production server (one worker, \`SYNTHETIC_MEDIA=true\`); members enter through
  Socket.IO with the agreement and auto-admit, ask for media with \`media:ready\` and resume with
  \`consumers:resume\`, on plain RTP transports instead of WebRTC (no ICE, no DTLS; with full
  receivers, what it sends them is encrypted with SRTP, AEAD_AES_256_GCM, the suite browsers
  and Janus's subscribers negotiate here: the same crypto per packet and receiver). Its mediasoup counters are read in its own process by a
  module loaded beside it (tests/bench/capacity-hook.ts, through mediasoup's observer): the
  server's code is unchanged.
- **Bare mediasoup**: a worker and routers made directly by the bench, the same members' RTP
  and the same SRTP with full receivers, no application.
- **Janus VideoRoom** (Debian's \`janus\` 1.1, only its VideoRoom plugin and HTTP API, its whole
  process on the SFU's core): each member a *remote publisher* (plain RTP in, the same packets),
  each member's view of another an *RTP forwarder* per stream (plain RTP out), or, with full
  receivers, each member a WebRTC subscriber (tests/bench/janus-subscriber.ts: one
  PeerConnection taking the other members' feeds, received by a mediasoup worker of the bench's,
  on the bench's core, inside a network namespace of the bench's own where Janus's ICE works on
  loopback). Its loss is the receivers' (the sampled ones', or every subscriber's own count);
  its counters are not read. Its subscribers' SRTP is AEAD_AES_256_GCM (the bench's worker
  logs the suite DTLS chose), as ours get; and on loopback Janus resends only part of what is NACKed (janus-subscriber-check.ts
  says why).
- **Two modes**. *Forwarding only*: the receivers declare no RTCP feedback (no NACK, PLI, FIR,
  transport-cc), so mediasoup's consumers keep no retransmission buffers and estimate no
  bandwidth, as Janus's RTP forwarders do none of it. *Full receivers*: consumers with the
  router's NACK, PLI, FIR and transport-cc, as browsers receive (retransmission buffers kept;
  on a lossless loopback no NACK comes).
- **Loopback UDP**: ${report.loopback.tool === 'iperf3' ? "iperf3 (Debian's package)" : "Node's dgram (iperf3 not installed: a lower bound)"} sending ${report.loopback.packetBytes}-byte
  packets as fast as one core can, another process receiving: what the machine itself moves.

### The ratios

${ratios(report)}

![SFU CPU by rooms](capacity.png)

${report.runs.map(runTable).join('\n')}
`;
}


async function main(): Promise<void> {
  const [members, maxRooms, videoKbps] = process.argv.slice(2).map(Number);
  const report = await capacity({ ...(members ? { members } : {}), ...(maxRooms ? { maxRooms } : {}), ...(videoKbps ? { videoKbps } : {}) });
  // Half the room size, to show how the figures grow with members per room: ours with full
  // receivers only (the product's case), to keep the run short.
  const smaller = await capacity({
    members: Math.max(2, Math.floor(report.members / 2)),
    maxRooms: 4 * (maxRooms || 30),
    videoKbps: report.videoKbps,
    runs: [{ system: 'ours', mode: 'full' }],
  });
  const summaries: Others['summaries'] = [];
  for (const [name, title, args] of [
    ['join', 'Join → first remote video frame', ['4']],
    ['big-room', 'A room of 12 with one real browser (eleven synthetic members)', ['5']],
    ['janus-room', 'The same room of 12 on Janus VideoRoom (the peer SFU)', ['5']],
    ['mute', 'Facilitator mute → silence at the receivers', ['20', '3']],
    ['commands', 'Room commands per second through Redis, beside bare Redis round trips', []],
    ['resume', 'Back in the seat after a drop, a reload, a killed worker', ['3']],
    ['flood', 'Mute → silence with and without a flood', ['10', '3']],
    ['views', 'Room views: commands, server CPU and views per command in a room of 15', []],
    ['placement', 'Rooms placed on two workers, by router count and by load', []],
  ] as const) {
    process.stdout.write(`running bench:${name}…\n`);
    // One bench failing (e.g. six browsers on two cores timing out) is reported as such; the rest still run.
    const text = await benchSummary(name, [...args]).catch((error: unknown) => `bench:${name} FAILED in this run: ${error instanceof Error ? error.message.split('\n').slice(0, 8).join('\n') : String(error)}`);
    summaries.push({ name: title, command: `npm run bench:${name}${args.length ? ` -- ${args.join(' ')}` : ''}`, text });
  }
  process.stdout.write('measuring the room page and the install…\n');
  const others: Others = { summaries, page: await roomPageWeight(), install: await installTimes() };
  const date = new Date().toISOString().slice(0, 10);
  const docs = path.join(repoRoot, 'docs');
  await writeFile(path.join(docs, 'performance.md'), `${markdown(report, date)}\n${MADE_FASTER}\n${growthMarkdown([smaller, report])}\n${othersMarkdown(others)}`);
  await renderPng(chartSvg(report), path.join(docs, 'capacity.png'));
  process.stdout.write(`wrote docs/performance.md and docs/capacity.png\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
