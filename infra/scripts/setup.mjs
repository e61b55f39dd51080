#!/usr/bin/env node
// Make a checkout runnable: dependencies, the mediasoup worker (built from Debian packages,
// cached), the TypeScript build and the web client's production build. Each step is skipped
// when already up to date, so `npm start` and `npm test` can call this every time. With
// `--tests` (npm test and the test scripts) it also installs what the tests run for real
// (browsers, Redis, coturn, Caddy; see test-deps.mjs).
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTestDependencies } from './test-deps.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const say = (line) => process.stdout.write(`[setup] ${line}\n`);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });

function ensureDependencies() {
  // npm keeps what it installed in node_modules/.package-lock.json: a lock file changed since
  // (a pull that added a dependency) means installing again.
  const installed = path.join(root, 'node_modules', '.package-lock.json');
  const fresh = existsSync(path.join(root, 'node_modules', 'mediasoup', 'package.json')) && existsSync(installed);
  if (fresh && statSync(installed).mtimeMs >= statSync(path.join(root, 'package-lock.json')).mtimeMs) return;
  say('installing npm dependencies');
  run('npm', ['install', '--no-audit', '--no-fund']);
}

function ensureMediasoupWorker() {
  if (process.env.MEDIASOUP_WORKER_BIN) return; // the operator brings their own
  const require = createRequire(path.join(root, 'apps', 'signal', 'package.json'));
  // mediasoup's exports map hides package.json; its entry is node/lib/index.js.
  const pkgDir = path.resolve(path.dirname(require.resolve('mediasoup')), '..', '..');
  const { version } = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const target = path.join(pkgDir, 'worker', 'out', 'Release', 'mediasoup-worker');
  const cacheDir = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'group-room');
  const cached = path.join(cacheDir, `mediasoup-worker-${version}`);
  mkdirSync(cacheDir, { recursive: true });
  // The build script returns at once when its cache key (version + patches) still matches.
  run('bash', [path.join(root, 'infra', 'mediasoup', 'build-worker.sh'), pkgDir, cached]);
  if (!existsSync(target) || statSync(target).mtimeMs < statSync(cached).mtimeMs) {
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(cached, target);
    chmodSync(target, 0o755);
    say(`mediasoup worker installed at ${path.relative(root, target)}`);
  }
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === '.next' || entry.name === 'dist') continue;
    const full = path.join(dir, entry.name);
    if (entry.isFile() && entry.name.endsWith('.test.ts')) continue;
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

function ensureBuild() {
  run(path.join(root, 'node_modules', '.bin', 'tsc'), ['-b']);
  const buildId = path.join(root, 'apps', 'web', '.next', 'BUILD_ID');
  const sources = Math.max(newestMtime(path.join(root, 'apps', 'web')), newestMtime(path.join(root, 'packages', 'shared', 'src')));
  if (existsSync(buildId) && statSync(buildId).mtimeMs >= sources) return;
  say('building the web client (next build)');
  run('npm', ['run', 'build', '-w', 'apps/web']);
}

ensureDependencies();
if (process.argv.includes('--tests')) await ensureTestDependencies();
ensureMediasoupWorker();
ensureBuild();
