import { ProtocolFailure } from '@group-room/shared';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Logger } from '../logger.js';
import { mediaCodecs } from './codecs.js';

export interface WorkerPoolOptions {
  count: number;
  logLevel: types.WorkerLogLevel;
  listenIp: string;
  announcedAddress: string;
  /** Worker i listens on basePort + i (UDP and TCP); 0 lets the OS pick. */
  basePort: number;
  /** Routers (rooms with media) this process may hold at once, over all workers (MAX_MEDIA_ROOMS). */
  maxRouters?: number;
  log: Logger;
}

interface PoolEntry {
  index: number;
  worker: types.Worker;
  webRtcServer: types.WebRtcServer;
  routers: number;
  /**
   * What the worker carries: its transports (two per person), producers and consumers. New
   * rooms go to the worker carrying least (their sum), so one large group does not share a
   * core with the next rooms while another core idles.
   */
  carried: Carried;
  /** False from the worker's death until its replacement is up. */
  live: boolean;
}

export interface RouterLease {
  router: types.Router;
  webRtcServer: types.WebRtcServer;
  /** The process of the worker it lives on. */
  workerPid: number;
  /** Where the worker listens for media, and the address it announces (for plain transports). */
  listenIp: string;
  announcedAddress: string;
}

/** A promise with its resolver (Promise.withResolvers needs Node 22). */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => undefined as void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

interface Carried {
  transports: number;
  producers: number;
  consumers: number;
}

const load = (entry: PoolEntry) => entry.carried.transports + entry.carried.producers + entry.carried.consumers;

/** Count what a router's transports carry into its worker's figures, and out again as each closes. */
function trackLoad(router: types.Router, entry: PoolEntry): void {
  const carry = (kind: keyof Carried, observer: { once(event: 'close', listener: () => void): unknown }) => {
    entry.carried[kind]++;
    observer.once('close', () => entry.carried[kind]--);
  };
  router.observer.on('newtransport', (transport) => {
    carry('transports', transport.observer);
    transport.observer.on('newproducer', (producer) => carry('producers', producer.observer));
    transport.observer.on('newconsumer', (consumer) => carry('consumers', consumer.observer));
  });
}

/** How long a request for a router waits for a dead worker's replacement when none is live. */
const REPLACEMENT_WAIT_MS = 10_000;
const RESTART_RETRY_MS = 1000;

/**
 * One mediasoup Worker per core, each with one WebRtcServer (one UDP + TCP port). A worker
 * that dies is replaced on the same port; the routers it held close with it (their rooms are
 * told through the routers' `workerclose`, see RoomRegistry) and the process carries on.
 */
export class WorkerPool {
  readonly #entries: PoolEntry[] = [];
  readonly #options: WorkerPoolOptions;
  #closed = false;
  readonly #maxRouters: number;
  /** Routers held or being created, over all workers. */
  #routers = 0;
  /** Resolved whenever a replacement worker comes up, for requests waiting on one. */
  #replaced = signal();
  /** Workers started over their lifetime beyond the first set (for tests and metrics). */
  restarts = 0;

  private constructor(options: WorkerPoolOptions) {
    this.#options = options;
    this.#maxRouters = options.maxRouters ?? Number.MAX_SAFE_INTEGER;
  }

