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
  log: Logger;
  /** A worker died: its rooms' media is gone. */
  onWorkerDied: (error: Error) => void;
}

interface PoolEntry {
  worker: types.Worker;
  webRtcServer: types.WebRtcServer;
  routers: number;
}

export interface RouterLease {
  router: types.Router;
  webRtcServer: types.WebRtcServer;
}

/** One mediasoup Worker per core, each with one WebRtcServer (one UDP + TCP port). */
export class WorkerPool {
  readonly #entries: PoolEntry[];
  #closed = false;

  private constructor(entries: PoolEntry[]) {
    this.#entries = entries;
  }

  static async create(options: WorkerPoolOptions): Promise<WorkerPool> {
    const entries: PoolEntry[] = [];
    try {
      for (let i = 0; i < options.count; i++) {
        const worker = await mediasoup.createWorker({ logLevel: options.logLevel });
        const listen = (protocol: 'udp' | 'tcp'): types.TransportListenInfo => ({
          protocol,
          ip: options.listenIp,
          announcedAddress: options.announcedAddress,
          ...(options.basePort ? { port: options.basePort + i } : {}),
        });
        const webRtcServer = await worker.createWebRtcServer({ listenInfos: [listen('udp'), listen('tcp')] });
        entries.push({ worker, webRtcServer, routers: 0 });
      }
    } catch (error) {
      for (const entry of entries) entry.worker.close();
      throw error;
    }
    const pool = new WorkerPool(entries);
    for (const entry of entries) {
      entry.worker.on('died', (error) => {
        if (pool.#closed) return;
        options.log.error('mediasoup worker died', { pid: entry.worker.pid, error: error.message });
        options.onWorkerDied(error);
      });
    }
    return pool;
  }

  /** A router on the least-loaded worker. */
  async createRouter(): Promise<RouterLease> {
    const entry = this.#entries.reduce((a, b) => (b.routers < a.routers ? b : a));
    const router = await entry.worker.createRouter({ mediaCodecs });
    entry.routers++;
    router.observer.once('close', () => {
      entry.routers--;
    });
    return { router, webRtcServer: entry.webRtcServer };
  }

  get healthy(): boolean {
    return !this.#closed && this.#entries.every((e) => !e.worker.closed && !e.worker.died);
  }

  get pids(): number[] {
    return this.#entries.map((e) => e.worker.pid);
  }

  /** User + system CPU time of all workers, in milliseconds. */
  async cpuTimeMs(): Promise<number> {
    const usages = await Promise.all(this.#entries.map((e) => e.worker.getResourceUsage()));
    return usages.reduce((sum, u) => sum + u.ru_utime + u.ru_stime, 0);
  }

  close(): void {
    this.#closed = true;
    for (const entry of this.#entries) entry.worker.close();
  }
}
