import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { launchChromium } from '../support/browser.js';
import { measureRoomPage, type PageWeight } from '../support/page-weight.js';
import { repoRoot, startProductionServer } from '../support/prod-server.js';

/*
 * The figures the other benches measure, run from `npm run bench` so they land in one report:
 * each bench runs as its own process and its printed summary is kept as it is. Beside them, two
 * measured here: the room page's JavaScript as the browser loads it, and the install time of a
 * clean clone (cold: an empty npm cache; cached: the machine's).
 */

const run = promisify(execFile);

/** Run `tests/bench/<name>.ts` and keep its summary (from the line starting `bench:`). */
export async function benchSummary(name: string, args: string[]): Promise<string> {
  const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(tsx, [path.join(repoRoot, `tests/bench/${name}.ts`), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`bench:${name} exited with ${code}:\n${text.slice(-2000)}`))));
  });
  const lines = output.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`bench:${name}`));
  return (start >= 0 ? lines.slice(start) : lines.slice(-12)).join('\n').trim();
}

export type { PageWeight } from '../support/page-weight.js';

/** The room page's scripts as a browser loads them from the production build (tests/support/page-weight.ts). */
export async function roomPageWeight(): Promise<PageWeight> {
  const server = await startProductionServer({ LOG_LEVEL: 'warn' });
  const browser = await launchChromium();
  try {
    return await measureRoomPage(browser, server.url);
  } finally {
    await browser.close();
    await server.stop();
  }
}

/** Seconds for `npm install` in a clean clone: with an empty npm cache, then with the machine's. */
export async function installTimes(): Promise<{ coldSeconds: number; cachedSeconds: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'group-room-install-'));
  const emptyCache = await mkdtemp(path.join(tmpdir(), 'group-room-npm-cache-'));
  try {
    await run('git', ['clone', '-q', repoRoot, path.join(dir, 'repo')]);
    const install = async (extra: string[]) => {
      const started = performance.now();
      await run('npm', ['install', '--no-audit', '--no-fund', ...extra], { cwd: path.join(dir, 'repo'), maxBuffer: 64 * 1024 * 1024 });
      return (performance.now() - started) / 1000;
    };
    const coldSeconds = await install(['--cache', emptyCache]);
    await rm(path.join(dir, 'repo/node_modules'), { recursive: true, force: true });
    const cachedSeconds = await install([]);
    return { coldSeconds, cachedSeconds };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(emptyCache, { recursive: true, force: true });
  }
}
