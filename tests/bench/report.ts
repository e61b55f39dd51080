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
<text x="${pad.left}" y="24" font-size="16">One mediasoup worker's CPU (share of a core) by rooms of ${report.members}, ${report.videoKbps} kbit/s video</text>
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
  `| ${s.rooms} | ${s.streams} | ${s.packetsInPerSec.toFixed(0)} | ${s.packetsOutPerSec.toFixed(0)} | ${(s.loss * 100).toFixed(2)} % | ${s.jitterMs.toFixed(1)} | ${(s.workerCore * 100).toFixed(0)} % | ${(s.workerPerStream * 1e5).toFixed(1)} | ${(s.generatorCore * 100).toFixed(0)} % | ${s.signallingRssMb === undefined ? '–' : s.signallingRssMb.toFixed(0)} | ${s.workerRssMb.toFixed(0)} |`;

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

/** Rooms held per core by room size: how the figures grow with members per room. */
function growthMarkdown(reports: CapacityReport[]): string {
  const line = (r: CapacityReport, name: 'ours' | 'bare') => {
    const s = held(r[name].steps);
    return `| ${r.members} | ${name === 'ours' ? 'ours' : 'bare mediasoup'} | ${s.rooms} | ${s.rooms * r.members} | ${s.streams} | ${s.packetsOutPerSec.toFixed(0)} | ${(s.workerCore * 100).toFixed(0)} % | ${(s.workerPerStream * 1e5).toFixed(1)} |`;
  };
  return `## How it grows with the size of the room

One worker (one core), ${reports[0]!.videoKbps} kbit/s video; the most rooms held at < 1 % loss with the
core not saturated. Forwarded streams grow with members² per room (each of M members receives
2 (M − 1) streams), so halving the room size roughly quadruples the rooms a core carries.

| members per room | | rooms held | people | streams forwarded | packets/s out | worker CPU | per stream (1/100,000 of a core) |
|---|---|---|---|---|---|---|---|
${reports.flatMap((r) => [line(r, 'ours'), line(r, 'bare')]).join('\n')}
`;
}

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
- **Loopback UDP**: ${report.loopback.tool === 'iperf3' ? 'iperf3 (Debian\'s package) sending' : 'Node\'s dgram sending (iperf3 not installed: a lower bound)'} ${report.loopback.packetBytes}-byte
  packets as fast as one core can, another process receiving: what the machine itself moves,
  beneath any SFU (mediasoup has to receive each packet once and send it to every receiver).

### Ours (stopped by ${report.ours.stoppedBy})

${table(report.ours.steps)}

### Bare mediasoup (stopped by ${report.bare.stoppedBy})

${table(report.bare.steps)}

### Beside the machine

Loopback UDP (${report.loopback.tool}): ${report.loopback.sendPerSec.toFixed(0)} packets/s sent by one core,
${report.loopback.receivePerSec.toFixed(0)} received by another. At the most rooms it held (loss ≤ 1 %, core not
saturated) ours forwarded ${held(report.ours.steps).packetsOutPerSec.toFixed(0)} packets/s out, ${((held(report.ours.steps).packetsOutPerSec / report.loopback.sendPerSec) * 100).toFixed(1)} % of what one core sends.

On this 2-core machine the load generator (sending and counting every packet in Node) shares
the machine with the worker and reaches its own core's limit at about the same step as the
worker: the figures near the top are the machine's, not only the SFU's.

Worker CPU per forwarded stream, ours ÷ bare mediasoup, at the most rooms both held:
${(() => {
  const common = Math.min(held(report.ours.steps).rooms, held(report.bare.steps).rooms);
  const o = report.ours.steps.find((s) => s.rooms === common)!;
  const b = report.bare.steps.find((s) => s.rooms === common)!;
  return `${(o.workerPerStream / b.workerPerStream).toFixed(2)} (${common} rooms)`;
})()}.

![worker CPU by rooms](capacity.png)

## Not measured yet

- **Janus VideoRoom** side by side: Debian's \`janus\` takes publishers over WebRTC only, so
  the synthetic plain-RTP members cannot drive it; a WebRTC load generator is needed.
- **Simulcast or SVC**, and the other optimisations the issue lists (consumer layers by tile
  size, pausing hidden tiles, batching views): not built yet, so no before/after figures.
  Built: an **audio-only mode** for a member on a weak connection (the server pauses every
  video stream it sends them); its before/after is in the room-of-12 figures below.
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
    ['mute', 'Facilitator mute → silence at the receivers', ['20', '3']],
    ['commands', 'Room commands per second through Redis, beside bare Redis round trips', []],
    ['resume', 'Back in the seat after a drop, a reload, a killed worker', ['3']],
    ['flood', 'Mute → silence with and without a flood', ['10', '3']],
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
