/*
 * bench:sweep — what a node's seat sweep costs when Redis holds many rooms. Two signal nodes
 * (in this process) share Redis under a prefix of the bench's own; node b is home to N rooms
 * (empty ones: the read is the cost), node a to a few. It prints, over several sweeps each: how long a's
 * sweep takes and how many rooms it reads (it should read only its own), and how long b's
 * takes for its N rooms (read 8 at a time). Before #16 every node read every room, one at a
 * time, every 2 s.
 *   npm run bench:sweep -- [rooms on b=1000] [rooms on a=10] [sweeps=5]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createLogger, loadConfig, startSignalServer, type SignalServer } from '@group-room/signal';
import { createClient } from 'redis';
import { newRoom } from '../../apps/signal/src/room/state.js';
import { quantile } from './measure.js';

const onB = Number(process.argv[2] ?? 1000);
const onA = Number(process.argv[3] ?? 10);
const sweeps = Number(process.argv[4] ?? 5);
const prefix = `group-room-bench-sweep:${randomUUID().slice(0, 8)}:`;
const REDIS_URL = 'redis://127.0.0.1:6379';
const env = { PORT: '0', HOST: '127.0.0.1', SERVE_WEB: 'false', MEDIA_LISTEN_IP: '127.0.0.1', MEDIA_ANNOUNCED_ADDRESS: '127.0.0.1', MEDIA_PORT: '0', MEDIASOUP_WORKERS: '1', REDIS_URL, REDIS_KEY_PREFIX: prefix, MAX_ROOMS: '100000', TOKEN_SECRET: randomBytes(32).toString('hex'), LOG_LEVEL: 'error' };
const quiet = createLogger('error', () => undefined);

async function node(name: string): Promise<SignalServer> {
  return startSignalServer(loadConfig({ ...env, NODE_NAME: name }), { log: quiet });
}

/** Rooms made straight in the store and taken by `server` (as if someone had connected there). */
async function fill(server: SignalServer, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const room = newRoom({ id: randomBytes(12).toString('base64url'), capacity: 16, title: '', agreement: 'Be kind.', startsAt: Date.now(), durationMinutes: 90 });
    await server.store.create(room);
    await server.rooms.claim(room.id);
  }
}

/** Time `sweeps` sweeps of `server`, counting the rooms read. */
async function time(server: SignalServer): Promise<{ ms: number[]; reads: number }> {
  const store = server.store;
  const get = store.get.bind(store);
  let reads = 0;
  store.get = (roomId) => {
    reads++;
    return get(roomId);
  };
  const ms: number[] = [];
  for (let i = 0; i < sweeps; i++) {
    const start = performance.now();
    await server.sweeper.sweep();
    ms.push(performance.now() - start);
  }
  store.get = get;
  return { ms, reads: reads / sweeps };
}

const a = await node('bench-a');
const b = await node('bench-b');
try {
  process.stdout.write(`filling: ${onB} rooms on b, ${onA} on a …\n`);
  await fill(b, onB);
  await fill(a, onA);
  const resultA = await time(a);
  const resultB = await time(b);
  const line = (label: string, r: { ms: number[]; reads: number }) => {
    const sorted = [...r.ms].sort((x, y) => x - y);
    return `${label}: median ${quantile(sorted, 0.5).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms, rooms read per sweep ${r.reads}\n`;
  };
  process.stdout.write(`Redis holds ${onA + onB} rooms; ${sweeps} sweeps each (the sweep runs every 2000 ms)\n`);
  process.stdout.write(line(`node a (home to ${onA})`, resultA));
  process.stdout.write(line(`node b (home to ${onB})`, resultB));
} finally {
  await a.close();
  await b.close();
  const redis = createClient({ url: REDIS_URL });
  await redis.connect();
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) if (keys.length) await redis.del(keys);
  await redis.close();
}
