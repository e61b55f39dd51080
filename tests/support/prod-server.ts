import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../infra/stack/processes.js';

export { freePort };

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunningServer {
  url: string;
  child: ChildProcess;
  /** Everything the server wrote, for assertions about logs. */
  output: () => string;
  stop(): Promise<void>;
  /** Kill -9: no clean-up, no notice to anyone (a crashed or killed process). */
  kill(): Promise<void>;
}


/** How tests run the production server: on loopback's HTTP, media on `mediaAddress`, one worker. */
export function testServerEnv(port: number, mediaAddress: string): Record<string, string> {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    MEDIA_LISTEN_IP: mediaAddress,
    MEDIA_ANNOUNCED_ADDRESS: mediaAddress,
    MEDIA_PORT: '0',
    MEDIASOUP_WORKERS: '1',
    LOG_LEVEL: 'info',
    NEXT_TELEMETRY_DISABLED: '1',
    // Every test page comes from one address; tests of these limits set their own.
    SOCKETS_PER_ADDRESS: '100000',
    ROOMS_PER_ADDRESS_PER_HOUR: '100000',
    HANDSHAKE_BURST: '100000',
    HANDSHAKES_PER_SECOND: '100000',
    ENTRY_PER_ADDRESS: '100000',
  };
}

/**
 * Start the production server (`node apps/signal/dist/main.js`, serving the Next build) on
 * loopback only, exactly as `npm start` runs it. `entry`: another build's main.js (a bench
 * comparing a saved build with this one).
 */
export async function startProductionServer(env: Record<string, string> = {}, entry = path.join(repoRoot, 'apps/signal/dist/main.js')): Promise<RunningServer> {
  if (!existsSync(entry) || !existsSync(path.join(repoRoot, 'apps/web/.next/BUILD_ID'))) {
    throw new Error('No production build: run `npm run setup` (or `npm test`, which runs it) first');
  }
  // A given PORT lets a test start the server again where its clients will look for it.
  const port = env['PORT'] ? Number(env['PORT']) : await freePort();
  const child = spawn(process.execPath, [entry], {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...testServerEnv(port, '127.0.0.1'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running: a server that hangs in its start would hold its ports and a core.
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${output}`));
    }, 60_000);
    const check = () => {
      if (output.includes('Group room is running')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** The mediasoup worker processes a server process runs now (from /proc: no procps needed). */
export function mediasoupWorkerPids(serverPid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm is cut to 15 characters.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === serverPid && comm.startsWith('mediasoup-worke')) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}
