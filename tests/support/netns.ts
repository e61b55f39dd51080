import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, testServerEnv, type RunningServer } from './prod-server.js';

/*
 * A network namespace of the test's own, for browsers that gather no ICE candidate on loopback
 * (Firefox ESR: shared/notes/deployment-parts.md). Tests may not send media to this machine's
 * own addresses, so the namespace gets a veth pair whose two ends both stay inside it, numbered
 * in the benchmarking range 198.18.0.0/15, and a default route through it (without one Firefox
 * gathers nothing). No packet can leave: nothing connects the namespace to the machine's network.
 *
 * Processes get in with `ip netns exec NAME …`, which enters the namespace and then execs the
 * command in place (same pid, same file descriptors): the server is spawned that way, and the
 * browsers through a wrapper script given to Playwright or Puppeteer as their executable, so
 * Playwright's pipe to Chromium works unchanged.
 *
 * The test process itself stays outside. To reach a TCP port on the namespace's loopback (the
 * WebDriver BiDi WebSocket of a Firefox inside, say) `forwardLoopback` listens on this
 * machine's 127.0.0.1 and carries each connection over a Unix socket — the file system is
 * shared, the network is not — to a small relay inside the namespace that connects to the port.
 */

const IP_CANDIDATES = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];

function ipBinary(): string | undefined {
  return IP_CANDIDATES.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export interface Support {
  ok: boolean;
  /** What is missing, for the test's message ('' when ok). */
  reason: string;
}

/**
 * Whether this process can make network namespaces (Linux, root, iproute2's `ip`), and whether
 * the executables a test names exist.
 */
export function namespaceSupport(executables: string[] = []): Support {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('Linux (network namespaces)');
  else if (process.getuid?.() !== 0) missing.push('root (making a network namespace needs CAP_SYS_ADMIN and CAP_NET_ADMIN: run as root or with sudo)');
  if (!ipBinary()) missing.push("iproute2's `ip` (apt-get install iproute2)");
  for (const executable of executables) {
    try {
      accessSync(executable, constants.X_OK);
    } catch {
      missing.push(`${executable} (not installed)`);
    }
  }
  return { ok: missing.length === 0, reason: missing.length ? `needs ${missing.join(', ')}` : '' };
}

export interface NetNamespace {
  readonly name: string;
  /** The namespace's own address (veth `v0`): what servers inside listen on and announce, e.g. 198.18.37.1. */
  readonly address: string;
  /** The other end of the pair (`v1`), the default route's gateway, also inside, e.g. 198.18.37.2. */
  readonly peerAddress: string;
  /** How long making the namespace took (ms). */
  readonly setupMs: number;
  /** Spawn `command` inside the namespace; it is killed (if still running) by `destroy`. */
  spawn(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Run `command` inside the namespace to its end; rejects on a non-zero exit. */
  exec(command: string, args: string[]): Promise<{ stdout: string; stderr: string }>;
  /**
   * The path of an executable script that runs `executable` inside the namespace with the
   * arguments it is given (`exec ip netns exec NAME executable "$@"`): an `executablePath` for
   * Playwright or Puppeteer.
   */
  wrapper(executable: string): string;
  /**
   * Make a TCP port of the namespace's 127.0.0.1 reachable on this machine's 127.0.0.1. Without
   * `nsPort`, one free port number serves on both sides (so a URL printed inside, such as
   * `ws://127.0.0.1:PORT/session`, works unchanged outside): start the process inside on it.
   */
  forwardLoopback(nsPort?: number): Promise<number>;
  /** Kill everything still running inside, close the forwarders, delete the namespace. */
  destroy(): Promise<void>;
}

const execFileAsync = promisify(execFile);

/** Every namespace this process made and has not deleted yet, with its scratch folder: deleted on exit even after a crash of the test. */
const live = new Map<string, string>();
let exitHookInstalled = false;
function deleteOnExit(name: string, scratch: string): void {
  live.set(name, scratch);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    const ip = ipBinary();
    if (!ip) return;
    for (const [leftover, scratch] of live) {
      killAllInside(ip, leftover);
      try {
        execFileSync(ip, ['netns', 'delete', leftover], { stdio: 'ignore' });
      } catch {
        // already gone
      }
      rmSync(scratch, { recursive: true, force: true });
    }
  });
}

