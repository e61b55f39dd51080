import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, startChild, waitForPort, type Child } from '../../infra/stack/processes.js';

/*
 * Janus (Debian's `janus` package) as the peer SFU the capacity bench compares with: one
 * process with only its VideoRoom plugin and its HTTP API on 127.0.0.1, pinned to one core
 * (`taskset`) so it gets what one mediasoup worker gets. A tiny client for the HTTP API.
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
  /** The only interface it gathers ICE candidates on (Janus skips loopback). */
  iceInterface?: string;
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
nat: { ${options.iceInterface ? `ice_enforce_list = "${options.iceInterface}"` : ''} nice_debug = false }
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
  readonly #handle: string;
  #transaction = 0;

  private constructor(handle: string) {
    this.#handle = handle;
  }

  static async connect(base: string): Promise<JanusApi> {
    const post = async (url: string, body: Json) => (await (await fetch(url, { method: 'POST', body: JSON.stringify(body) })).json()) as Json;
    const session = await post(base, { janus: 'create', transaction: 'c' });
    const sessionId = String((session.data as Json | undefined)?.id);
    const handle = await post(`${base}/${sessionId}`, { janus: 'attach', plugin: 'janus.plugin.videoroom', transaction: 'a' });
    return new JanusApi(`${base}/${sessionId}/${String((handle.data as Json | undefined)?.id)}`);
  }

  /** A synchronous VideoRoom request; throws on an error answer. */
  async videoroom(body: Json): Promise<Json> {
    const response = (await (await fetch(this.#handle, { method: 'POST', body: JSON.stringify({ janus: 'message', transaction: `t${++this.#transaction}`, body }) })).json()) as Json;
    const data = ((response.plugindata as Json | undefined)?.data ?? {}) as Json;
    if (response.janus === 'error' || data.error_code !== undefined) throw new Error(`janus ${String(body.request)}: ${JSON.stringify(response.error ?? data.error)}`);
    return data;
  }
}
