/*
 * bench:views — what the views after each room change cost the signalling process.
 *   npm run bench:views -- [commands per phase=1400]
 * Starts the production server (`node apps/signal/dist/main.js`, in-memory store, no web
 * client, one mediasoup worker) as a child process, and fills one room with a facilitator and
 * 14 members, each a Socket.IO client in this process receiving `room:view`. Phases:
 *   - join: with auto-admit on, the 14 members enter and acknowledge the agreement all at once;
 *   - the facilitator switches the floor between open and raised hands (1, then 8 in flight);
 *   - in raised hands, the 14 members raise and lower their hands together (1, then 4 in
 *     flight each).
 * For each: commands/s, the server process's CPU (from /proc) per command, `room:view`
 * messages and bytes (the Socket.IO frames as received) per command across all 15 clients,
 * and send → acknowledgement latency. The per-socket request rate limit is lifted (as in
 * bench:commands) so the phases go as fast as the server answers; the limit of changes in
 * flight per connection stays.
 *
 * Then many rooms on one node: a second server with the Redis store (127.0.0.1:6379, a key
 * prefix of its own, deleted afterwards) holding 100 rooms of a facilitator and 5 members
 * (600 sockets: rooms of 15 would be 1500 clients decoding every view in this one process,
 * which would then be what limits the run, not the server), and the facilitators' floor
 * commands spread over the rooms, 16 and then 100 in flight: commands/s on the node, its CPU
 * (and Redis's) per command, p50/p99 latency.
 *
 * BENCH_SIGNAL_MAIN=/path/to/apps/signal/dist/main.js runs another build of the server (a
 * saved one, for before/after). Prints figures, asserts nothing, exits.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { ClientToServerEvents, RequestName, RequestPayload, ResponseData, Result, RoomView, ServerToClientEvents } from '@group-room/shared';
import { createClient, type RedisClientType } from 'redis';
import { io, type Socket } from 'socket.io-client';
import { startProductionServer, type RunningServer } from '../support/prod-server.js';
import { quantile } from './measure.js';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type CommandInput = RequestPayload<'room:command'>['command'];

const COMMANDS = Number(process.argv[2] ?? 1400);
const MEMBERS = 14;
/** The server build to run (default: this checkout's). */
const SIGNAL_MAIN = process.env['BENCH_SIGNAL_MAIN'] || undefined;
const REDIS_URL = 'redis://127.0.0.1:6379';
/** Many rooms: how many, members in each beside its facilitator, commands per phase. */
const ROOMS = 100;
const ROOM_MEMBERS = 5;
const SPREAD_COMMANDS = 4000;
/** Rooms set up at once (each: create, then its people enter together). */
const SETUP_PARALLEL = 10;
const ACK_TIMEOUT_MS = 10_000;
/** The whole run is bounded: past this it gives up and exits non-zero. */
const WATCHDOG_MS = 420_000;
/** A `room:view` event as Socket.IO frames it on the default namespace. */
const VIEW_FRAME = '2["room:view",';

const say = (line = '') => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------
// The server process's CPU time

/**
 * CPU time of every thread of the process so far, in ms: the sum of /proc/<pid>/task/<tid>/schedstat
 * (nanoseconds), or /proc/<pid>/stat's utime + stime (10 ms ticks) where schedstat is missing.
 */
function cpuMs(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e6;
  } catch {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after "(comm) ".
    return (Number(fields[11]) + Number(fields[12])) * 10;
  }
}

// ---------------------------------------------------------------------------------------------
// Clients

interface Person {
  socket: Client;
  id: string;
  view: RoomView;
  /** room:view frames and their bytes received. */
  views: number;
  viewBytes: number;
}

const sockets: Client[] = [];