/** SIGKILL every process inside the namespace (all of them ours: the namespace is made per test). */
function killAllInside(ip: string, name: string): number {
  let pids: number[] = [];
  try {
    pids = execFileSync(ip, ['netns', 'pids', name], { encoding: 'utf8' })
      .split(/\s+/)
      .filter((p) => /^\d+$/.test(p))
      .map(Number);
  } catch {
    return 0;
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ended meanwhile
    }
  }
  return pids.length;
}

const NAME = /^grt-(\d+)-[0-9a-f]{6}$/;

/**
 * Namespaces this harness made in a test process that is gone without deleting them (killed
 * before its exit hook ran): whatever still runs inside is stopped and the namespace deleted.
 */
async function reapAbandoned(ip: string): Promise<void> {
  let names: string[] = [];
  try {
    names = (await execFileAsync(ip, ['netns', 'list'])).stdout.split('\n').map((line) => line.split(' ')[0] ?? '');
  } catch {
    return;
  }
  for (const name of names) {
    const owner = NAME.exec(name)?.[1];
    if (!owner || Number(owner) === process.pid) continue;
    try {
      process.kill(Number(owner), 0);
      continue; // its test process still runs
    } catch {
      // gone: the namespace is abandoned
    }
    killAllInside(ip, name);
    await execFileAsync(ip, ['netns', 'delete', name]).catch(() => undefined);
  }
}

/** Runs inside the namespace: Unix socket (argv[1]) → 127.0.0.1:argv[2]. CommonJS, for `node -e`. */
const RELAY = `
const net = require('node:net');
const [socketPath, port] = process.argv.slice(1);
net.createServer((client) => {
  const target = net.connect(Number(port), '127.0.0.1');
  const end = () => { client.destroy(); target.destroy(); };
  client.on('error', end); target.on('error', end); client.on('close', end); target.on('close', end);
  client.pipe(target); target.pipe(client);
}).listen(socketPath, () => process.stdout.write('ready\\n'));
`;

/**
 * Make a namespace `grt-<pid>-<random>` (after deleting any this harness left behind in a test
 * process that was killed) with `lo` up and a veth pair `v0` (198.18.x.1/24) —
 * `v1` (198.18.x.2/24), x a random /24 of 198.18.0.0/15 so parallel runs never share numbers,
 * and a default route via v1. Needs root (see `namespaceSupport`).
 */
