/*
 * bench:commands — how fast room commands go through the Redis store.
 *   npm run bench:commands
 * Starts the signal server in this process (Redis store on 127.0.0.1:6379 under a unique key
 * prefix, no web client, one mediasoup worker), makes a room with a facilitator, a second
 * facilitator and 10 members (acknowledged and admitted), then sends a few thousand
 * `room:command`s (room.setLocked and room.setAutoAdmit, alternating) from one and from two
 * facilitator sockets and prints commands per second and send → acknowledgement latency.
 * Beside them: the time the server spent in the store's update (a Redis HGET, the
 * compare-and-set script and the JSON), and bare Redis round trips measured with node-redis
 * in the same run. Clients and server share this one process and its event loop, so the
 * figures include the clients' own work (12 sockets receiving every view). Prints figures,
 * asserts nothing, deletes its keys and exits.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type {
  ClientToServerEvents,
  RequestName,
  RequestPayload,
  ResponseData,
  Result,
  RoomView,
  ServerToClientEvents,
} from '@group-room/shared';
import { createLogger, loadConfig, startSignalServer, type SignalServer } from '@group-room/signal';
import { createClient, type RedisClientType } from 'redis';
import { io, type Socket } from 'socket.io-client';
import { quantile } from './measure.js';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type CommandInput = RequestPayload<'room:command'>['command'];

const REDIS_URL = 'redis://127.0.0.1:6379';
const PREFIX = `group-room-bench:${process.pid}:${randomBytes(4).toString('hex')}:`;
const MEMBERS = 10;
const WARMUP = 300;
const REDIS_SAMPLES = 3000;
const ACK_TIMEOUT_MS = 10_000;
/** The whole run is bounded: past this it gives up and exits non-zero. */
const WATCHDOG_MS = 180_000;

interface Phase {
  label: string;
  sockets: 1 | 2;
  /** Commands each socket keeps in flight. */
  inFlight: number;
  commands: number;
}

const PHASES: Phase[] = [
  { label: '1 facilitator socket, 1 in flight', sockets: 1, inFlight: 1, commands: 2000 },
  { label: '2 facilitator sockets, 1 in flight each', sockets: 2, inFlight: 1, commands: 2000 },
  { label: '2 facilitator sockets, 8 in flight each', sockets: 2, inFlight: 8, commands: 2000 },
];

const say = (line = '') => process.stdout.write(`${line}\n`);


const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, median: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99), total: sum(sorted) };
}

// ---------------------------------------------------------------------------------------------
// Clients

const sockets: Client[] = [];

async function connect(server: SignalServer): Promise<Client> {
  const socket: Client = io(server.url, { transports: ['websocket'], forceNew: true, reconnection: false });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

async function ok<K extends RequestName>(socket: Client, name: K, payload: RequestPayload<K>): Promise<ResponseData<K>> {
  const result = (await (socket as unknown as Socket).timeout(ACK_TIMEOUT_MS).emitWithAck(name, payload)) as Result<ResponseData<K>>;
  if (!result.ok) throw new Error(`${name} failed: ${result.error.code} ${result.error.message}`);
  return result.data;
}

interface Person {
  socket: Client;
  view: RoomView;
  /** room:view events received. */
  views: number;
}

async function enter(server: SignalServer, roomId: string, token: string, displayName: string): Promise<Person> {
  const socket = await connect(server);
  const person = { socket, views: 0 } as Person;
  socket.on('room:view', () => {
    person.views++;
  });
  person.view = (await ok(socket, 'room:enter', { roomId, token, displayName })).view;
  return person;
}

const send = (person: Person, command: CommandInput) => ok(person.socket, 'room:command', { command });

/** The i-th command of a run: lock, unlock, auto-admit on, auto-admit off, … */
function commandFor(i: number): CommandInput {
  switch (i % 4) {
    case 0:
      return { type: 'room.setLocked', locked: true };
    case 1:
      return { type: 'room.setLocked', locked: false };
    case 2:
      return { type: 'room.setAutoAdmit', enabled: true };
    default:
      return { type: 'room.setAutoAdmit', enabled: false };
  }
}

/** Send `count` commands from these facilitators, `inFlight` at a time on each; the send → ack times. */
async function run(facilitators: Person[], inFlight: number, count: number): Promise<{ latencies: number[]; wallMs: number }> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (person: Person) => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const start = performance.now();
      await send(person, commandFor(i));
      latencies.push(performance.now() - start);
    }
  };
  const start = performance.now();
  await Promise.all(facilitators.flatMap((person) => Array.from({ length: inFlight }, () => worker(person))));
  return { latencies, wallMs: performance.now() - start };
}

