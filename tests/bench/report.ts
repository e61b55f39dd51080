import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { launchChromium } from '../support/browser.js';
import { repoRoot } from '../support/prod-server.js';
import { capacity, held, type CapacityReport } from './capacity.js';
import { benchSummary, installTimes, roomPageWeight, type PageWeight } from './other-figures.js';

/*
 * npm run bench: runs the capacity measurement (rooms of 12 by default; see capacity.ts) and
 * writes docs/performance.md (method, machine, table) and docs/capacity.png (a chart drawn as
 * SVG and rendered by the same headless Chromium the tests use).
 */

type Step = CapacityReport['ours']['steps'][number];

function chartSvg(report: CapacityReport): string {
  const width = 760;
  const height = 420;
  const pad = { left: 70, right: 20, top: 40, bottom: 60 };
  const series = [
    { name: 'ours', steps: report.ours.steps, color: '#1f6feb' },
    { name: 'bare mediasoup', steps: report.bare.steps, color: '#d1242f' },
    ...(report.janus ? [{ name: 'Janus VideoRoom', steps: report.janus.steps, color: '#2da44e' }] : []),
  ];
  const maxRooms = Math.max(...series.flatMap((s) => s.steps.map((x) => x.rooms)), 1);
  const maxCore = Math.max(1, ...series.flatMap((s) => s.steps.map((x) => x.workerCore)));
  const x = (rooms: number) => pad.left + ((width - pad.left - pad.right) * rooms) / maxRooms;
  const y = (core: number) => height - pad.bottom - ((height - pad.top - pad.bottom) * core) / maxCore;
  const lines = series
    .map(({ name, steps, color }, i) => {
      const points = steps.map((s) => `${x(s.rooms).toFixed(1)},${y(s.workerCore).toFixed(1)}`).join(' ');
      const dots = steps.map((s) => `<circle cx="${x(s.rooms).toFixed(1)}" cy="${y(s.workerCore).toFixed(1)}" r="4" fill="${color}"/>`).join('');
      return `<polyline fill="none" stroke="${color}" stroke-width="2.5" points="${points}"/>${dots}<text x="${width - 200}" y="${pad.top + 18 * i}" fill="${color}" font-size="14">${name}</text>`;
    })
    .join('');
  const xTicks = Array.from({ length: maxRooms }, (_, i) => i + 1)
    .map((r) => `<text x="${x(r)}" y="${height - pad.bottom + 20}" font-size="12" text-anchor="middle">${r}</text>`)
    .join('');
  const yTicks = [0, 0.25, 0.5, 0.75, 1]
    .map((c) => `<text x="${pad.left - 8}" y="${y(c * maxCore) + 4}" font-size="12" text-anchor="end">${Math.round(c * maxCore * 100)} %</text><line x1="${pad.left}" x2="${width - pad.right}" y1="${y(c * maxCore)}" y2="${y(c * maxCore)}" stroke="#ddd"/>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${pad.left}" y="24" font-size="16">SFU CPU (share of one core) by rooms of ${report.members}, ${report.videoKbps} kbit/s video</text>
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


const row = (s: Step) =>
  `| ${s.rooms} | ${s.streams} | ${s.packetsInPerSec.toFixed(0)} | ${s.packetsOutPerSec.toFixed(0)} | ${(s.loss * 100).toFixed(2)} %${s.loss > 0 ? ` (${(s.lossAtGenerator * 100).toFixed(0)} % at the generator)` : ''} | ${s.jitterMs.toFixed(1)} | ${(s.workerCore * 100).toFixed(0)} % | ${(s.workerPerStream * 1e5).toFixed(1)} | ${(s.generatorCore * 100).toFixed(0)} % | ${s.signallingRssMb === undefined ? '–' : s.signallingRssMb.toFixed(0)} | ${s.workerRssMb.toFixed(0)} |`;

interface Others {
  summaries: { name: string; command: string; text: string }[];
  page: PageWeight;
  install: { coldSeconds: number; cachedSeconds: number };
}

function othersMarkdown(others: Others): string {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
  return `## The other figures, from the same run

The room page's JavaScript as the browser loads it from the production build
(\`performance.getEntriesByType('resource')\` on \`/room/<id>\`): ${others.page.scripts} scripts,
${kb(others.page.decoded)} decoded, ${kb(others.page.transferred)} over the wire as served, ${kb(others.page.gzipped)} gzipped.

A clean clone's \`npm install\`: ${others.install.coldSeconds.toFixed(0)} s with an empty npm cache, ${others.install.cachedSeconds.toFixed(0)} s
with the machine's cache (the mediasoup worker's build is separate and cached per machine:
~5–7 min the first time, see infra/mediasoup).

${others.summaries.map((s) => `### ${s.name} (\`${s.command}\`)\n\n\`\`\`\n${s.text}\n\`\`\`\n`).join('\n')}`;
}

/** Our figures as ratios to bare mediasoup's, Janus's and the machine's. */
function ratios(report: CapacityReport): string {
  const o = held(report.ours.steps);
  const perStream = (other: Step[]) => {
    const common = Math.min(o.rooms, held(other).rooms);
    const at = (steps: Step[]) => steps.find((s) => s.rooms === common)!;
    return `${(at(report.ours.steps).workerPerStream / at(other).workerPerStream).toFixed(2)} (at ${common} rooms each)`;
  };
  const j = report.janus;
  return [
    '| ours ÷ | rooms held | SFU CPU per forwarded stream | packets/s out at the rooms held |',
    '|---|---|---|---|',
    `| bare mediasoup | ${(o.rooms / held(report.bare.steps).rooms).toFixed(2)} | ${perStream(report.bare.steps)} | ${(o.packetsOutPerSec / held(report.bare.steps).packetsOutPerSec).toFixed(2)} |`,
    ...(j ? [`| Janus VideoRoom (RTP forwarders) | ${(o.rooms / held(j.steps).rooms).toFixed(2)} | ${perStream(j.steps)} | ${(o.packetsOutPerSec / held(j.steps).packetsOutPerSec).toFixed(2)} |`] : []),
    `| the machine's loopback UDP (${report.loopback.tool}, one core sending) | – | – | ${(o.packetsOutPerSec / report.loopback.sendPerSec).toFixed(2)} |`,
  ].join('\n');
}

/** Rooms held per core by room size: how the figures grow with members per room. */
function growthMarkdown(reports: CapacityReport[]): string {
  const names = { ours: 'ours', bare: 'bare mediasoup', janus: 'Janus VideoRoom' } as const;
  const line = (r: CapacityReport, name: 'ours' | 'bare' | 'janus') => {
    const run = r[name];
    if (!run) return [];
    const s = held(run.steps);
    return `| ${r.members} | ${names[name]} | ${s.rooms} | ${s.rooms * r.members} | ${s.streams} | ${s.packetsOutPerSec.toFixed(0)} | ${(s.workerCore * 100).toFixed(0)} % | ${(s.workerPerStream * 1e5).toFixed(1)} |`;
  };
  return `## How it grows with the size of the room

One worker (one core), ${reports[0]!.videoKbps} kbit/s video; the most rooms held at < 1 % loss with the
core not saturated. Forwarded streams grow with members² per room (each of M members receives
2 (M − 1) streams), so halving the room size roughly quadruples the rooms a core carries.

| members per room | | rooms held | people | streams forwarded | packets/s out | worker CPU | per stream (1/100,000 of a core) |
|---|---|---|---|---|---|---|---|
${reports.flatMap((r) => [line(r, 'ours'), line(r, 'bare'), line(r, 'janus')].flat()).join('\n')}
`;
}

/**
 * Batching views: measured before and after the change (2026-11-30, commit 4487907) by
 * bench:views, run alternately on saved builds of both; this run's own bench:views is below.
 */
const VIEWS_BEFORE_AFTER = `- **Room views built once per change and coalesced.** Each person's view used to be built
  from scratch (member list, facilitators' block) and sent for every change; now the parts
  viewers share are built once per state, and of several changes in one turn of the event
  loop each socket is sent only the newest view (an answer never overtakes the view of its
  change: requests wait for views held). Views cannot be sent once to many sockets: each
  holds the viewer's own \`self\`, so no two are byte-identical. Before/after (bench:views,
  one room of 15 real Socket.IO clients, in-memory store; server CPU per command in ms, three
  alternating runs each, 2026-11-30):

  | phase | before | after |
  |---|---|---|
  | facilitator, 1 command in flight | 1.75 / 2.07 / 2.68 | 1.95 / 1.72 / 1.89 |
  | facilitator, 8 in flight | 1.41 / 1.35 / 1.64 | 0.49 / 0.63 / 0.65 |
  | 14 members, 1 in flight each | 1.12 / 1.38 / 1.61 | 0.55 / 0.53 / 0.58 |
  | 14 members, 4 in flight each | 1.32 / 1.22 / 1.11 | 0.36 / 0.35 / 0.27 |
  | 14 members entering at once | 3.8 / 5.1 / 6.0 | 3.4 / 3.1 / 3.3 |

  One command at a time is unchanged within noise (building a view for 15 people went from
  ~0.3 ms to ~0.04 ms, against ~2 ms per command, most of it 15 socket writes and JSON
  encoding); bursts cost 2.5–4× less. Through Redis nothing coalesces (each change waits on
  Redis round trips) and nothing measurable was added.`;

function markdown(report: CapacityReport, date: string): string {
  const cpu = os.cpus();
  const table = (steps: Step[]) =>
    [
      '| rooms | streams forwarded | packets/s in | packets/s out | loss | jitter (ms) | worker CPU (of a core) | worker CPU per stream (1/100,000 of a core) | generator CPU | signalling RSS (MB) | worker peak RSS (MB) |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      ...steps.map(row),
    ].join('\n');
  return `# Performance

Measured by \`npm run bench\` (\`tests/bench/report.ts\`), which writes this file and
[capacity.png](capacity.png). Date: ${date}.

## Machine

${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 1e9).toFixed(1)} GB, Linux ${os.release()},
Node ${process.version}, mediasoup 3.27.1 (worker built from Debian 12's packages).

## Capacity of one mediasoup worker (one core)

Method: rooms of ${report.members} synthetic members are added one at a time. Each member
sends opus-sized audio (50 packets/s) and VP8-shaped video (${report.videoKbps} kbit/s, 30 frames/s,
a key frame every second) as RTP from the bench process, and receives every other member's
two streams into a UDP sink that counts packets, losses (RTP sequence numbers) and jitter.
Each step is measured over 5 s after 2 s of warm-up; the run stops when loss passes 1 %, the
worker's core saturates, or the generator's own core does (then the SFU was not the limit).

- **Ours**: the production server (one worker, \`SYNTHETIC_MEDIA=true\`); members enter
  through Socket.IO with the agreement and auto-admit and use plain RTP transports instead of
  WebRTC (no SRTP, no ICE: the same forwarding work, less crypto). CPU and memory from its
  Prometheus metrics.
- **Bare mediasoup**: a worker and routers made directly in the bench process, the same
  members' RTP, no application.
- **Janus VideoRoom** (Debian's \`janus\` 1.1.2, only its VideoRoom plugin and HTTP API, pinned
  to one core with \`taskset\` as a mediasoup worker is one thread): each synthetic member is a
  *remote publisher* (\`add_remote_publisher\`: plain RTP in, the same packets as ours), and
  each member's view of another is an *RTP forwarder* (\`rtp_forward\`, one per stream) to the
  same UDP sink: the same packets in and out. Janus's forwarders do no RTCP, NACK or
  retransmission buffering and no per-subscriber state, where mediasoup's consumers (even on
  plain transports) keep all of that: Janus's figure here is its forwarding floor, not its
  WebRTC subscribers' cost (which a WebRTC load generator would measure).
- **Loopback UDP**: ${report.loopback.tool === 'iperf3' ? 'iperf3 (Debian\'s package) sending' : 'Node\'s dgram sending (iperf3 not installed: a lower bound)'} ${report.loopback.packetBytes}-byte
  packets as fast as one core can, another process receiving: what the machine itself moves,
  beneath any SFU (mediasoup has to receive each packet once and send it to every receiver).

### Ours (stopped by ${report.ours.stoppedBy})

${table(report.ours.steps)}

### Bare mediasoup (stopped by ${report.bare.stoppedBy})

${table(report.bare.steps)}
${
  report.janus
    ? `
### Janus VideoRoom (stopped by ${report.janus.stoppedBy})

${table(report.janus.steps)}

"At the generator": the share of the lost packets the kernel dropped at the load generator's
own receiving socket (its buffer full, from \`/proc/net/udp\`), i.e. lost because the bench
process could not read fast enough, not inside the SFU.
`
    : '\n(Janus not installed on this machine: `apt-get install janus`.)\n'
}
### Beside the machine

Loopback UDP (${report.loopback.tool}): ${report.loopback.sendPerSec.toFixed(0)} packets/s sent by one core,
${report.loopback.receivePerSec.toFixed(0)} received by another. At the most rooms it held (loss ≤ 1 %, core not
saturated) ours forwarded ${held(report.ours.steps).packetsOutPerSec.toFixed(0)} packets/s out, ${((held(report.ours.steps).packetsOutPerSec / report.loopback.sendPerSec) * 100).toFixed(1)} % of what one core sends.

On this 2-core machine the load generator (sending and counting every packet in Node) shares
the machine with the worker and reaches its own core's limit at about the same step as the
worker: the figures near the top are the machine's, not only the SFU's.

### The ratios

${ratios(report)}

![worker CPU by rooms](capacity.png)

## Made faster, each with its before and after

Measured in this run unless a date says otherwise; the room-of-12 figures are bench:big-room's
below (one headless Chromium among eleven synthetic members, the same browser in each case).

- **Simulcast, the layer following the tile's size.** Browsers send their camera in two VP8
  layers (320×180 and 640×360; Chromium sends no full-size third layer from a 640×360
  capture); each receiver's client reports every video tile's height in device pixels
  (\`consumer:prefer\`) and the server sends the smallest layer that covers it
  (\`setPreferredLayers\`), from the heights the sender declared. Before/after:
  bench:big-room's "one layer" against "simulcast, layer by tile size" lines (the synthetic
  members send one 640×360 layer, or the same pattern at 160×90, 320×180 and 640×360).
- **Tiles not on screen are paused.** The client watches each tile with an
  IntersectionObserver; a tile out of view has its video paused on the server until it is
  visible again. Before/after: bench:big-room's 1024×1100 window (every tile on screen)
  against the 1024×700 one (the last row below the fold).
- **A speaker view.** Whoever holds the floor gets a tile two columns wide and two rows high,
  so their video arrives in the high layer while the others' stay small.
- **Audio only** for a member on a weak connection (the server pauses every video stream it
  sends them): bench:big-room's "Audio only" lines.
- **Rooms placed on workers by load** (transports + producers + consumers, then rooms): a new
  room's router goes to the worker carrying least, not the one with the fewest rooms.
  Before/after: bench:placement below, on two workers with a busy room of 12, a quiet room of
  one and a second busy room of 12: by router count the second busy room lands beside the
  first (one core doing all the work), by load beside the quiet one.
${VIEWS_BEFORE_AFTER}
`;
}

async function main(): Promise<void> {
  const [members, maxRooms, videoKbps] = process.argv.slice(2).map(Number);
  const report = await capacity({ ...(members ? { members } : {}), ...(maxRooms ? { maxRooms } : {}), ...(videoKbps ? { videoKbps } : {}) });
  // The same at half the room size, to show how the figures grow with members per room.
  const smaller = await capacity({ members: Math.max(2, Math.floor(report.members / 2)), maxRooms: 4 * (maxRooms || 10), videoKbps: report.videoKbps });
  const summaries: Others['summaries'] = [];
  for (const [name, title, args] of [
    ['join', 'Join → first remote video frame', ['6']],
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
    summaries.push({ name: title, command: `npm run bench:${name}${args.length ? ` -- ${args.join(' ')}` : ''}`, text: await benchSummary(name, [...args]) });
  }
  process.stdout.write('measuring the room page and the install…\n');
  const others: Others = { summaries, page: await roomPageWeight(), install: await installTimes() };
  const date = new Date().toISOString().slice(0, 10);
  const docs = path.join(repoRoot, 'docs');
  await writeFile(path.join(docs, 'performance.md'), `${markdown(report, date)}\n${growthMarkdown([smaller, report])}\n${othersMarkdown(others)}`);
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