export async function createNetNamespace(): Promise<NetNamespace> {
  const support = namespaceSupport();
  if (!support.ok) throw new Error(`cannot make a network namespace: ${support.reason}`);
  const ip = ipBinary()!;
  await reapAbandoned(ip);
  const started = performance.now();
  const name = `grt-${process.pid}-${randomBytes(3).toString('hex')}`;
  const block = randomInt(0, 512); // 512 /24s in 198.18.0.0/15
  const prefix = `198.${18 + (block >> 8)}.${block & 255}`;
  const address = `${prefix}.1`;
  const peerAddress = `${prefix}.2`;
  const run = (args: string[]) => execFileAsync(ip, args);

  try {
    await run(['netns', 'add', name]);
  } catch (error) {
    throw new Error(`could not make network namespace ${name} (root without CAP_SYS_ADMIN, e.g. in a container?): ${(error as Error).message}`);
  }
  const scratch = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  deleteOnExit(name, scratch);
  try {
    // Both ends are made inside the namespace (`-n`), so the names never meet the machine's own.
    await run(['-n', name, 'link', 'set', 'lo', 'up']);
    await run(['-n', name, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    await run(['-n', name, 'addr', 'add', `${address}/24`, 'dev', 'v0']);
    await run(['-n', name, 'addr', 'add', `${peerAddress}/24`, 'dev', 'v1']);
    await run(['-n', name, 'link', 'set', 'v0', 'up']);
    await run(['-n', name, 'link', 'set', 'v1', 'up']);
    await run(['-n', name, 'route', 'add', 'default', 'via', peerAddress, 'dev', 'v0']);
  } catch (error) {
    await run(['netns', 'delete', name]).catch(() => undefined);
    live.delete(name);
    rmSync(scratch, { recursive: true, force: true });
    throw new Error(`could not set up network namespace ${name}: ${(error as Error).message}`);
  }
  const setupMs = performance.now() - started;

  const children = new Set<ChildProcess>();
  const forwarders: Server[] = [];
  const sockets = new Set<Socket>();
  let wrappers = 0;

  const nsSpawn = (command: string, args: string[], options: SpawnOptions = {}) => {
    const child = spawn(ip, ['netns', 'exec', name, command, ...args], options);
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };

  const forwardLoopback = async (nsPort?: number): Promise<number> => {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    forwarders.push(server);
    const outsidePort = (server.address() as { port: number }).port;
    const insidePort = nsPort ?? outsidePort;
    const socketPath = path.join(scratch, `port-${insidePort}.sock`);
    const relay = nsSpawn(process.execPath, ['-e', RELAY, socketPath, String(insidePort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let relayOutput = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`port relay in ${name} did not start: ${relayOutput}`)), 10_000);
      relay.stdout?.on('data', (chunk: Buffer) => {
        relayOutput += chunk.toString();
        if (relayOutput.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      relay.stderr?.on('data', (chunk: Buffer) => (relayOutput += chunk.toString()));
      relay.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`port relay in ${name} exited with ${code}: ${relayOutput}`));
      });
    });
    server.on('connection', (client) => {
      const inside = connect(socketPath);
      sockets.add(client);
      sockets.add(inside);
      const end = () => {
        client.destroy();
        inside.destroy();
        sockets.delete(client);
        sockets.delete(inside);
      };
      client.on('error', end);
      inside.on('error', end);
      client.on('close', end);
      inside.on('close', end);
      client.pipe(inside);
      inside.pipe(client);
    });
    return outsidePort;
  };

  let destroyed = false;
  return {
    name,
    address,
    peerAddress,
    setupMs,
    spawn: nsSpawn,
    exec: (command, args) => execFileAsync(ip, ['netns', 'exec', name, command, ...args], { maxBuffer: 16 << 20 }),
    wrapper(executable) {
      const file = path.join(scratch, `${++wrappers}-${path.basename(executable)}`);
      const quoted = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
      writeFileSync(file, `#!/bin/sh\nexec ${quoted(ip)} netns exec ${quoted(name)} ${quoted(executable)} "$@"\n`);
      chmodSync(file, 0o755);
      return file;
    },
    forwardLoopback,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const socket of sockets) socket.destroy();
      await Promise.all(forwarders.map((server) => new Promise((resolve) => server.close(resolve))));
      // First what we spawned ourselves, gently; then anything still inside (browsers, their children).
      await Promise.all(
        [...children].map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
              child.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              child.kill('SIGTERM');
            }),
        ),
      );
      for (let attempt = 0; attempt < 20 && killAllInside(ip, name) > 0; attempt++) await new Promise((r) => setTimeout(r, 100));
      await run(['netns', 'delete', name]).catch(() => undefined);
      live.delete(name);
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/**
 * The production server (as tests/support/prod-server.ts's startProductionServer runs it) inside
 * the namespace: HTTP on the namespace's 127.0.0.1 (pages opened from there are a secure
 * context, so getUserMedia works), media on the veth address, announced as that address, and
 * the in-memory store (the machine's Redis on 127.0.0.1 cannot be reached from inside).
 * `url` is valid inside the namespace only; `forwardLoopback(port)` reaches it from outside.
 */
export async function startServerInNamespace(
  ns: NetNamespace,
  env: Record<string, string> = {},
  /** Another build to run (a checkout built elsewhere); this checkout's by default. */
  appRoot: string = repoRoot,
): Promise<RunningServer & { port: number }> {
  const entry = path.join(appRoot, 'apps/signal/dist/main.js');
  if (!existsSync(entry) || !existsSync(path.join(appRoot, 'apps/web/.next/BUILD_ID'))) {
    throw new Error(`No production build in ${appRoot}: run \`npm run setup\` (or \`npm test\`, which runs it) first`);
  }
  const port = Number(env['PORT'] ?? 3000); // the namespace is fresh: nothing else listens there
  const { REDIS_URL: _redis, ...inherited } = process.env;
  const child = ns.spawn(process.execPath, [entry], {
    cwd: appRoot,
    env: {
      ...inherited,
      ...testServerEnv(port, ns.address),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${ns.name}:\n${output}`)), 60_000);
    child.stdout?.on('data', () => {
      if (output.includes('Group room is running')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} in ${ns.name}:\n${output}`));
    });
  });
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (ended()) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
    kill: () =>
      new Promise<void>((resolve) => {
        if (ended()) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
