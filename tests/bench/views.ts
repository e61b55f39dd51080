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
 * flight per connection stays. Prints figures, asserts nothing, exits.
 */
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { ClientToServerEvents, RequestName, RequestPayload, ResponseData, Result, RoomView, ServerToClientEvents } from '@group-room/shared';
import { io, type Socket } from 'socket.io-client';
import { startProductionServer, type RunningServer } from '../support/prod-server.js';
import { quantile } from './measure.js';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type CommandInput = RequestPayload<'room:command'>['command'];

const COMMANDS = Number(process.argv[2] ?? 1400);
const MEMBERS = 14;
const ACK_TIMEOUT_MS = 10_000;
/** The whole run is bounded: past this it gives up and exits non-zero. */
const WATCHDOG_MS = 300_000;
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
}

/**
 * Run `work` (which returns its send → ack latencies and how many were refused) and measure
 * it: wall time, server and client CPU, and views received by everyone once all have arrived.
 */
async function measure(label: string, serverPid: number, everyone: Person[], work: () => Promise<{ latencies: number[]; failed: number }>): Promise<Row> {
  await barrier(everyone);
  const views = everyone.reduce((n, p) => n + p.views, 0);
  const bytes = everyone.reduce((n, p) => n + p.viewBytes, 0);
  const cpu = cpuMs(serverPid);
  const clientCpu = process.cpuUsage();
  const start = performance.now();
  const { latencies, failed } = await work();
  const wallMs = performance.now() - start;
  await barrier(everyone);
  const used = process.cpuUsage(clientCpu);
  return {
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

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench:views gave up after ${WATCHDOG_MS / 1000} s\n`);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();

  let server: RunningServer | undefined;
  try {
    server = await startProductionServer({
      SERVE_WEB: 'false',
      LOG_LEVEL: 'warn',
      // This bench drives sockets as fast as they are answered: lift the per-connection rate limit.
      SOCKET_REQUESTS_PER_SECOND: '1000000',
    });
    const pid = server.child.pid;
    if (pid === undefined) throw new Error('the server process has no pid');

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

    const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
    say();
    say(`bench:views — room:view fan-out after room changes, Node ${process.version}, ${os.cpus().length} × ${cpu}`);
    say(`  one room: 1 facilitator + ${MEMBERS} members, all admitted (${everyone.length} sockets); server: node apps/signal/dist/main.js, in-memory store`);
    say('  CPU = the server process (all its threads, from /proc); clients = this process (15 Socket.IO clients receiving every view)');
    say();
    const fixed = (value: number, digits: number) => value.toFixed(digits);
    const header = ['', 'commands', 'refused', 'cmd/s', 'server CPU/cmd', 'views/cmd', 'view bytes/cmd', 'p50', 'p99', 'client CPU/cmd'];
    const table = rows.map((r) => {
      const sorted = [...r.latencies].sort((a, b) => a - b);
      return [
        r.label,
        String(r.commands),
        String(r.failed),
        fixed((r.commands / r.wallMs) * 1000, 0),
        `${fixed(r.cpuMs / r.commands, 3)} ms`,
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
    say();
    say('  join: a command is one enter or one acknowledgement (28 in all). latency = send → acknowledgement at the client.');
    say(`  views/cmd: every room:view frame any of the ${everyone.length} clients received, over the commands; ${everyone.length} means one view per change to each.`);
    say();
  } finally {
    for (const socket of sockets) socket.disconnect();
    await server?.stop();
    clearTimeout(watchdog);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:views failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