  static async create(options: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(options);
    try {
      for (let i = 0; i < options.count; i++) pool.#entries.push(await pool.#start(i));
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  async #start(index: number): Promise<PoolEntry> {
    const options = this.#options;
    const worker = await mediasoup.createWorker({ logLevel: options.logLevel });
    try {
      const listen = (protocol: 'udp' | 'tcp'): types.TransportListenInfo => ({
        protocol,
        ip: options.listenIp,
        announcedAddress: options.announcedAddress,
        ...(options.basePort ? { port: options.basePort + index } : {}),
      });
      const webRtcServer = await worker.createWebRtcServer({ listenInfos: [listen('udp'), listen('tcp')] });
      const entry: PoolEntry = { index, worker, webRtcServer, routers: 0, carried: { transports: 0, producers: 0, consumers: 0 }, live: true };
      worker.on('died', (error) => this.#died(entry, error));
      return entry;
    } catch (error) {
      worker.close();
      throw error;
    }
  }

  #died(entry: PoolEntry, error: Error): void {
    entry.live = false;
    if (this.#closed) return;
    this.#options.log.error('mediasoup worker died; starting a replacement', { pid: entry.worker.pid, worker: entry.index, error: error.message });
    void this.#replace(entry);
  }

  async #replace(dead: PoolEntry): Promise<void> {
    while (!this.#closed) {
      try {
        const entry = await this.#start(dead.index);
        if (this.#closed) {
          entry.worker.close();
          return;
        }
        this.#entries[this.#entries.indexOf(dead)] = entry;
        this.restarts++;
        this.#options.log.info('mediasoup worker replaced', { pid: entry.worker.pid, worker: entry.index });
        this.#replaced.resolve();
        this.#replaced = signal();
        return;
      } catch (error) {
        this.#options.log.error('mediasoup worker could not be restarted; retrying', { worker: dead.index, error: error instanceof Error ? error.message : String(error) });
        await new Promise((resolve) => setTimeout(resolve, RESTART_RETRY_MS).unref());
      }
    }
  }

  /**
   * A router on the live worker carrying the least (then with the fewest routers), waiting
   * briefly if none is live. UNAVAILABLE once the process holds its most routers.
   */
  async createRouter(): Promise<RouterLease> {
    const deadline = Date.now() + REPLACEMENT_WAIT_MS;
    // Taken before any await, so racing first joins of many rooms cannot pass the bound.
    if (this.#routers >= this.#maxRouters) {
      throw new ProtocolFailure('UNAVAILABLE', 'This server is carrying as many sessions as it can. Try again later, or ask the administrator.');
    }
    this.#routers++;
    let leased = false;
    try {
      for (;;) {
        if (this.#closed) throw new ProtocolFailure('UNAVAILABLE', 'The server is shutting down');
        const live = this.#entries.filter((e) => e.live);
        if (live.length > 0) {
          const entry = live.reduce((a, b) => (load(b) < load(a) || (load(b) === load(a) && b.routers < a.routers) ? b : a));
          entry.routers++;
          let router: types.Router;
          try {
            router = await entry.worker.createRouter({ mediaCodecs });
          } catch (error) {
            entry.routers--;
            throw error;
          }
          leased = true;
          router.observer.once('close', () => {
            entry.routers--;
            this.#routers--;
          });
          trackLoad(router, entry);
          const { listenIp, announcedAddress } = this.#options;
          return { router, webRtcServer: entry.webRtcServer, workerPid: entry.worker.pid, listenIp, announcedAddress };
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new ProtocolFailure('UNAVAILABLE', 'Audio and video are restarting on the server; try again in a moment');
        await Promise.race([this.#replaced.promise, new Promise((resolve) => setTimeout(resolve, left).unref())]);
      }
    } finally {
      if (!leased) this.#routers--;
    }
  }

  /** Per worker: its routers and what it carries (transports, producers, consumers, and their sum). */
  get loads(): ({ routers: number; load: number } & Carried)[] {
    return this.#entries.map((entry) => ({ routers: entry.routers, load: load(entry), ...entry.carried }));
  }

  /** Per worker: CPU seconds used (user + system) and peak resident memory in bytes. */
  async usage(): Promise<{ cpuSeconds: number; maxRssBytes: number }[]> {
    return Promise.all(
      this.#entries.map(async (entry) => {
        if (!entry.live || entry.worker.closed) return { cpuSeconds: 0, maxRssBytes: 0 };
        const u = await entry.worker.getResourceUsage();
        return { cpuSeconds: (u.ru_utime + u.ru_stime) / 1000, maxRssBytes: u.ru_maxrss * 1024 };
      }),
    );
  }

  /** Whether routers can be had: true while a dead worker is being replaced (a request waits for it). */
  get serving(): boolean {
    return !this.#closed;
  }

  get healthy(): boolean {
    return !this.#closed && this.#entries.every((e) => e.live && !e.worker.closed);
  }

  get pids(): number[] {
    return this.#entries.map((e) => e.worker.pid);
  }

  /** User + system CPU time of all live workers, in milliseconds. */
  async cpuTimeMs(): Promise<number> {
    const usages = await Promise.all(this.#entries.filter((e) => e.live).map((e) => e.worker.getResourceUsage()));
    return usages.reduce((sum, u) => sum + u.ru_utime + u.ru_stime, 0);
  }

  close(): void {
    this.#closed = true;
    for (const entry of this.#entries) entry.worker.close();
  }
}
