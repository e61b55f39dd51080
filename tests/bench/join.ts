/*
 * bench:join — a facilitator creates a session on the start page, enters it and turns
 * auto-admit on; then N-1 members come in one after another through the invite link (name,
 * privacy, agreement). For each member it prints the time from clicking "I agree" (the last
 * step of joining) to the first remote video frame decoded; then median, p95 and the
 * mediasoup worker CPU time used.
 *   npm run bench:join -- [members=4]
 * All members are pages of one headless Chromium on this machine, so with many members the
 * browsers' encoding and decoding (not the SFU) use up the cores: the load average is printed.
 * Four pages already take ~1.8 of this machine's 2 cores (each encodes two simulcast layers and
 * decodes the others, all end-to-end encrypted); with six, a late joiner's page can wait a
 * minute for a core, so the default is four. A room of 12 is bench:big-room's.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { createRoom, enterAsFacilitator, fillEntryForm, launchChromium, newMember, setAutoAdmit, type Member } from '../support/browser.js';
import { startProductionServer } from '../support/prod-server.js';
import { quantile } from './measure.js';

const members = Number(process.argv[2] ?? 4);
const TICKS_PER_SECOND = 100; // Linux USER_HZ

/** User + system CPU milliseconds of the server's mediasoup-worker children, from /proc. */
function workerCpuMs(serverPid: number): number {
  let pids: string[] = [];
  try {
    pids = execFileSync('pgrep', ['-P', String(serverPid), 'mediasoup-worke'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return NaN;
  }
  return pids.reduce((sum, pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return sum + ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  }, 0);
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}


interface JoinTiming {
  /** Click → the room says "joined" (admission, device, transports, produce). */
  joinedMs: number;
  /** Click → first remote video frame presented. */
  firstFrameMs: number;
}

/**
 * Enter with the invite link up to the agreement, then click "I agree" and wait, inside the
 * page, for the first remote video frame: a requestVideoFrameCallback on each remote tile's
 * video, with a slow getStats poll as a fallback, so the measurement itself adds little load.
 */
async function timedJoin(member: Member, inviteUrl: string, name: string): Promise<JoinTiming> {
  const { page } = member;
  await page.goto(inviteUrl);
  await fillEntryForm(page, name);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('main[data-status="agreement"]').waitFor();
  await page.getByRole('button', { name: 'I agree' }).waitFor();
  return page.evaluate(
    () =>
      new Promise<JoinTiming>((resolve, reject) => {
        const button = [...document.querySelectorAll('button')].find((b) => b.textContent === 'I agree')!;
        const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
        const start = performance.now();
        let joinedMs = NaN;
        let frameMs = NaN;
        const maybeDone = () => {
          if (Number.isNaN(joinedMs) || Number.isNaN(frameMs)) return;
          observer.disconnect();
          clearInterval(poll);
          resolve({ joinedMs, firstFrameMs: frameMs });
        };
        const onFrame = () => {
          if (Number.isNaN(frameMs)) frameMs = performance.now() - start;
          maybeDone();
        };
        const watched = new WeakSet<HTMLVideoElement>();
        const watch = () => {
          if (Number.isNaN(joinedMs) && document.querySelector('main[data-status="joined"]')) joinedMs = performance.now() - start;
          for (const video of document.querySelectorAll<HTMLVideoElement>('[data-testid="peer-tile"] video')) {
            if (watched.has(video)) continue;
            watched.add(video);
            video.requestVideoFrameCallback(onFrame);
          }
          maybeDone();
        };
        const observer = new MutationObserver(watch);
        observer.observe(document.body, { subtree: true, childList: true, attributes: true });
        const poll = setInterval(async () => {
          for (const pc of pcs) {
            (await pc.getStats()).forEach((r: Record<string, unknown>) => {
              if (r['type'] === 'inbound-rtp' && r['kind'] === 'video' && Number(r['framesDecoded'] ?? 0) > 0) onFrame();
            });
          }
          if (performance.now() - start > 60_000) reject(new Error('no remote video frame within 60 s'));
        }, 100);
        button.click();
        watch();
      }),
  );
}

async function main(): Promise<void> {
  // The browser first: a machine without one must not be left with a server running.
  const browser = await launchChromium();
  const server = await startProductionServer({ LOG_LEVEL: 'warn' });
  try {
    const facilitator = await newMember(browser, server.url);
    const opened: Member[] = [facilitator];
    const { facilitatorUrl, inviteUrl } = await createRoom(facilitator, 'Bench group');
    await enterAsFacilitator(facilitator, facilitatorUrl, 'Member 1');
    await setAutoAdmit(facilitator.page, true);
    const cpuStart = workerCpuMs(server.child.pid!);
    const machineStart = machineCpu();
    const wallStart = Date.now();
    const times: number[] = [];
    for (let i = 2; i <= members; i++) {
      const member = await newMember(browser, server.url);
      opened.push(member);
      const { joinedMs, firstFrameMs } = await timedJoin(member, inviteUrl, `Member ${i}`);
      times.push(firstFrameMs);
      process.stdout.write(
        `member ${i}: "I agree" → in the room ${joinedMs.toFixed(0)} ms, first remote video frame ${firstFrameMs.toFixed(0)} ms (load average ${os.loadavg()[0]!.toFixed(1)})\n`,
      );
    }
    const joinCpu = workerCpuMs(server.child.pid!) - cpuStart;
    const machineEnd = machineCpu();
    const machineBusy = (machineEnd.busy - machineStart.busy) / (machineEnd.total - machineStart.total);
    const joinWall = Date.now() - wallStart;
    const steadyStart = workerCpuMs(server.child.pid!);
    await new Promise((r) => setTimeout(r, 10_000));
    const steadyCpu = workerCpuMs(server.child.pid!) - steadyStart;

    const sorted = [...times].sort((a, b) => a - b);
    process.stdout.write(
      [
        '',
        `bench:join — a facilitator and ${members - 1} members (auto-admit) in one room, headless Chromium, loopback, 1 mediasoup worker`,
        `  "I agree" → first remote video frame: median ${quantile(sorted, 0.5).toFixed(0)} ms, p95 ${quantile(sorted, 0.95).toFixed(0)} ms, min ${sorted[0]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms (n=${times.length})`,
        `  worker CPU during the joins: ${joinCpu.toFixed(0)} ms over ${(joinWall / 1000).toFixed(1)} s wall; the whole machine (${os.cpus().length} cores, mostly Chromium) was ${(machineBusy * 100).toFixed(0)} % busy`,
        `  worker CPU with ${members} members sending for 10 s: ${steadyCpu.toFixed(0)} ms (${((steadyCpu / 10_000) * 100).toFixed(1)} % of one core)`,
        '',
      ].join('\n'),
    );
  } finally {
    await browser.close();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:join failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