async function connect(url: string): Promise<Client> {
  const socket: Client = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

async function request<K extends RequestName>(socket: Client, name: K, payload: RequestPayload<K>): Promise<Result<ResponseData<K>>> {
  return (await (socket as unknown as Socket).timeout(ACK_TIMEOUT_MS).emitWithAck(name, payload)) as Result<ResponseData<K>>;
}

async function ok<K extends RequestName>(socket: Client, name: K, payload: RequestPayload<K>): Promise<ResponseData<K>> {
  const result = await request(socket, name, payload);
  if (!result.ok) throw new Error(`${name} failed: ${result.error.code} ${result.error.message}`);
  return result.data;
}

/** A connected client counting the `room:view` frames it receives, before it enters. */
async function person(url: string): Promise<Person> {
  const socket = await connect(url);
  const p = { socket, id: '', views: 0, viewBytes: 0 } as Person;
  // The engine's packets are the frames as they arrived, before Socket.IO decodes them.
  socket.io.engine.on('packet', (packet) => {
    if (packet.type === 'message' && typeof packet.data === 'string' && packet.data.startsWith(VIEW_FRAME)) {
      p.views++;
      p.viewBytes += Buffer.byteLength(packet.data);
    }
  });
  socket.on('room:view', ({ view }) => {
    p.view = view;
  });
  return p;
}

async function enter(p: Person, roomId: string, token: string, displayName: string): Promise<void> {
  const { view } = await ok(p.socket, 'room:enter', { roomId, token, displayName });
  p.id = view.self.id;
  p.view ??= view;
}

/** Every client has answered a round trip: whatever was sent to it before has arrived. */
const barrier = (people: Person[]) => Promise.all(people.map((p) => (p.socket as unknown as Socket).timeout(ACK_TIMEOUT_MS).emitWithAck('barrier')));

// ---------------------------------------------------------------------------------------------
// Phases

interface Row {
  label: string;
  commands: number;
  failed: number;
  wallMs: number;
  cpuMs: number;
  clientCpuMs: number;
  views: number;
  bytes: number;
  latencies: number[];
  /** Redis's CPU over the phase (many rooms only). */
  redisCpuMs?: number;
}

/**
 * Run `work` (which returns its send → ack latencies and how many were refused) and measure
 * it: wall time, server and client CPU, and views received by everyone once all have arrived.
 */
async function measure(
  label: string,
  serverPid: number,
  everyone: Person[],
  work: () => Promise<{ latencies: number[]; failed: number }>,
  redisCpu?: () => Promise<number>,
): Promise<Row> {
  await barrier(everyone);
  const views = everyone.reduce((n, p) => n + p.views, 0);
  const bytes = everyone.reduce((n, p) => n + p.viewBytes, 0);
  const redisBefore = await redisCpu?.();
  const cpu = cpuMs(serverPid);
  const clientCpu = process.cpuUsage();
  const start = performance.now();
  const { latencies, failed } = await work();
  const wallMs = performance.now() - start;
  await barrier(everyone);
  const used = process.cpuUsage(clientCpu);
  const redisAfter = await redisCpu?.();
  return {
    ...(redisBefore !== undefined && redisAfter !== undefined ? { redisCpuMs: redisAfter - redisBefore } : {}),
    label,
    commands: latencies.length,
    failed,
    wallMs,
    cpuMs: cpuMs(serverPid) - cpu,
    clientCpuMs: (used.user + used.system) / 1000,
    views: everyone.reduce((n, p) => n + p.views, 0) - views,
    bytes: everyone.reduce((n, p) => n + p.viewBytes, 0) - bytes,
    latencies,
  };
}

/**
 * Each of `senders` sends its commands (`next(sender, i)` for its i-th) with `inFlight` of
 * them outstanding, until `count` have been sent in all.
 */
async function drive(senders: Person[], inFlight: number, count: number, next: (sender: Person, i: number) => CommandInput): Promise<{ latencies: number[]; failed: number }> {
  const latencies: number[] = [];
  let failed = 0;
  let sent = 0;
  const perSender = new Map<Person, number>();
  const worker = async (sender: Person) => {
    while (sent < count) {
      sent++;
      const i = perSender.get(sender) ?? 0;
      perSender.set(sender, i + 1);
      const start = performance.now();
      const result = await request(sender.socket, 'room:command', { command: next(sender, i) });
      latencies.push(performance.now() - start);
      if (!result.ok) failed++;
    }
  };
  await Promise.all(senders.flatMap((sender) => Array.from({ length: inFlight }, () => worker(sender))));
  return { latencies, failed };
}

// ---------------------------------------------------------------------------------------------

/** Stop the clients of a run (the server's sockets go with them). */
function disconnectAll(): void {
  for (const socket of sockets.splice(0)) socket.disconnect();
}

/** The server, started as the benches start it, on `SIGNAL_MAIN` when given. */
function startServer(env: Record<string, string>): Promise<RunningServer> {
  return startProductionServer(
    {
      SERVE_WEB: 'false',
      LOG_LEVEL: 'warn',
      // This bench drives sockets as fast as they are answered: lift the per-connection rate limit.
      SOCKET_REQUESTS_PER_SECOND: '1000000',
      ...env,
    },
    SIGNAL_MAIN,
  );
}

function pidOf(server: RunningServer): number {
  const pid = server.child.pid;
  if (pid === undefined) throw new Error('the server process has no pid');
  return pid;
}

/** One room of 15, in-memory store. */
async function oneRoom(): Promise<Row[]> {
  const server = await startServer({});
  try {
    const pid = pidOf(server);
    const setup = await connect(server.url);
    const { roomId, facilitatorToken, inviteToken } = await ok(setup, 'room:create', { title: 'Bench', durationMinutes: 120 });
    const facilitator = await person(server.url);
    await enter(facilitator, roomId, facilitatorToken, 'Facilitator');
    await ok(facilitator.socket, 'room:command', { command: { type: 'room.setAutoAdmit', enabled: true } });
    const members: Person[] = [];
    for (let i = 1; i <= MEMBERS; i++) members.push(await person(server.url));
    const everyone = [facilitator, ...members];

    const rows: Row[] = [];
    // Everyone arrives together: 14 × (enter + acknowledge), each admitted by auto-admit.
    rows.push(
      await measure(`join: ${MEMBERS} members enter + acknowledge at once`, pid, everyone, async () => {
        const latencies: number[] = [];
        await Promise.all(
          members.map(async (member, i) => {
            let start = performance.now();
            await enter(member, roomId, inviteToken, `Member ${i + 1}`);
            latencies.push(performance.now() - start);
            start = performance.now();
            await ok(member.socket, 'room:command', { command: { type: 'agreement.acknowledge', version: member.view.agreement.version, privateSpace: true } });
            latencies.push(performance.now() - start);
          }),
        );
        return { latencies, failed: 0 };
      }),
    );
    const admitted = facilitator.view.members?.length ?? 0;
    if (admitted !== MEMBERS + 1) throw new Error(`expected ${MEMBERS + 1} people in the room, the facilitator sees ${admitted}`);

    const floor = (i: number): CommandInput => ({ type: 'floor.setMode', mode: i % 2 === 0 ? 'hands' : 'open' });
    rows.push(await measure('facilitator: floor open ↔ hands, 1 in flight', pid, everyone, () => drive([facilitator], 1, COMMANDS, (_, i) => floor(i))));
    rows.push(await measure('facilitator: floor open ↔ hands, 8 in flight', pid, everyone, () => drive([facilitator], 8, COMMANDS, (_, i) => floor(i))));

    await ok(facilitator.socket, 'room:command', { command: { type: 'floor.setMode', mode: 'hands' } });
    const hand = (i: number): CommandInput => (i % 2 === 0 ? { type: 'hand.raise' } : { type: 'hand.lower' });
    rows.push(await measure(`${MEMBERS} members: hand raise ↔ lower, 1 in flight each`, pid, everyone, () => drive(members, 1, COMMANDS, (_, i) => hand(i))));
    rows.push(await measure(`${MEMBERS} members: hand raise ↔ lower, 4 in flight each`, pid, everyone, () => drive(members, 4, COMMANDS, (_, i) => hand(i))));

    await ok(facilitator.socket, 'room:command', { command: { type: 'session.end' } });
    return rows;
  } finally {
    disconnectAll();
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Many rooms through Redis

interface BenchRoom {
  facilitator: Person;
  members: Person[];
  /** Floor commands sent to this room so far (which mode the next one sets). */
  sent: number;
}

/** A room of a facilitator and ROOM_MEMBERS members, all admitted (auto-admit), each receiving views. */
async function fillRoom(url: string, n: number): Promise<BenchRoom> {
  const setup = await connect(url);
  const { roomId, facilitatorToken, inviteToken } = await ok(setup, 'room:create', { title: `Bench ${n}`, durationMinutes: 120 });
  setup.disconnect();
  const facilitator = await person(url);
  await enter(facilitator, roomId, facilitatorToken, 'Facilitator');
  await ok(facilitator.socket, 'room:command', { command: { type: 'room.setAutoAdmit', enabled: true } });
  const members = await Promise.all(
    Array.from({ length: ROOM_MEMBERS }, async (_, i) => {
      const member = await person(url);
      await enter(member, roomId, inviteToken, `Member ${i + 1}`);
      await ok(member.socket, 'room:command', { command: { type: 'agreement.acknowledge', version: member.view.agreement.version, privateSpace: true } });
      return member;
    }),
  );
  await barrier([facilitator, ...members]);
  const admitted = facilitator.view.members?.length ?? 0;
  if (admitted !== ROOM_MEMBERS + 1) throw new Error(`expected ${ROOM_MEMBERS + 1} people in room ${n}, its facilitator sees ${admitted}`);
  return { facilitator, members, sent: 0 };
}

/**
 * `count` floor commands spread over the rooms, `inFlight` at a time on the node: the i-th
 * goes to room i mod ROOMS (so with fewer in flight than rooms, no room has two at once).
 */
async function spread(rooms: BenchRoom[], inFlight: number, count: number): Promise<{ latencies: number[]; failed: number }> {
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const room = rooms[i % rooms.length]!;
      const mode = room.sent++ % 2 === 0 ? 'hands' : 'open';
      const start = performance.now();
      const result = await request(room.facilitator.socket, 'room:command', { command: { type: 'floor.setMode', mode } });
      latencies.push(performance.now() - start);
      if (!result.ok) failed++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { latencies, failed };
}

/** Redis's own CPU so far (INFO cpu), in ms. */
async function redisCpuMs(redis: RedisClientType): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

interface ManyRooms {
  rows: Row[];
  setupMs: number;
  docBytes: number;
  deleted: number;
}

async function manyRooms(): Promise<ManyRooms> {
  const prefix = `group-room-bench-views:${process.pid}:${randomBytes(4).toString('hex')}:`;
  const redis: RedisClientType = createClient({ url: REDIS_URL });
  redis.on('error', () => undefined);
  await redis.connect();
  let server: RunningServer | undefined;
  const cleanUp = async () => {
    let deleted = 0;
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*` })) {
      if (keys.length) deleted += await redis.del(keys);
    }
    return deleted;
  };
  try {
    server = await startServer({ REDIS_URL, REDIS_KEY_PREFIX: prefix, TOKEN_SECRET: randomBytes(32).toString('hex'), MAX_ROOMS: String(ROOMS * 2) });
    const pid = pidOf(server);
    const setupStart = performance.now();
    const rooms: BenchRoom[] = [];
    for (let n = 0; n < ROOMS; n += SETUP_PARALLEL) {
      rooms.push(...(await Promise.all(Array.from({ length: Math.min(SETUP_PARALLEL, ROOMS - n) }, (_, k) => fillRoom(server!.url, n + k)))));
    }
    const setupMs = performance.now() - setupStart;
    const everyone = rooms.flatMap((room) => [room.facilitator, ...room.members]);
    let docBytes = 0;
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}room:*`, COUNT: 1000 })) {
      for (const key of keys) docBytes ||= Buffer.byteLength((await redis.hGet(key, 'doc')) ?? '');
    }
    const redisCpu = () => redisCpuMs(redis);
    // Warm up (the code paths compiled, every room's state read once), then the phases.
    await spread(rooms, 16, ROOMS * 2);
    const rows: Row[] = [];
    for (const inFlight of [16, ROOMS]) {
      rows.push(await measure(`${ROOMS} rooms: floor open ↔ hands, ${inFlight} in flight over the node`, pid, everyone, () => spread(rooms, inFlight, SPREAD_COMMANDS), redisCpu));
    }
    await Promise.all(rooms.map((room) => ok(room.facilitator.socket, 'room:command', { command: { type: 'session.end' } })));
    disconnectAll();
    await server.stop();
    server = undefined;
    return { rows, setupMs, docBytes, deleted: await cleanUp() };
  } finally {
    disconnectAll();
    await server?.stop();
    await cleanUp();
    await redis.close();
  }
}

