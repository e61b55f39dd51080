import { execFile, fork, spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';
import type { GeneratedMember, GeneratorReply, GeneratorRequest } from './capacity-generator.js';

/*
 * bench:capacity's load side, kept cheap so that the SFU, not the bench, runs out first:
 * generator processes sending pre-built packets (capacity-generator.ts), a "hole" that receives
 * most of the SFU's output without any process reading it (the kernel counts each datagram
 * into the socket's drop counter), the cores everything is pinned to, and CPU read from /proc.
 */

const run = promisify(execFile);

/** Several generator processes; members are dealt to them in turn. */
export class Generators {
  readonly #children: ChildProcess[];
  #next = 0;
  /** The SFU's ports the members send to (their kernel drop counters are the SFU's inbound loss). */
  readonly targets: number[] = [];

  private constructor(children: ChildProcess[]) {
    this.#children = children;
  }

  static async start(count: number): Promise<Generators> {
    const file = new URL('./capacity-generator.ts', import.meta.url).pathname;
    // Forked with this process's node options: under tsx, the child runs TypeScript too.
    const children = Array.from({ length: count }, () => fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    await Promise.all(children.map((child) => new Promise<void>((resolve, reject) => (child.once('spawn', resolve), child.once('error', reject)))));
    return new Generators(children);
  }

  get pids(): number[] {
    return this.#children.map((c) => c.pid!);
  }

  static #ask(child: ChildProcess, request: GeneratorRequest, answer: GeneratorReply['type']): Promise<GeneratorReply> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: GeneratorReply) => {
        if (message.type !== answer) return;
        child.off('message', onMessage);
        resolve(message);
      };
      child.on('message', onMessage);
      child.send(request, (error) => error && reject(error));
    });
  }

  async add(members: GeneratedMember[]): Promise<void> {
    const shares: GeneratedMember[][] = this.#children.map(() => []);
    for (const member of members) shares[this.#next++ % shares.length]!.push(member);
    this.targets.push(...new Set(members.map((m) => m.port)));
    await Promise.all(this.#children.map((child, i) => (shares[i]!.length ? Generators.#ask(child, { type: 'add', members: shares[i]! }, 'added') : undefined)));
  }

  /** Packets sent so far by all, and how many times one fell more than 100 ms behind its schedule. */
  async sent(): Promise<{ sent: number; late: number }> {
    const counts = await Promise.all(this.#children.map((child) => Generators.#ask(child, { type: 'count' }, 'count')));
    return counts.reduce((sum, c) => (c.type === 'count' ? { sent: sum.sent + c.sent, late: sum.late + c.late } : sum), { sent: 0, late: 0 });
  }

  stop(): void {
    for (const child of this.#children) if (child.connected) child.send({ type: 'stop' } satisfies GeneratorRequest);
  }
}

/** Datagrams the kernel dropped so far at the UDP sockets on these local ports (their buffers full: not read in time). */
export async function udpDrops(ports: number[]): Promise<number> {
  const wanted = new Set(ports);
  const table = await readFile('/proc/net/udp', 'utf8').catch(() => '');
  let drops = 0;
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const port = parseInt(f[1]?.split(':')[1] ?? '', 16);
    if (wanted.has(port)) drops += Number(f.at(-1));
  }
  return drops;
}

/** Datagrams the kernel dropped so far at every UDP socket a process holds (its buffers full: it did not read in time). */
export async function udpDropsOfProcess(pid: number): Promise<number> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (link.startsWith('socket:[')) inodes.add(link.slice(8, -1));
  }
  const table = await readFile('/proc/net/udp', 'utf8').catch(() => '');
  let drops = 0;
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // Columns: sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops.
    if (f[9] && inodes.has(f[9])) drops += Number(f.at(-1));
  }
  return drops;
}

/** This one UDP socket's counters in /proc/net/udp: the bytes queued (rx_queue) and the datagrams dropped (its buffer full). */
export async function udpSocketCounters(port: number): Promise<{ queuedBytes: number; drops: number }> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const table = await readFile('/proc/net/udp', 'utf8').catch(() => '');
  const fields = table
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .find((f) => f[1]?.endsWith(hex));
  if (!fields) return { queuedBytes: 0, drops: 0 };
  return { queuedBytes: parseInt(fields[4]!.split(':')[1]!, 16), drops: Number(fields.at(-1)) };
}

/*
 * A process that binds a UDP socket with the smallest receive buffer and then blocks forever
 * without reading: every datagram sent to it is delivered by the kernel up to the socket (the
 * same work as for a reader) and counted in the socket's drops. Costs no CPU to "receive".
 */
const HOLE = `
const s = require('node:dgram').createSocket('udp4');
s.bind(0, '127.0.0.1', () => {
  s.setRecvBufferSize(4096);
  const parent = process.ppid;
  const asleep = new Int32Array(new SharedArrayBuffer(4));
  // Blocked, reading nothing; gone once the bench is (checked each second).
  process.stdout.write(String(s.address().port) + '\\n', () => {
    while (process.ppid === parent) Atomics.wait(asleep, 0, 0, 1000);
    process.exit(0);
  });
});
`;

export class Hole {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async open(): Promise<Hole> {
    const child = spawn(process.execPath, ['-e', HOLE], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
      child.once('exit', (code) => reject(new Error(`the UDP hole exited (${code})`)));
    });
    return new Hole(child, port);
  }

  /** Datagrams that reached the socket so far (its buffer stays full, so each one after the first few is a drop). */
  async datagrams(): Promise<number> {
    return (await udpSocketCounters(this.port)).drops;
  }

  close(): void {
    this.child.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------
// Cores

/**
 * On a machine of two or more cores the SFU gets core 0 to itself and the bench (its main
 * process, generators, hole, our signalling process) the others: they no longer compete.
 */
export const cores = (): { sfu: string; bench: string } | undefined => {
  const n = os.cpus().length;
  return n >= 2 ? { sfu: '0', bench: n === 2 ? '1' : `1-${n - 1}` } : undefined;
};

/**
 * Every thread of `pid` on `list` (taskset, util-linux), one thread at a time: `taskset -a`
 * fails outright when a thread it listed has exited before it got to it ("failed to get pid
 * N's affinity: No such process", seen ending an `npm run bench`). A thread gone meanwhile is
 * skipped; one started meanwhile (it may have its creator's old cores) is pinned next round.
 */
export async function pin(pid: number, list: string): Promise<void> {
  const done = new Set<string>();
  for (let round = 0; round < 5; round++) {
    const threads = (await readdir(`/proc/${pid}/task`)).filter((tid) => !done.has(tid));
    if (threads.length === 0) return;
    await Promise.all(
      threads.map(async (tid) => {
        done.add(tid);
        try {
          await run('taskset', ['-p', '-c', list, tid]);
        } catch (error) {
          const gone = await readFile(`/proc/${pid}/task/${tid}/status`).then(() => false, () => true);
          if (!gone) throw error;
        }
      }),
    );
  }
}

/** The cores `pid` may run on now (its Cpus_allowed_list, e.g. "0-1"), to give them back after pinning. */
export async function affinity(pid: number): Promise<string> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  if (!list) throw new Error(`no Cpus_allowed_list for process ${pid}`);
  return list;
}

/** USER_HZ: 100 on Linux. */
const CLOCK_TICKS = 100;

/** CPU seconds (user + system, every thread) a process has used, from /proc/<pid>/stat. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Resident memory now and at its peak (MB), from /proc/<pid>/status. */
export async function memoryMb(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}
