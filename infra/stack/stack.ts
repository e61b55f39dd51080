import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCaddy } from './caddy.js';
import { startCoturn, type Coturn } from './coturn.js';
import { freePort, startChild, waitForPort, type Child } from './processes.js';

/*
 * The whole deployment on one machine, from Debian's packages and this repository's
 * production build: Caddy (TLS, routing), two or more signalling nodes sharing Redis, coturn.
 * `npm run stack` starts it for people; the stack test drives it.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface StackOptions {
  /** Signalling nodes (each with one mediasoup worker). */
  nodes?: number;
  httpsPort?: number;
  httpPort?: number;
  /** The machine's Redis (every machine here runs one on 6379); the stack uses a key prefix of its own. */
  redisUrl?: string;
  /** The address browsers send media to and reach coturn on. */
  mediaAddress?: string;
  /** More environment for every node (e.g. SEAT_GRACE_SECONDS). */
  env?: Record<string, string>;
  /** More environment for one node, by its name (e.g. its own REDIS_URL through a proxy a test can cut). */
  nodeEnv?: (name: string) => Record<string, string>;
  /** Where the built server and web client are (`apps/signal/dist`, `apps/web/.next`): this checkout by default, or e.g. another commit's export. */
  appRoot?: string;
}

export interface StackNode {
  readonly name: string;
  readonly port: number;
  /** The node's current process (a new one after `restart`). */
  readonly child: Child;
  output(): string;
  /** Kill it with SIGKILL, as a machine or process dies. */
  kill(): Promise<void>;
  /** Once its process has exited: start it again under the same name, port and environment (as a supervisor does); resolves once it listens. */
  restart(): Promise<void>;
}

export interface Stack {
  /** The one public address. */
  readonly url: string;
  readonly nodes: StackNode[];
  readonly coturn: Coturn;
  readonly prefix: string;
  /** Where Caddy keeps its local CA (root.crt), for a browser that should trust it. */
  readonly caRoot: string;
  stop(): Promise<void>;
}

async function startNode(name: string, port: number, env: Record<string, string>, appRoot = repoRoot): Promise<StackNode> {
  const spawnNode = async () => {
    const started = startChild(process.execPath, [path.join(appRoot, 'apps/signal/dist/main.js')], { ...process.env, ...env, NODE_NAME: name, PORT: String(port) }, appRoot);
    await waitForPort('127.0.0.1', port, started, 60_000);
    return started;
  };
  let child = await spawnNode();
  return {
    name,
    port,
    get child() {
      return child;
    },
    output: () => child.output(),
    kill: () => child.kill(),
    async restart() {
      await child.exited;
      child = await spawnNode();
    },
  };
}

/** coturn as the stack runs it: on the media address, relaying to the nodes' media address only. */
export async function startStackCoturn(dir: string, mediaAddress: string): Promise<Coturn> {
  const minPort = 49_200 + Math.floor(Math.random() * 5000);
  return startCoturn({ dir, port: await freePort(), listenIp: mediaAddress, publicHost: mediaAddress, minPort, maxPort: minPort + 100, mediaPeers: [mediaAddress] });
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dir = await mkdtemp(path.join(tmpdir(), 'group-room-stack-'));
  const stopping: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const step of stopping.reverse()) await step().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const mediaAddress = options.mediaAddress ?? '127.0.0.1';
    const coturn = await startStackCoturn(dir, mediaAddress);
    stopping.push(() => coturn.stop());

    const prefix = `group-room-stack:${randomUUID().slice(0, 8)}:`;
    const shared: Record<string, string> = {
      HOST: '127.0.0.1',
      REDIS_URL: options.redisUrl ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: prefix,
      TOKEN_SECRET: randomBytes(32).toString('hex'),
      MEDIA_LISTEN_IP: mediaAddress,
      MEDIA_ANNOUNCED_ADDRESS: mediaAddress,
      MEDIA_PORT: '0',
      MEDIASOUP_WORKERS: '1',
      TURN_URLS: coturn.urls.join(','),
      TURN_SECRET: coturn.secret,
      LOG_LEVEL: 'info',
      NEXT_TELEMETRY_DISABLED: '1',
      ...options.env,
    };
    const nodes: StackNode[] = [];
    const count = options.nodes ?? 2;
    for (let i = 0; i < count; i++) {
      const name = String.fromCharCode(97 + i);
      const node = await startNode(name, await freePort(), { ...shared, ...options.nodeEnv?.(name) }, options.appRoot);
      nodes.push(node);
      stopping.push(() => node.child.stop());
    }

    const httpsPort = options.httpsPort ?? (await freePort());
    const httpPort = options.httpPort ?? (await freePort());
    const caddy = await startCaddy({ dir, site: 'localhost', httpsPort, httpPort, nodes, localCerts: true });
    stopping.push(() => caddy.stop());
    return {
      url: `https://localhost:${httpsPort}`,
      nodes,
      coturn,
      prefix,
      caRoot: path.join(dir, 'data/caddy/pki/authorities/local/root.crt'),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
