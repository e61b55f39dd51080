import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './prod-server.js';

/**
 * A private `redis-server` for tests that stop and restart Redis (the shared one on 6379 is
 * left alone): loopback only, on a free port, keeping its data in an append-only file in a
 * temporary directory, so a stop (SHUTDOWN, which writes the file) and a start on the same
 * port and directory bring the same data back. `cleanup()` stops it and removes the directory.
 */
export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  readonly running: boolean;
  /** Everything the server printed (for failure messages). */
  output(): string;
  /** Start again on the same port and directory; resolves once it answers PING. */
  start(): Promise<void>;
  /** SHUTDOWN (the AOF is written) and wait for the process to exit. */
  stop(): Promise<void>;
  /** Freeze the process (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Let a paused process go on (SIGCONT). */
  resume(): void;
  cleanup(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

/** Send one command over a fresh connection; resolves with the first reply's bytes, or '' if the server closed first. */
function rawCommand(port: number, args: string[], timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${args[0]} within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(reply);
    };
    socket.once('connect', () => {
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.endsWith('\r\n')) done();
    });
    socket.once('error', done);
    socket.once('close', () => done());
  });
}

export async function startRedisServer(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'group-room-redis-'));
  let child: ChildProcess | undefined;
  let output = '';

  const exited = (process: ChildProcess) =>
    process.exitCode !== null || process.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => process.once('exit', () => resolve()));

  async function start(): Promise<void> {
    if (child) throw new Error('redis-server is already running');
    const process = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = process;
    process.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    process.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    process.once('exit', () => {
      if (child === process) child = undefined;
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child !== process) throw new Error(`redis-server exited on start:\n${output}`);
      const reply = await rawCommand(port, ['PING']).catch(() => '');
      if (reply.startsWith('+PONG')) return;
      if (Date.now() > deadline) {
        process.kill('SIGKILL');
        throw new Error(`redis-server did not answer PING on port ${port}:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function stop(): Promise<void> {
    const process = child;
    if (!process) return;
    const gone = exited(process);
    // A successful SHUTDOWN closes the connection without a reply; an error reply means it refused.
    const reply = await rawCommand(port, ['SHUTDOWN'], STOP_TIMEOUT_MS).catch(() => '');
    if (reply.startsWith('-')) throw new Error(`redis-server refused SHUTDOWN: ${reply.trim()}`);
    const timer = setTimeout(() => process.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await gone;
    clearTimeout(timer);
  }

  function signal(name: 'SIGSTOP' | 'SIGCONT'): void {
    if (!child) throw new Error('redis-server is not running');
    child.kill(name);
  }

  async function cleanup(): Promise<void> {
    const process = child;
    if (process) {
      process.kill('SIGCONT');
      const gone = exited(process);
      process.kill('SIGKILL');
      await gone;
    }
    await rm(dir, { recursive: true, force: true });
  }

  await start().catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    output: () => output,
    start,
    stop,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    cleanup,
  };
}
