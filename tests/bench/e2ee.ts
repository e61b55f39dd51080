/*
 * npm run bench:e2ee
 *
 * What end-to-end encryption costs, side by side in one run, headless Chromium on loopback:
 *
 * 1. "I agree" → first frame of the facilitator's video decoded, with the product's encryption
 *    ('encrypt') and with its transforms taken out ('none'): two rooms in one browser, one per
 *    mode, each with its facilitator in it and auto-admit on; a new member joins one room then
 *    the other, 5 times each (alternating, so both see the same background), and leaves.
 * 2. Chromium CPU per member for 'encrypt', 'passthrough' and 'none': a fresh browser per mode
 *    with 4 pages (1 facilitator + 3 members) sending camera and mic and receiving everyone; the
 *    CPU time of that browser's process tree over 20 s after a warm-up.
 * 3. The frame worker's time per frame (its own p50 and p95, asked with {op:'stats'}) on each
 *    page of the 'encrypt' CPU run.
 * 4. A facilitator removes a member (a Node member taking part in the key handshake,
 *    tests/support/key-holder.ts) from a room of a facilitator and 2 browser members, 3 times:
 *    from the media tap, click → each remaining sender's first audio packet under the new
 *    generation; and click → each page showing the new key.
 *
 * Figures only, no assertions on time. Other sessions may be using the same 2 cores: the load
 * average is printed with the results.
 */
import { closeSync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeHeader, parseEnvelope, refOf, SFRAME_TAG_LENGTH } from '@group-room/shared/e2ee';
import type { Browser, Page } from 'playwright-core';
import type { FromWorker } from '../../apps/web/lib/e2ee/worker-protocol.js';
import { secretFromHash } from '../../apps/web/lib/e2ee/link-secrets.js';
import {
  createRoom,
  enterAdmittedAutomatically,
  enterAsFacilitator,
  eventually,
  fillEntryForm,
  inboundByPeer,
  launchChromium,
  newMember,
  pause,
  setAutoAdmit,
  type Member,
} from '../support/browser.js';
import { transformModeScript, type TransformMode } from '../support/e2ee-modes.js';
import { KeyHolder } from '../support/key-holder.js';
import { startProductionServer } from '../support/prod-server.js';
import { rtpPayload, type TappedPacket } from '../support/rtp-envelope.js';
import { quantile, say } from './measure.js';

const JOINS_PER_MODE = 5;
const CPU_MEMBERS = 3;
const CPU_WARMUP_MS = 5_000;
const CPU_WINDOW_MS = 20_000;
const REMOVALS = 3;
const FACILITATOR = 'Facilitator';
const TICKS_PER_SECOND = 100; // Linux USER_HZ

type WorkerStats = Omit<Extract<FromWorker, { op: 'stats' }>, 'op'>;

// ---------------------------------------------------------------------------------------------
// In the page

/** Record every Worker the page makes (the product keeps its frame worker to itself). */
const RECORD_WORKERS = `(() => {
  const Native = window.Worker;
  const made = [];
  window.__workers = made;
  window.Worker = class extends Native {
    constructor(url, options) {
      super(url, options);
      if (options && options.name === 'frame-crypto') made.push(this);
    }
  };
})();`;

async function benchMember(browser: Browser, url: string, mode: TransformMode): Promise<Member> {
  const member = await newMember(browser, url);
  await member.context.addInitScript(RECORD_WORKERS);
  await member.context.addInitScript(transformModeScript(mode));
  return member;
}

/** The frame worker's answer to {op:'stats'}, for each frame worker of the page. */
async function workerStats(page: Page): Promise<WorkerStats[]> {
  const replies = await page.evaluate(() => {
    const workers = (window as unknown as { __workers?: Worker[] }).__workers ?? [];
    return Promise.all(
      workers.map(
        (worker) =>
          new Promise<unknown>((resolve) => {
            const timer = setTimeout(() => resolve(null), 3000);
            const onMessage = (event: MessageEvent) => {
              if ((event.data as { op?: string } | null)?.op !== 'stats') return;
              worker.removeEventListener('message', onMessage);
              clearTimeout(timer);
              resolve(event.data);
            };
            worker.addEventListener('message', onMessage);
            worker.postMessage({ op: 'stats' });
          }),
      ),
    );
  });
  return replies.filter((r): r is WorkerStats => r !== null);
}

