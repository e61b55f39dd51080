import type { Socket as UdpSocket } from 'node:dgram';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { createLogger } from '../../apps/signal/src/logger.js';
import { mediaCodecs } from '../../apps/signal/src/media/codecs.js';
import { WorkerPool } from '../../apps/signal/src/media/worker-pool.js';
import { RtpSink } from '../support/synthetic-member.js';
import { bareRoom, Sender } from './capacity.js';

/*
 * npm run bench:placement [-- <members per busy room>]
 *
 * Where a new room's router goes, before and after placement by load, on two workers: a busy
 * room (everyone sending), a quiet one (one person), then a second busy room. Before (the rule
 * until 2026-11-30, rebuilt here: fewest routers, the first worker on a tie) the second busy
 * room lands beside the first; after (our WorkerPool: least transports + producers +
 * consumers) it lands beside the quiet one. Printed: each worker's share of a core over 5 s.
 */

const members = Number(process.argv[2] ?? 12);
const WINDOW_MS = 5000;

interface Placement {
  name: string;
  createRouter(): Promise<types.Router>;
  cpuSeconds(): Promise<number[]>;
  close(): void;
}

async function fewestRouters(): Promise<Placement> {
  const workers = [await mediasoup.createWorker({ logLevel: 'warn' }), await mediasoup.createWorker({ logLevel: 'warn' })];
  const routers = workers.map(() => 0);
  return {
    name: 'before: fewest routers',
    async createRouter() {
      const index = routers[1]! < routers[0]! ? 1 : 0;
      routers[index]!++;
      return workers[index]!.createRouter({ mediaCodecs });
    },
    cpuSeconds: () =>
      Promise.all(
        workers.map(async (w) => {
          const u = await w.getResourceUsage();
          return (u.ru_utime + u.ru_stime) / 1000;
        }),
      ),
    close: () => workers.forEach((w) => w.close()),
  };
}

async function byLoad(): Promise<Placement> {
  const pool = await WorkerPool.create({ count: 2, logLevel: 'warn', listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', basePort: 0, log: createLogger('warn') });
  return {
    name: 'after: by load (WorkerPool)',
    createRouter: async () => (await pool.createRouter()).router,
    cpuSeconds: async () => (await pool.usage()).map((u) => u.cpuSeconds),
    close: () => pool.close(),
  };
}

async function run(make: () => Promise<Placement>): Promise<string> {
  const placement = await make();
  const sender = new Sender();
  const sink = await RtpSink.open();
  const sockets: UdpSocket[] = [];
  try {
    for (const size of [members, 1, members]) await bareRoom(await placement.createRouter(), size, sink, sender, sockets);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    sink.reset();
    const before = await placement.cpuSeconds();
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    const seconds = (performance.now() - started) / 1000;
    const shares = (await placement.cpuSeconds()).map((cpu, i) => (cpu - before[i]!) / seconds);
    const totals = sink.totals();
    const loss = totals.expected ? totals.lost / totals.expected : 0;
    return `  ${placement.name.padEnd(28)} worker 0 ${(shares[0]! * 100).toFixed(0)} % of a core, worker 1 ${(shares[1]! * 100).toFixed(0)} %; the busiest core ${(Math.max(...shares) * 100).toFixed(0)} %; loss ${(loss * 100).toFixed(2)} %`;
  } finally {
    sender.stop();
    for (const s of sockets) s.close();
    sink.close();
    placement.close();
  }
}

async function main(): Promise<void> {
  const lines = [await run(fewestRouters), await run(byLoad)];
  process.stdout.write(
    [
      '',
      `bench:placement — two workers; rooms made in order: ${members} members all sending, 1 member, ${members} members all sending (plain RTP, audio + 300 kbit/s video)`,
      ...lines,
      '',
    ].join('\n'),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:placement failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
