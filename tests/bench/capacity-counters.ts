import { createServer } from 'node:http';
import type { types } from 'mediasoup';

/*
 * Loss as the SFU itself counts it: every producer and consumer of the mediasoup module in this
 * process, followed through mediasoup's observer (workers → routers → transports), and their
 * own packet counters read on demand (getStats). Bare mediasoup reads them in the bench
 * process; our production server reads them in its own process through capacity-hook.ts.
 */

export interface SfuCounters {
  /**
   * Σ over consumers of the packets its producer's stream received, and of the packets the
   * consumer sent: both come from one getStats answer per consumer (mediasoup reports the
   * consumer's stream and its producer's together), so they are read at the same moment and
   * their difference over a window is what the worker received and did not forward.
   */
  expectedOut: number;
  consumerPackets: number;
  /** NACKs the consumers received and packets they retransmitted (none on a lossless loopback). */
  nacks: number;
  retransmitted: number;
  /** Every how many consumers one was read (the same at both ends of a window: pass it back). */
  every: number;
  /** The worker processes (pids), for pinning and CPU. */
  workerPids: number[];
}

export interface Tracked {
  /** `every`: read one consumer in so many (in the order they were made); by default as many as keep the read to about SAMPLE consumers. */
  read(every?: number): Promise<SfuCounters>;
}

/** About this many consumers are read: thousands of getStats take minutes from a saturated worker. */
const SAMPLE = 264;

const STATS_AT_ONCE = 32;

export function trackMediasoup(observer: types.Observer): Tracked {
  const workers = new Set<types.Worker>();
  const consumers = new Set<types.Consumer>();
  const keep = <T extends { observer: { once(event: 'close', f: () => void): unknown } }>(set: Set<T>, item: T) => {
    set.add(item);
    item.observer.once('close', () => set.delete(item));
  };
  observer.on('newworker', (worker) => {
    keep(workers, worker);
    worker.observer.on('newrouter', (router) => router.observer.on('newtransport', (transport) => transport.observer.on('newconsumer', (consumer) => keep(consumers, consumer))));
  });
  return {
    async read(every = Math.max(1, Math.ceil(consumers.size / SAMPLE))) {
      const counters: SfuCounters = { expectedOut: 0, consumerPackets: 0, nacks: 0, retransmitted: 0, every, workerPids: [...workers].map((w) => w.pid) };
      const all = [...consumers].filter((_, i) => i % every === 0);
      // A few dozen requests at a time: thousands at once would hold the worker from its sockets.
      for (let at = 0; at < all.length; at += STATS_AT_ONCE) {
        await Promise.all(
          all.slice(at, at + STATS_AT_ONCE).map(async (c) => {
            for (const s of await c.getStats().catch(() => [])) {
              if (s.type === 'inbound-rtp') counters.expectedOut += s.packetCount;
              if (s.type !== 'outbound-rtp') continue;
              counters.consumerPackets += s.packetCount;
              counters.nacks += s.nackCount;
              counters.retransmitted += s.packetsRetransmitted;
            }
          }),
        );
      }
      return counters;
    },
  };
}

/** The counters over HTTP on 127.0.0.1:`port` (GET /counters): for a server in another process. */
export function serveCounters(tracked: Tracked, port: number): void {
  const server = createServer((request, response) => {
    const every = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('every')) || undefined;
    tracked.read(every).then(
      (counters) => response.end(JSON.stringify(counters)),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  });
  server.listen(port, '127.0.0.1');
  server.unref();
}