const sumStats = (all: WorkerStats[]) =>
  all.reduce((s, w) => ({ encrypted: s.encrypted + w.encrypted, decrypted: s.decrypted + w.decrypted, dropped: s.dropped + w.dropped }), { encrypted: 0, decrypted: 0, dropped: 0 });

/** The page's "gen.step" (the key it sends under), or null before it has one. */
const keyOn = (page: Page) =>
  page.evaluate(() => document.querySelector('[data-testid="encryption-ready"]')?.getAttribute('data-key') ?? null);

// ---------------------------------------------------------------------------------------------
// CPU of this process's browsers, from /proc

interface Proc {
  ppid: number;
  comm: string;
  /** utime + stime + cutime + cstime (children that ended inside the tree are counted too). */
  ticks: number;
}

function procTable(): Map<number, Proc> {
  const table = new Map<number, Proc>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), { ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {
      // ended while we looked
    }
  }
  return table;
}

/** CPU seconds of every Chromium launched by this process, and all its descendants. */
function browserCpuSeconds(): { seconds: number; processes: number } {
  const table = procTable();
  const children = new Map<number, number[]>();
  for (const [pid, p] of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const queue = (children.get(process.pid) ?? []).filter((pid) => table.get(pid)!.comm.startsWith('chrom'));
  let ticks = 0;
  let processes = 0;
  while (queue.length) {
    const pid = queue.pop()!;
    ticks += table.get(pid)?.ticks ?? 0;
    processes++;
    queue.push(...(children.get(pid) ?? []));
  }
  return { seconds: ticks / TICKS_PER_SECOND, processes };
}

// ---------------------------------------------------------------------------------------------
// 1. Join → first decrypted frame

interface JoinSample {
  joinedMs: number;
  frameMs: number;
}

/**
 * Up to the agreement, then, inside the page: click "I agree" and poll getStats every 50 ms
 * until the inbound video of `from`'s tile has framesDecoded > 0.
 */
async function timedJoin(member: Member, inviteUrl: string, name: string, from: string): Promise<JoinSample> {
  const { page } = member;
  await page.goto(inviteUrl);
  await fillEntryForm(page, name);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('main[data-status="agreement"]').waitFor();
  await page.getByRole('button', { name: 'I agree' }).waitFor();
  return page.evaluate(
    (peer) =>
      new Promise<JoinSample>((resolve, reject) => {
        const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
        const button = [...document.querySelectorAll('button')].find((b) => b.textContent === 'I agree')!;
        const start = performance.now();
        let joinedMs = NaN;
        let frameMs = NaN;
        const finish = () => {
          if (Number.isNaN(joinedMs) || Number.isNaN(frameMs)) return;
          observer.disconnect();
          resolve({ joinedMs, frameMs });
        };
        // The status can turn "joined" after the first frame (it follows "connecting").
        const observer = new MutationObserver(() => {
          if (Number.isNaN(joinedMs) && document.querySelector('main[data-status="joined"]')) joinedMs = performance.now() - start;
          finish();
        });
        observer.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
        let busy = false;
        const poll = setInterval(async () => {
          if (busy) return;
          busy = true;
          try {
            const tile = [...document.querySelectorAll<HTMLElement>('[data-testid="peer-tile"]')].find((t) => t.dataset['peerName'] === peer);
            const stream = tile?.querySelector('video')?.srcObject;
            if (stream instanceof MediaStream) {
              const ids = new Set(stream.getVideoTracks().map((t) => t.id));
              for (const pc of pcs) {
                if (pc.connectionState === 'closed') continue;
                let decoded = false;
                (await pc.getStats()).forEach((r: Record<string, unknown>) => {
                  if (r['type'] === 'inbound-rtp' && ids.has(String(r['trackIdentifier'])) && Number(r['framesDecoded'] ?? 0) > 0) decoded = true;
                });
                if (decoded) {
                  frameMs = performance.now() - start;
                  clearInterval(poll);
                  return finish();
                }
              }
            }
            if (performance.now() - start > 60_000) {
              clearInterval(poll);
              observer.disconnect();
              reject(new Error(`no video frame from ${peer} decoded within 60 s`));
            }
          } finally {
            busy = false;
          }
        }, 50);
        button.click();
        setTimeout(() => {
          if (!Number.isNaN(frameMs) && Number.isNaN(joinedMs)) reject(new Error('never "joined"'));
        }, 60_000);
      }),
    from,
  );
}

async function leave(member: Member): Promise<void> {
  await member.page
    .getByRole('button', { name: 'Leave', exact: true })
    .click({ timeout: 5000 })
    .catch(() => undefined);
  await member.page.locator('main:not([data-status="joined"])').waitFor({ timeout: 5000 }).catch(() => undefined);
  await member.context.close();
}

async function joinPhase(): Promise<Record<'encrypt' | 'none', JoinSample[]>> {
  const browser = await launchChromium();
  const server = await startProductionServer({ LOG_LEVEL: 'warn' });
  try {
    const modes = ['encrypt', 'none'] as const;
    const invites = {} as Record<(typeof modes)[number], string>;
    for (const mode of modes) {
      const host = await benchMember(browser, server.url, mode);
      const { facilitatorUrl, inviteUrl } = await createRoom(host, `Join bench (${mode})`);
      await enterAsFacilitator(host, facilitatorUrl, FACILITATOR);
      await setAutoAdmit(host.page, true);
      invites[mode] = inviteUrl;
    }
    await pause(2000);
    const samples: Record<(typeof modes)[number], JoinSample[]> = { encrypt: [], none: [] };
    for (let round = 1; round <= JOINS_PER_MODE; round++) {
      for (const mode of round % 2 ? modes : [...modes].reverse()) {
        const member = await benchMember(browser, server.url, mode);
        const sample = await timedJoin(member, invites[mode], `Member ${round}`, FACILITATOR);
        samples[mode].push(sample);
        say(`  join ${round} (${mode}): "I agree" → in the room ${sample.joinedMs.toFixed(0)} ms, → first frame of ${FACILITATOR}'s video decoded ${sample.frameMs.toFixed(0)} ms`);
        await leave(member);
        // The leader makes a new generation when someone leaves; let it settle before the next join.
        await pause(2500);
      }
    }
    return samples;
  } finally {
    await browser.close();
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 2 and 3. CPU per member, worker time per frame

interface CpuRun {
  cpuShare: number;
  processes: number;
  seconds: number;
  /** Video frames decoded per second, per page (from all the others together). */
  fps: number;
  /** Video frames encoded per second, per page (all simulcast layers). */
  encodedFps: number;
  /** The encoders' qualityLimitationReason, per simulcast layer, at the end. */
  limits: string;
  kbps: number;
  heights: string;
  /** Frames through the frame workers during the window, per second, all pages. */
  workerFps: number;
  dropped: number;
  workers: WorkerStats[];
  load: number;
}

async function decodedTotals(pages: Page[]): Promise<{ frames: number; bytes: number; heights: Map<number, number> }> {
  let frames = 0;
  let bytes = 0;
  const heights = new Map<number, number>();
  for (const page of pages) {
    for (const s of await inboundByPeer(page)) {
      bytes += s.bytesReceived;
      if (s.kind !== 'video') continue;
      frames += s.framesDecoded;
      heights.set(s.frameHeight, (heights.get(s.frameHeight) ?? 0) + 1);
    }
  }
  return { frames, bytes, heights };
}

/** Video frames the pages have encoded (all simulcast layers), and why their encoders hold back, if they do. */
async function encodedTotals(pages: Page[]): Promise<{ frames: number; limits: string }> {
  let frames = 0;
  const limits = new Map<string, number>();
  for (const page of pages) {
    const layers = await page.evaluate(async () => {
      const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
      const out: { frames: number; limit: string }[] = [];
      for (const pc of pcs) {
        if (pc.connectionState === 'closed') continue;
        (await pc.getStats()).forEach((r: Record<string, unknown>) => {
          if (r['type'] === 'outbound-rtp' && r['kind'] === 'video') out.push({ frames: Number(r['framesEncoded'] ?? 0), limit: String(r['qualityLimitationReason'] ?? '?') });
        });
      }
      return out;
    });
    for (const layer of layers) {
      frames += layer.frames;
      limits.set(layer.limit, (limits.get(layer.limit) ?? 0) + 1);
    }
  }
  return { frames, limits: [...limits].map(([reason, n]) => `${n}× ${reason}`).join(' ') };
}

async function cpuRun(server: { url: string }, mode: TransformMode): Promise<CpuRun> {
  const browser = await launchChromium();
  try {
    const host = await benchMember(browser, server.url, mode);
    const { facilitatorUrl, inviteUrl } = await createRoom(host, `CPU bench (${mode})`);
    await enterAsFacilitator(host, facilitatorUrl, FACILITATOR);
    await setAutoAdmit(host.page, true);
    const members: Member[] = [host];
    const names = [FACILITATOR];
    for (let i = 1; i <= CPU_MEMBERS; i++) {
      const member = await benchMember(browser, server.url, mode);
      await enterAdmittedAutomatically(member, inviteUrl, `Member ${i}`);
      members.push(member);
      names.push(`Member ${i}`);
    }
    const pages = members.map((m) => m.page);
    // Everyone decodes everyone's video.
    await eventually(async () => {
      for (const [i, page] of pages.entries()) {
        const samples = await inboundByPeer(page);
        for (const other of names.filter((_, j) => j !== i)) {
          if (!samples.some((s) => s.peerName === other && s.kind === 'video' && s.framesDecoded > 0)) throw new Error(`${names[i]} decodes no video from ${other}`);
        }
      }
    }, 60_000);
    await pause(CPU_WARMUP_MS);
    const statsBefore = sumStats((await Promise.all(pages.map(workerStats))).flat());
    const decodedBefore = await decodedTotals(pages);
    const encodedBefore = await encodedTotals(pages);
    const cpuBefore = browserCpuSeconds();
    const t0 = performance.now();
    await pause(CPU_WINDOW_MS);
    const cpuAfter = browserCpuSeconds();
    const seconds = (performance.now() - t0) / 1000;
    const load = os.loadavg()[0]!;
    const decodedAfter = await decodedTotals(pages);
    const encodedAfter = await encodedTotals(pages);
    const workers = (await Promise.all(pages.map(workerStats))).flat();
    const statsAfter = sumStats(workers);
    const heights = [...decodedAfter.heights].sort((a, b) => a[0] - b[0]).map(([h, n]) => `${n}×${h}p`).join(' ');
    return {
      cpuShare: (cpuAfter.seconds - cpuBefore.seconds) / seconds,
      processes: cpuAfter.processes,
      seconds,
      fps: (decodedAfter.frames - decodedBefore.frames) / seconds / pages.length,
      encodedFps: (encodedAfter.frames - encodedBefore.frames) / seconds / pages.length,
      limits: encodedAfter.limits,
      kbps: ((decodedAfter.bytes - decodedBefore.bytes) * 8) / 1000 / seconds / pages.length,
      heights,
      workerFps: (statsAfter.encrypted + statsAfter.decrypted - statsBefore.encrypted - statsBefore.decrypted) / seconds,
      dropped: statsAfter.dropped - statsBefore.dropped,
      workers,
      load,
    };
  } finally {
    await browser.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Removal → first frame under the new key

/** The key generation of a tapped Opus packet's SFrame envelope, or null. */
function audioGen(packet: TappedPacket): number | null {
  const payload = rtpPayload(Buffer.from(packet.rtp, 'hex'));
  if (!payload || payload.length === 0) return null;
  const bytes = new Uint8Array(payload);
  let header = parseEnvelope(bytes, 'opus')?.header ?? null;
  if (!header) {
    // An empty frame (DTX) is sealed with no clear prefix: header and tag only.
    const bare = decodeHeader(bytes);
    header = bare && bytes.length === bare.length + SFRAME_TAG_LENGTH ? bare : null;
  }
  return header ? (refOf(header.kid)?.gen ?? null) : null;
}

/** The whole lines appended to the tap file since `offset`, and where the next read starts. */
function readTapFrom(file: string, offset: number): { packets: TappedPacket[]; next: number } {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const buffer = Buffer.alloc(Math.max(0, size - offset));
    readSync(fd, buffer, 0, buffer.length, offset);
    const end = buffer.lastIndexOf(0x0a) + 1;
    const packets = buffer
      .subarray(0, end)
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as TappedPacket);
    return { packets, next: offset + end };
  } finally {
    closeSync(fd);
  }
}

const tapSize = (file: string) => {
  const fd = openSync(file, 'r');
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
};

/** From now on, every value the page's encryption status takes, with the time (ms since the epoch). */
async function watchKey(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __keyLog: { t: number; key: string | null }[]; __keyObserver?: MutationObserver };
    w.__keyObserver?.disconnect();
    const log: { t: number; key: string | null }[] = [];
    w.__keyLog = log;
    const note = () => {
      const key = document.querySelector('[data-testid="encryption-ready"]')?.getAttribute('data-key') ?? null;
      if (log.at(-1)?.key !== key) log.push({ t: Date.now(), key });
    };
    note();
    w.__keyObserver = new MutationObserver(note);
    w.__keyObserver.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-key'] });
  });
}

