import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, startChild, waitForPort, type Child } from '../../infra/stack/processes.js';

/*
 * Janus (Debian's `janus` package) as the peer SFU the capacity bench compares with: one
 * process with only its VideoRoom plugin and its HTTP API on 127.0.0.1, pinned to one core
 * (`taskset`) so it gets what one mediasoup worker gets, its ICE held to a loopback address
 * (see below). A tiny client for the HTTP API.
 */

const LIB = '/usr/lib/x86_64-linux-gnu/janus';
export const JANUS_BINARY = '/usr/bin/janus';

export const janusInstalled = (): boolean => existsSync(JANUS_BINARY) && existsSync(`${LIB}/plugins/libjanus_videoroom.so`);

/** Every .so in a folder but the ones kept (Janus loads all it finds unless told not to). */
async function allBut(folder: string, keep: string[]): Promise<string> {
  const files = existsSync(folder) ? await readdir(folder) : [];
  return files.filter((f) => f.endsWith('.so') && !keep.includes(f)).join(',');
}

export interface Janus {
  readonly child: Child;
  readonly pid: number;
  readonly api: JanusApi;
  /** The HTTP API's address (for a browser page). */
  readonly apiUrl: string;
  /** CPU seconds the process has used so far (every thread). */
  cpuSeconds(): Promise<number>;
  rssMb(): Promise<number>;
  stop(): Promise<void>;
}

export interface JanusOptions {
  /** Cores it may run on (taskset list, e.g. "0"); all when absent. */
  cpus?: string;
}

/*
 * Benches may send media over loopback only. Janus gathers ICE candidates on no interface
 * flagged as loopback (`lo` is skipped whatever its settings say), so a loopback address it can
 * use has to sit on another interface: in a network namespace of the bench's own, a veth pair
 * whose ends both stay inside carries LOOPBACK_ICE_ADDRESS (127.0.0.2), and the kernel delivers
 * every packet to it over `lo` as to any local address. Janus's ICE is held to that one address
 * (`ice_enforce_list`); outside such a namespace no interface has it, so Janus gathers nothing
 * and can reach no peer over WebRTC at all (the capacity bench uses plain RTP on 127.0.0.1).
 * IPv6 is off in the namespace: every address there is in 127.0.0.0/8.
 */
export const LOOPBACK_ICE_ADDRESS = '127.0.0.2';
const NAMESPACE_ENV = 'JANUS_BENCH_NETNS';
const run = promisify(execFile);

/** The bench's namespace when this process runs inside one made by `runInLoopbackNamespace`. */
export const loopbackNamespace = (): string | undefined => process.env[NAMESPACE_ENV];

/**
 * Run this same script (same node, same loader, same arguments) inside a network namespace
 * made for it: `lo` up, IPv6 off, a veth pair `jb0`–`jb1` with LOOPBACK_ICE_ADDRESS on `jb0`,
 * nothing connecting it to this machine's network. Resolves with the script's exit code once
 * it ends; the namespace and anything left inside it are gone by then. Needs root and iproute2.
 */
export async function runInLoopbackNamespace(): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('the Janus bench makes a network namespace of its own: run it as root');
  const name = `janus-bench-${process.pid}`;
  const inside = (...args: string[]) => run('ip', ['netns', 'exec', name, ...args]);
  await run('ip', ['netns', 'add', name]);
  try {
    await inside('sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.lo.disable_ipv6=1');
    await inside('ip', 'link', 'set', 'lo', 'up');
    await inside('ip', 'link', 'add', 'jb0', 'type', 'veth', 'peer', 'name', 'jb1');
    await inside('ip', 'addr', 'add', `${LOOPBACK_ICE_ADDRESS}/32`, 'dev', 'jb0');
    await inside('ip', 'link', 'set', 'jb0', 'up');
    await inside('ip', 'link', 'set', 'jb1', 'up');
    const child = spawn('ip', ['netns', 'exec', name, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, [NAMESPACE_ENV]: name },
    });
    return await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  } finally {
    const pids = (await run('ip', ['netns', 'pids', name]).catch(() => ({ stdout: '' }))).stdout.split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // ended meanwhile
      }
    }
    await run('ip', ['netns', 'delete', name]).catch(() => undefined);
  }
}