/** Time `samples` sequential calls of `call`. */
async function timeEach(samples: number, call: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    await call();
    times.push(performance.now() - start);
  }
  return times;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench:commands gave up after ${WATCHDOG_MS / 1000} s\n`);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();

  const redis: RedisClientType = createClient({ url: REDIS_URL });
  redis.on('error', () => undefined);
  await redis.connect();

  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    SERVE_WEB: 'false',
    MEDIA_LISTEN_IP: '127.0.0.1',
    MEDIA_ANNOUNCED_ADDRESS: '127.0.0.1',
    MEDIA_PORT: '0',
    MEDIASOUP_WORKERS: '1',
    LOG_LEVEL: 'warn',
    REDIS_URL,
    REDIS_KEY_PREFIX: PREFIX,
    TOKEN_SECRET: randomBytes(32).toString('hex'),
    // This bench drives one socket as fast as it goes: lift the per-connection rate limit.
    SOCKET_REQUESTS_PER_SECOND: '1000000',
  });
  const server = await startSignalServer(config, { log: createLogger('warn') });

  // The time the server spends in the store's update for each command (Redis + JSON).
  let storeTimes: number[] | undefined;
  const store = server.store;
  const update = store.update.bind(store);
  store.update = async (...args) => {
    const start = performance.now();
    try {
      return await update(...args);
    } finally {
      storeTimes?.push(performance.now() - start);
    }
  };

  try {
    // The room: a facilitator, a second facilitator, 10 members through agreement and admission.
    const setup = await connect(server);
    const { roomId, facilitatorToken, inviteToken } = await ok(setup, 'room:create', { title: 'Bench' });
    const first = await enter(server, roomId, facilitatorToken, 'Facilitator 1');
    const second = await enter(server, roomId, facilitatorToken, 'Facilitator 2');
    const members: Person[] = [];
    for (let i = 1; i <= MEMBERS; i++) {
      const member = await enter(server, roomId, inviteToken, `Member ${i}`);
      await send(member, { type: 'agreement.acknowledge', version: member.view.agreement.version, privateSpace: true });
      await send(first, { type: 'member.admit', memberId: member.view.self.id });
      members.push(member);
    }
    const everyone = [first, second, ...members];
    const roomKey = `${PREFIX}room:${roomId}`;
    const docBytes = Buffer.byteLength((await redis.hGet(roomKey, 'doc')) ?? '');
    const version = async () => (await store.get(roomId))?.version ?? NaN;

    const barrier = () => Promise.all(everyone.map((p) => (p.socket as unknown as Socket).timeout(ACK_TIMEOUT_MS).emitWithAck('barrier')));
    await run([first, second], 1, WARMUP);
    await barrier();

    const rows: { phase: Phase; latency: ReturnType<typeof stats>; perSecond: number; writes: number; views: number; store: ReturnType<typeof stats>; storeBusy: number }[] = [];
    for (const phase of PHASES) {
      const facilitators = phase.sockets === 1 ? [first] : [first, second];
      const viewsBefore = sum(everyone.map((p) => p.views));
      const versionBefore = await version();
      storeTimes = [];
      const { latencies, wallMs } = await run(facilitators, phase.inFlight, phase.commands);
      const storeStats = stats(storeTimes);
      storeTimes = undefined;
      // Every view of the last command has arrived once each client has answered a round trip.
      await barrier();
      rows.push({
        phase,
        latency: stats(latencies),
        perSecond: (phase.commands / wallMs) * 1000,
        writes: (await version()) - versionBefore,
        views: sum(everyone.map((p) => p.views)) - viewsBefore,
        store: storeStats,
        storeBusy: storeStats.total / wallMs,
      });
    }

    // Bare Redis round trips from this process, on the same Redis, at the same time of the run.
    const doc = (await redis.hGet(roomKey, 'doc')) ?? '';
    const ping = stats(await timeEach(REDIS_SAMPLES, () => redis.ping()));
    const hget = stats(await timeEach(REDIS_SAMPLES, () => redis.hGet(roomKey, 'doc')));
    const json = stats(await timeEach(REDIS_SAMPLES, async () => JSON.stringify(JSON.parse(doc))));
    const evalDoc = stats(
      await timeEach(REDIS_SAMPLES, () =>
        redis.eval("return redis.call('HGET', KEYS[1], 'version') == ARGV[1]", { keys: [roomKey], arguments: ['-1', doc] }),
      ),
    );

    // End the session (everyone is let go) and delete every key this run made.
    await send(first, { type: 'session.end' });
    let deleted = 0;
    for await (const keys of redis.scanIterator({ MATCH: `${PREFIX}*` })) {
      if (keys.length) deleted += await redis.del(keys);
    }

    const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
    say();
    say(`bench:commands — room commands through the Redis store (${REDIS_URL}), Node ${process.version}, ${os.cpus().length} × ${cpu}`);
    say(`  one room: 2 facilitators + ${MEMBERS} admitted members (12 sockets, each sent its view after every change); room doc ${docBytes} bytes in Redis`);
    say('  commands alternate room.setLocked true/false and room.setAutoAdmit true/false; server and clients share this process');
    say();
    const header = ['', 'commands', 'cmd/s', 'median', 'p95', 'p99', 'writes', 'views sent', 'store.update median', 'p99', 'store.update share'];
    const table = rows.map((r) => [
      r.phase.label,
      String(r.latency.n),
      r.perSecond.toFixed(0),
      ms(r.latency.median),
      ms(r.latency.p95),
      ms(r.latency.p99),
      String(r.writes),
      String(r.views),
      ms(r.store.median),
      ms(r.store.p99),
      `${((r.store.total / r.latency.total) * 100).toFixed(0)} % of latency, ${(r.storeBusy * 100).toFixed(0)} % of wall`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
    const line = (cells: string[]) => `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`;
    say(line(header));
    for (const row of table) say(line(row));
    say();
    say('  latency = send → acknowledgement at the client. store.update = wall time of the server\'s store call per command:');
    say('  HGET of the doc, JSON, the compare-and-set script, and any wait for this shared event loop while it is busy with');
    say('  other work (the other command\'s views, the clients); no retries on one node, since the room queue serialises.');
    say('  writes < commands would mean a lock command found the room already in that state (no write, no views).');
    say();
    say(`  bare Redis round trips (node-redis, ${REDIS_SAMPLES} sequential each, same run):`);
    const label = (text: string) => `    ${text.padEnd(34)}`;
    say(`${label('PING')}median ${ms(ping.median)}, p99 ${ms(ping.p99)}`);
    say(`${label(`HGET of the room doc (${docBytes} B)`)}median ${ms(hget.median)}, p99 ${ms(hget.p99)}`);
    say(`${label('EVAL of a script carrying the doc')}median ${ms(evalDoc.median)}, p99 ${ms(evalDoc.p99)}`);
    say(`${label('(not Redis) JSON parse+stringify')}median ${ms(json.median)}, p99 ${ms(json.p99)}`);
    const floor = hget.median + evalDoc.median;
    const sequential = rows[0]!;
    const share = (part: number) => `${((part / sequential.latency.median) * 100).toFixed(0)} %`;
    say(
      `  Redis share of a command (sequential phase, median ${ms(sequential.latency.median)}): its two round trips (HGET + EVAL) ≈ ${ms(floor)} = ${share(floor)};`,
    );
    say(`  the whole store call (with JSON and event-loop waits) ${ms(sequential.store.median)} = ${share(sequential.store.median)}; the rest is the room queue, 12 views and Socket.IO.`);
    say(`  cleaned up: session ended, ${deleted} key(s) under ${PREFIX}* deleted`);
    say();
  } finally {
    for (const socket of sockets) socket.disconnect();
    await server.close();
    // Whatever an error left behind.
    for await (const keys of redis.scanIterator({ MATCH: `${PREFIX}*` })) {
      if (keys.length) await redis.del(keys);
    }
    await redis.close();
    clearTimeout(watchdog);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:commands failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