const keyLog = (page: Page) => page.evaluate(() => (window as unknown as { __keyLog: { t: number; key: string | null }[] }).__keyLog);

interface RemovalTrial {
  /** Click → first audio packet under the new generation, per remaining sender (by name). */
  firstPacket: Map<string, number>;
  /** Click → the page shows the new key, per page (by name). */
  shown: Map<string, number>;
  /** Frames each remaining page's worker dropped from just before the click to the end. */
  dropped: Map<string, number>;
  oldGen: string;
  newGen: string;
}

async function removalPhase(): Promise<RemovalTrial[]> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'bench-e2ee-'));
  const tapFile = path.join(scratch, 'tap.jsonl');
  const browser = await launchChromium();
  const server = await startProductionServer({ LOG_LEVEL: 'warn', MEDIA_TAP_FILE: tapFile });
  const holders: KeyHolder[] = [];
  try {
    const host = await benchMember(browser, server.url, 'encrypt');
    const { facilitatorUrl, inviteUrl } = await createRoom(host, 'Removal bench');
    await enterAsFacilitator(host, facilitatorUrl, FACILITATOR);
    await setAutoAdmit(host.page, true);
    const people: { name: string; page: Page }[] = [{ name: FACILITATOR, page: host.page }];
    for (const name of ['Member A', 'Member B']) {
      const member = await benchMember(browser, server.url, 'encrypt');
      await enterAdmittedAutomatically(member, inviteUrl, name);
      people.push({ name, page: member.page });
    }
    const url = new URL(inviteUrl);
    const roomId = url.pathname.split('/').pop()!;
    const token = new URLSearchParams(url.hash.slice(1)).get('k')!;
    const secret = secretFromHash(url.hash)!;
    const trials: RemovalTrial[] = [];
    let tapOffset = 0;
    for (let trial = 1; trial <= REMOVALS; trial++) {
      const zedName = `Zed ${trial}`;
      const zed = await KeyHolder.enter(server.url, roomId, token, secret, zedName);
      holders.push(zed);
      // Zed has a key, and every page sends under the same one.
      await eventually(async () => {
        if (!zed.sink.used.length) throw new Error(`${zedName} has no key yet`);
        const keys = await Promise.all(people.map((p) => keyOn(p.page)));
        if (!keys[0] || keys.some((k) => k !== keys[0])) throw new Error(`pages disagree on the key: ${keys.join(' ')}`);
      }, 30_000);
      await pause(1500);
      const idToName = new Map((zed.view?.members ?? []).map((m) => [m.id, m.displayName]));
      const oldGens = new Set<number>([...zed.sink.epochs.keys()]);
      const before = await Promise.all(people.map((p) => keyOn(p.page)));
      for (const key of before) if (key) oldGens.add(Number(key.split('.')[0]));
      await Promise.all(people.map((p) => watchKey(p.page)));
      const droppedOn = async () => Promise.all(people.map(async (p) => sumStats(await workerStats(p.page)).dropped));
      const droppedBefore = await droppedOn();
      tapOffset = Math.max(tapOffset, tapSize(tapFile));

      const page = host.page;
      await page.getByRole('button', { name: `Remove ${zedName}`, exact: true }).click();
      const confirm = page.locator('.confirm').getByRole('button', { name: `Remove ${zedName}`, exact: true });
      await confirm.waitFor();
      const clickedAt = await confirm.evaluate((button) => {
        const t = Date.now();
        (button as HTMLButtonElement).click();
        return t;
      });

      const isNew = (key: string | null) => key !== null && !oldGens.has(Number(key.split('.')[0]));
      await eventually(async () => {
        for (const p of people) if (!(await keyLog(p.page)).some((e) => isNew(e.key))) throw new Error(`${p.name} shows no new key`);
      }, 15_000, 100);
      await pause(1500); // the tap's last lines
      const shown = new Map<string, number>();
      let newGen = '';
      for (const p of people) {
        const entry = (await keyLog(p.page)).find((e) => isNew(e.key))!;
        shown.set(p.name, entry.t - clickedAt);
        newGen = entry.key!;
      }
      const { packets, next } = readTapFrom(tapFile, tapOffset);
      tapOffset = next;
      const firstPacket = new Map<string, number>();
      for (const packet of packets) {
        if (packet.kind !== 'audio' || packet.t < clickedAt) continue;
        const gen = audioGen(packet);
        const name = idToName.get(packet.peerId) ?? packet.peerId;
        if (gen === null || oldGens.has(gen) || firstPacket.has(name)) continue;
        firstPacket.set(name, packet.t - clickedAt);
      }
      const droppedAfter = await droppedOn();
      const dropped = new Map(people.map((p, i) => [p.name, droppedAfter[i]! - droppedBefore[i]!]));
      trials.push({ firstPacket, shown, dropped, oldGen: before[0] ?? '?', newGen });
      const fmtCount = (m: Map<string, number>) => people.map((p) => `${p.name} ${m.get(p.name) ?? 0}`).join(', ');
      const fmt = (m: Map<string, number>) => people.map((p) => `${p.name} ${m.has(p.name) ? `${m.get(p.name)} ms` : '—'}`).join(', ');
      say(`  removal ${trial} (key ${before[0]} → ${newGen}): first audio packet under the new key at the SFU: ${fmt(firstPacket)}; page shows it: ${fmt(shown)}; frames dropped by the workers: ${fmtCount(dropped)}`);
      zed.close();
      await pause(1000);
    }
    return trials;
  } finally {
    for (const holder of holders) holder.close();
    await browser.close();
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

const ms = (v: number) => `${v.toFixed(0)} ms`;
const medianMax = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? `${ms(quantile(sorted, 0.5))} / ${ms(sorted.at(-1)!)}` : '—';
};

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => `  ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ')}`);
}