/** Every address of a UDP socket open in this namespace now (`ss -uan`), local and peer, without ports. */
export async function udpAddresses(): Promise<string[]> {
  const { stdout } = await run('ss', ['-uanH']);
  const addresses = new Set<string>();
  for (const line of stdout.split('\n')) {
    const fields = line.trim().split(/\s+/);
    for (const endpoint of fields.slice(3, 5)) {
      const address = endpoint.slice(0, endpoint.lastIndexOf(':')).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
      if (address && address !== '*' && address !== '0.0.0.0') addresses.add(address);
    }
  }
  return [...addresses].sort();
}

export async function startJanus(options: JanusOptions = {}): Promise<Janus> {
  const dir = path.join(os.tmpdir(), `janus-bench-${process.pid}-${Date.now()}`);
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const rtpMin = 30_000 + Math.floor(Math.random() * 200) * 50;
  await writeFile(
    path.join(dir, 'janus.jcfg'),
    `general: {
  configs_folder = "${dir}"
  plugins_folder = "${LIB}/plugins"
  transports_folder = "${LIB}/transports"
  events_folder = "${LIB}/events"
  loggers_folder = "${LIB}/loggers"
  debug_level = 3
  session_timeout = 0
  server_name = "bench"
}
plugins: { disable = "${await allBut(`${LIB}/plugins`, ['libjanus_videoroom.so'])}" }
transports: { disable = "${await allBut(`${LIB}/transports`, ['libjanus_http.so'])}" }
events: { broadcast = false disable = "${await allBut(`${LIB}/events`, [])}" }
loggers: { disable = "${await allBut(`${LIB}/loggers`, [])}" }
media: { rtp_port_range = "${rtpMin}-${rtpMin + 4000}" }
nat: { ice_enforce_list = "${LOOPBACK_ICE_ADDRESS}" nice_debug = false }
`,
  );
  await writeFile(path.join(dir, 'janus.plugin.videoroom.jcfg'), 'general: {\n}\n');
  await writeFile(
    path.join(dir, 'janus.transport.http.jcfg'),
    `general: { json = "compact" base_path = "/janus" http = true port = ${port} ip = "127.0.0.1" https = false }\nadmin: { admin_http = false admin_https = false }\n`,
  );
  const args = ['-C', path.join(dir, 'janus.jcfg'), '-F', dir, '-o'];
  const child = options.cpus ? startChild('taskset', ['-c', options.cpus, JANUS_BINARY, ...args]) : startChild(JANUS_BINARY, args);
  await waitForPort('127.0.0.1', port, child);
  const pid = child.process.pid!;
  const apiUrl = `http://127.0.0.1:${port}/janus`;
  const api = await JanusApi.connect(apiUrl);
  return {
    child,
    pid,
    api,
    apiUrl,
    async cpuSeconds() {
      const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    async rssMb() {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
    },
    async stop() {
      await child.stop(3000);
    },
  };
}

type Json = Record<string, unknown>;

/** One Janus session with one VideoRoom handle, over the HTTP API (requests are synchronous for what the bench asks). */
export class JanusApi {
  #transaction = 0;

  /** `handleUrl`: …/janus/<session>/<handle>; its session's events are long-polled at its parent (janus-subscriber.ts). */
  private constructor(readonly handleUrl: string) {}

  static async connect(base: string): Promise<JanusApi> {
    const post = async (url: string, body: Json) => (await (await fetch(url, { method: 'POST', body: JSON.stringify(body) })).json()) as Json;
    const session = await post(base, { janus: 'create', transaction: 'c' });
    const sessionId = String((session.data as Json | undefined)?.id);
    const handle = await post(`${base}/${sessionId}`, { janus: 'attach', plugin: 'janus.plugin.videoroom', transaction: 'a' });
    return new JanusApi(`${base}/${sessionId}/${String((handle.data as Json | undefined)?.id)}`);
  }

  /** A synchronous VideoRoom request; throws on an error answer. */
  async videoroom(body: Json): Promise<Json> {
    const response = (await (await fetch(this.handleUrl, { method: 'POST', body: JSON.stringify({ janus: 'message', transaction: `t${++this.#transaction}`, body }) })).json()) as Json;
    const data = ((response.plugindata as Json | undefined)?.data ?? {}) as Json;
    if (response.janus === 'error' || data.error_code !== undefined) throw new Error(`janus ${String(body.request)}: ${JSON.stringify(response.error ?? data.error)}`);
    return data;
  }
}
