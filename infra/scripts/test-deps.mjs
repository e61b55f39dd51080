// What the tests run for real, installed from Debian's packages when missing (as the worker's
// build packages are), and the Redis every machine here has on 127.0.0.1:6379, started when
// absent. Called by `setup.mjs --tests`, so `npm test` on a fresh Debian machine needs nothing
// done by hand.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const say = (line) => process.stdout.write(`[setup] ${line}\n`);

/** Each thing the tests need: how to tell it is there, and the Debian package that brings it. */
const NEEDS = [
  { what: 'Chromium (browser tests)', present: () => existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'), pkg: 'chromium' },
  { what: 'Firefox ESR (the Firefox browser test)', present: () => existsSync(process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr'), pkg: 'firefox-esr' },
  { what: 'Redis', present: () => onPath('redis-server') && onPath('redis-cli'), pkg: 'redis-server' },
  { what: 'coturn (the TURN relay the stack runs)', present: () => onPath('turnserver') && onPath('turnutils_uclient'), pkg: 'coturn' },
  { what: 'Caddy (the TLS proxy the stack runs)', present: () => onPath('caddy'), pkg: 'caddy' },
  { what: 'openssl (test certificates)', present: () => onPath('openssl'), pkg: 'openssl' },
  { what: 'iproute2 (network namespaces for the Firefox test)', present: () => onPath('ip') || existsSync('/usr/sbin/ip') || existsSync('/sbin/ip'), pkg: 'iproute2' },
];

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function aptInstall(packages) {
  const root = process.getuid?.() === 0;
  const sudo = !root && onPath('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  if (!root && !sudo) {
    throw new Error(`missing Debian packages: ${packages.join(' ')} (run as root, or: sudo apt-get install -y ${packages.join(' ')})`);
  }
  const prefix = root ? [] : ['sudo', '-n'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args) => execFileSync(prefix[0] ?? args[0], prefix.length ? [...prefix.slice(1), ...args] : args.slice(1), { stdio: 'inherit', env });
  say(`installing Debian packages: ${packages.join(' ')}`);
  run(['apt-get', 'update', '-q']);
  run(['apt-get', 'install', '-y', '-q', ...packages]);
}

function redisAnswers() {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: 6379 });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

async function ensureRedis() {
  if (await redisAnswers()) return;
  say('starting redis-server on 127.0.0.1:6379 (keeping nothing on disk)');
  execFileSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', '', '--appendonly', 'no'], { stdio: 'inherit' });
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers()) return;
    await sleep(100);
  }
  throw new Error('redis-server did not answer on 127.0.0.1:6379');
}

export async function ensureTestDependencies() {
  const missing = NEEDS.filter((need) => !need.present());
  if (missing.length > 0) {
    say(`missing for the tests: ${missing.map((m) => m.what).join(', ')}`);
    aptInstall([...new Set(missing.map((m) => m.pkg))]);
    const still = missing.filter((need) => !need.present());
    if (still.length > 0) throw new Error(`still missing after installing: ${still.map((m) => m.what).join(', ')}`);
  }
  await ensureRedis();
}