async function main(): Promise<void> {
  const started = performance.now();
  say(`bench:e2ee — headless Chromium (${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}), fake camera and mic, loopback, 1 mediasoup worker, ${os.cpus().length} cores`);
  say('1. joins (a room per mode, facilitator in it, auto-admit on):');
  const joins = await joinPhase();

  say(`2. CPU: 1 facilitator + ${CPU_MEMBERS} members, one fresh browser per mode, ${CPU_WARMUP_MS / 1000} s warm-up, ${CPU_WINDOW_MS / 1000} s window`);
  const cpu = {} as Record<TransformMode, CpuRun>;
  const server = await startProductionServer({ LOG_LEVEL: 'warn' });
  try {
    for (const mode of ['encrypt', 'passthrough', 'none'] as const) {
      const run = await cpuRun(server, mode);
      cpu[mode] = run;
      say(
        `  ${mode}: ${(run.cpuShare * 100).toFixed(0)} % of a core over ${run.seconds.toFixed(1)} s (${run.processes} processes); per page ${run.encodedFps.toFixed(0)} video frames/s encoded (all layers; encoders limited by: ${run.limits}), ${run.fps.toFixed(0)} decoded, ${run.kbps.toFixed(0)} kbit/s in (${run.heights}); frame workers ${run.workerFps.toFixed(0)} frames/s, ${run.dropped} dropped; load average ${run.load.toFixed(1)}`,
      );
    }
  } finally {
    await server.stop();
  }

  say(`3. removals (facilitator + 2 browser members + a Node member removed through the UI; media tap on):`);
  const removals = await removalPhase();

  const pages = CPU_MEMBERS + 1;
  const perMember = (mode: TransformMode) => `${((cpu[mode].cpuShare / pages) * 100).toFixed(1)} %`;
  const encryptWorkers = cpu.encrypt.workers;
  const p50s = encryptWorkers.map((w) => w.p50Micros).sort((a, b) => a - b);
  const p95s = encryptWorkers.map((w) => w.p95Micros).sort((a, b) => a - b);
  const firstPackets = removals.flatMap((r) => [...r.firstPacket.values()]);
  const shown = removals.flatMap((r) => [...r.shown.values()]);
  const rows = [
    ['', 'encrypt', 'passthrough', 'none'],
    [`"I agree" → facilitator's first video frame decoded, median / max (n=${JOINS_PER_MODE})`, medianMax(joins.encrypt.map((s) => s.frameMs)), '—', medianMax(joins.none.map((s) => s.frameMs))],
    ['"I agree" → in the room (status joined), median / max', medianMax(joins.encrypt.map((s) => s.joinedMs)), '—', medianMax(joins.none.map((s) => s.joinedMs))],
    [`Chromium CPU per member, % of a core (${pages} pages)`, perMember('encrypt'), perMember('passthrough'), perMember('none')],
    ['  video frames encoded per page per second (all simulcast layers)', ...(['encrypt', 'passthrough', 'none'] as const).map((m) => cpu[m].encodedFps.toFixed(0))],
    ['  video frames decoded per page per second', ...(['encrypt', 'passthrough', 'none'] as const).map((m) => cpu[m].fps.toFixed(0))],
    [
      '  Chromium CPU ms per video frame encoded or decoded (crude: the encoders adapt to load)',
      ...(['encrypt', 'passthrough', 'none'] as const).map((m) => ((cpu[m].cpuShare * 1000) / ((cpu[m].encodedFps + cpu[m].fps) * pages)).toFixed(1)),
    ],
    ['  frames through the frame workers per second', ...(['encrypt', 'passthrough', 'none'] as const).map((m) => cpu[m].workerFps.toFixed(0))],
    [
      `frame worker time per frame p50 / p95 (median / worst of ${encryptWorkers.length} pages)`,
      encryptWorkers.length ? `${quantile(p50s, 0.5).toFixed(0)} / ${p95s.at(-1)!.toFixed(0)} µs` : '—',
      '—',
      '—',
    ],
    [`removal → each remaining sender's first audio under the new key, median / max (n=${firstPackets.length})`, medianMax(firstPackets), '', ''],
    [`removal → each page shows the new key, median / max (n=${shown.length})`, medianMax(shown), '', ''],
    [`frames dropped by the remaining pages' workers across the ${removals.length} removals`, String(removals.reduce((n, r) => n + [...r.dropped.values()].reduce((a, b) => a + b, 0), 0)), '', ''],
  ];
  say('');
  say(`bench:e2ee — results (${((performance.now() - started) / 1000).toFixed(0)} s; load average now ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  for (const line of table(rows)) say(line);
  say('  frame worker per page (encrypt run): ' + encryptWorkers.map((w) => `p50 ${w.p50Micros.toFixed(0)} µs / p95 ${w.p95Micros.toFixed(0)} µs (${w.samples} frames; ${w.encrypted} enc, ${w.decrypted} dec, ${w.dropped} dropped in all)`).join('; '));
  say('');
  say(
    [
      'method: encrypt = the product as shipped; passthrough = encoded streams piped straight back on the page (no worker, no crypto);',
      'none = no encoded streams at all (tests/support/e2ee-modes.ts). Joins: the click on "I agree" inside the page → getStats every 50 ms',
      "until inbound-rtp framesDecoded > 0 on the facilitator's tile; the two modes alternate, each member leaves before the next. CPU:",
      `utime+stime (+ reaped children) of this process's Chromium tree from /proc/<pid>/stat over the window, / wall time / ${pages} pages (one`,
      'browser: a renderer per page plus the shared browser, GPU, network, audio and capture processes). Worker time: the frame worker\'s',
      "own timer (performance.now around one frame's transform, awaits included, over its last 4096 frames; the page is not cross-origin",
      "isolated, so the timer steps by 100 µs), asked with {op:'stats'} through a wrapped window.Worker. Removal: the click on the",
      'confirming "Remove" (Date.now in the page) → the tap\'s first Opus packet per remaining sender whose SFrame key id names a generation',
      'not used before (the server\'s clock: same machine), and → the page\'s [data-testid=encryption-ready] data-key turning to it.',
    ].join('\n  '),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:e2ee failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