// ---------------------------------------------------------------------------------------------

const fixed = (value: number, digits: number) => value.toFixed(digits);

function printTable(rows: Row[], withRedis: boolean): void {
  const header = ['', 'commands', 'refused', 'cmd/s', 'server CPU/cmd', ...(withRedis ? ['Redis CPU/cmd'] : []), 'views/cmd', 'view bytes/cmd', 'p50', 'p99', 'client CPU/cmd'];
  const table = rows.map((r) => {
    const sorted = [...r.latencies].sort((a, b) => a - b);
    return [
      r.label,
      String(r.commands),
      String(r.failed),
      fixed((r.commands / r.wallMs) * 1000, 0),
      `${fixed(r.cpuMs / r.commands, 3)} ms`,
      ...(withRedis ? [`${fixed((r.redisCpuMs ?? NaN) / r.commands, 3)} ms`] : []),
      fixed(r.views / r.commands, 2),
      fixed(r.bytes / r.commands, 0),
      `${fixed(quantile(sorted, 0.5), 2)} ms`,
      `${fixed(quantile(sorted, 0.99), 2)} ms`,
      `${fixed(r.clientCpuMs / r.commands, 3)} ms`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`;
  say(line(header));
  for (const row of table) say(line(row));
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench:views gave up after ${WATCHDOG_MS / 1000} s\n`);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  try {
    const one = await oneRoom();
    const many = await manyRooms();

    const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
    const build = SIGNAL_MAIN ? `node ${SIGNAL_MAIN}` : 'node apps/signal/dist/main.js';
    say();
    say(`bench:views — room:view fan-out after room changes, Node ${process.version}, ${os.cpus().length} × ${cpu}`);
    say(`  one room: 1 facilitator + ${MEMBERS} members, all admitted (${MEMBERS + 1} sockets); server: ${build}, in-memory store`);
    say(`  CPU = the server process (all its threads, from /proc); clients = this process (${MEMBERS + 1} Socket.IO clients receiving every view)`);
    say();
    printTable(one, false);
    say();
    say(`  join: a command is one enter or one acknowledgement (${MEMBERS * 2} in all). latency = send → acknowledgement at the client.`);
    say(`  views/cmd: every room:view frame any of the ${MEMBERS + 1} clients received, over the commands; ${MEMBERS + 1} means one view per change to each.`);
    say();
    const sockets = ROOMS * (ROOM_MEMBERS + 1);
    say(`  many rooms on one node: ${ROOMS} rooms of 1 facilitator + ${ROOM_MEMBERS} members (${sockets} sockets), Redis store (${REDIS_URL}); server: ${build}`);
    say(`  (rooms of 6, not 15: 1500 clients decoding every view in this one process would limit the run before the server);`);
    say(`  room doc ${many.docBytes} bytes in Redis; set up in ${fixed(many.setupMs / 1000, 1)} s; each facilitator's floor.setMode, the i-th command to room i mod ${ROOMS}`);
    say();
    printTable(many.rows, true);
    say();
    say('  cmd/s = commands per second on this one node (one signal process, one mediasoup worker idle); Redis CPU from INFO cpu.');
    say(`  cleaned up: sessions ended, ${many.deleted} key(s) under the run's prefix deleted`);
    say();
  } finally {
    disconnectAll();
    clearTimeout(watchdog);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:views failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
