import { randomBytes, randomUUID } from 'node:crypto';
import {
  events,
  ProtocolError,
  requests,
  resultSchema,
  type ClientToServerEvents,
  type ConsumerOffer,
  type ErrorCode,
  type EventName,
  type EventPayload,
  type RequestName,
  type RequestPayload,
  type ResponseData,
  type Result,
  type RoomView,
  type SeatResume,
  type ServerToClientEvents,
} from '@group-room/shared';
import { createLogger, loadConfig, startSignalServer, type SignalServer } from '@group-room/signal';
import type { types } from 'mediasoup';
import { createClient, type RedisClientType } from 'redis';
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, expect, vi } from 'vitest';

/*
 * Driving a real signal server (HTTP + Socket.IO + a real mediasoup worker) from tests with
 * socket.io-client: typed requests, every received event recorded and validated, and the
 * steps of the facilitated room (create, enter, acknowledge, admit, media).
 */

export type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
/** The same socket without the protocol's types, to send what a typed client cannot. */
export type RawClient = Socket;
export type CommandInput = RequestPayload<'room:command'>['command'];

export const ACK_TIMEOUT_MS = 10_000;
export const WAIT = { timeout: 10_000, interval: 20 };
export const REDIS_URL = 'redis://127.0.0.1:6379';

/** One store a test runs against, and the settings that choose it. */
export interface StoreCase {
  store: string;
  env: Record<string, string>;
}

/**
 * The two stores a test runs against: in memory, and the machine's Redis with its keys under
 * `prefix` (and a token secret, which Redis requires).
 */
export function bothStores(prefix: string, secret = randomBytes(32).toString('hex')): StoreCase[] {
  return [
    { store: 'in-memory', env: {} },
    { store: 'Redis', env: { REDIS_URL, REDIS_KEY_PREFIX: prefix, TOKEN_SECRET: secret } },
  ];
}

/**
 * A client of the machine's Redis for the enclosing describe block (or file), connected
 * before its tests; afterwards every key under `prefix` is deleted and the client closed.
 */
export function useRedis(prefix: string): { readonly client: RedisClientType } {
  let client: RedisClientType | undefined;
  beforeAll(async () => {
    client = createClient({ url: REDIS_URL });
    client.on('error', () => undefined);
    await client.connect();
  });
  afterAll(async () => {
    if (!client?.isOpen) return;
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) if (keys.length) await client.del(keys);
    await client.close();
  });
  return {
    get client() {
      if (!client) throw new Error('Redis is not connected yet: use it inside a test or a hook');
      return client;
    },
  };
}

export const baseEnv = {
  PORT: '0',
  HOST: '127.0.0.1',
  SERVE_WEB: 'false',
  MEDIA_LISTEN_IP: '127.0.0.1',
  MEDIA_ANNOUNCED_ADDRESS: '127.0.0.1',
  MEDIA_PORT: '0',
  MEDIASOUP_WORKERS: '1',
  LOG_LEVEL: 'warn',
  // Every test client comes from 127.0.0.1; tests of these limits set their own.
  SOCKETS_PER_ADDRESS: '100000',
  ROOMS_PER_ADDRESS_PER_HOUR: '100000',
  HANDSHAKE_BURST: '100000',
  HANDSHAKES_PER_SECOND: '100000',
  // Tests keep sockets that are in no room (a stranger, a creator) for as long as they run.
  IDLE_SOCKET_SECONDS: '3600',
  ENTRY_PER_ADDRESS: '100000',
};

export interface TestServer {
  server: SignalServer;
  /** Every log line the server wrote (warn and above). */
  logs: { level: string; msg: string }[];
}

export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
  // A name of its own (two live nodes never share one), unless the test names it.
  const config = loadConfig({ ...baseEnv, NODE_NAME: `t-${randomUUID().slice(0, 8)}`, ...env });
  const logs: TestServer['logs'] = [];
  const log = createLogger(config.LOG_LEVEL, (line) => logs.push(JSON.parse(line) as { level: string; msg: string }));
  const server = await startSignalServer(config, { log });
  return { server, logs };
}

/**
 * One server for the enclosing describe block, started (with `env`) before its tests. After
 * each test every client is closed and every seat kept after a drop is freed with its media,
 * until the server has no room left: nothing leaks between tests. After them all it is
 * closed, and it must not have logged a single error: nothing a test sends, however
 * malformed or abusive, is the server's fault. Read `server` and `logs` inside tests and hooks.
 */
export function useServer(env: Record<string, string> = {}): TestServer {
  let started: TestServer | undefined;

  beforeAll(async () => {
    started = await startServer(env);
  });

  afterEach(async () => {
    disconnectAll();
    await freeSeats(started!.server);
    await vi.waitFor(() => expect(started!.server.rooms.mediaCount).toBe(0), WAIT);
  });

  afterAll(async () => {
    await started?.server.close();
    expect(started?.logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  const running = (): TestServer => {
    if (!started) throw new Error('the server is not started yet: read it inside a test or a hook');
    return started;
  };
  return {
    get server() {
      return running().server;
    },
    get logs() {
      return running().logs;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Clients

export const openClients = new Set<Client>();
/** Every event each client received, in order (validated when read and when the client is closed). */
export const received = new WeakMap<Client, { event: string; payload: unknown }[]>();

/**
 * Connect with extra handshake options (a room in the query, a forwarded address); resolves
 * with the socket, or with the refusal (`connect_error`, whose `data` a middleware may set).
 * Either way the socket is closed by `disconnectAll`.
 */
export async function tryConnect(
  url: string,
  options: Partial<ManagerOptions & SocketOptions> = {},
): Promise<{ socket: Client; refused?: undefined } | { socket?: undefined; refused: Error & { data?: unknown } }> {
  const socket: Client = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, ...options });
  openClients.add(socket);
  const log: { event: string; payload: unknown }[] = [];
  received.set(socket, log);
  socket.onAny((event: string, payload: unknown) => {
    log.push({ event, payload });
  });
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket }));
    socket.once('connect_error', (refused) => resolve({ refused }));
  });
}

export async function connect(server: SignalServer): Promise<Client> {
  const { socket, refused } = await tryConnect(server.url);
  if (refused) throw refused;
  return socket;
}

/** Close every client; whatever the server sent any of them must be a known event with a valid payload. */
export function disconnectAll(): void {
  for (const socket of openClients) {
    socket.disconnect();
    for (const { event, payload } of received.get(socket) ?? []) {
      expect(Object.keys(events), `unknown event ${event}`).toContain(event);
      events[event as EventName].parse(payload);
    }
  }
  openClients.clear();
}

export const raw = (socket: Client) => socket as unknown as RawClient;

/** Send a request and return its acknowledgement, checked against the request's result schema. */
export async function request<K extends RequestName>(socket: Client, name: K, payload: RequestPayload<K>): Promise<Result<ResponseData<K>>> {
  const result: unknown = await raw(socket).timeout(ACK_TIMEOUT_MS).emitWithAck(name, payload);
  return resultSchema(requests[name].response).parse(result) as Result<ResponseData<K>>;
}

/** Send anything at all and return the raw acknowledgement. */
export async function rawRequest(socket: Client, name: string, ...args: unknown[]): Promise<unknown> {
  return raw(socket).timeout(ACK_TIMEOUT_MS).emitWithAck(name, ...args);
}

export async function ok<K extends RequestName>(socket: Client, name: K, payload: RequestPayload<K>): Promise<ResponseData<K>> {
  const result = await request(socket, name, payload);
  if (!result.ok) throw new Error(`${name} failed: ${result.error.code} ${result.error.message}`);
  return result.data;
}

/** The acknowledgement is exactly `{ ok: false, error: { code, message } }` with this code. */
export function expectError(result: unknown, code: ErrorCode): ProtocolError {
  expect(result).toEqual({ ok: false, error: { code, message: expect.any(String) } });
  const error = ProtocolError.parse((result as { error: unknown }).error);
  expect(error.message.length).toBeGreaterThan(0);
  return error;
}

/** Wait for the first `name` event matching `where` (already received or yet to come), validated with its schema. */
export async function waitForEvent<K extends EventName>(
  socket: Client,
  name: K,
  where: (payload: EventPayload<K>) => boolean = () => true,
): Promise<EventPayload<K>> {
  return vi.waitFor(() => {
    const found = eventsOf(socket, name).find(where);
    if (!found) throw new Error(`no ${name} event yet`);
    return found;
  }, WAIT);
}

export function eventsOf<K extends EventName>(socket: Client, name: K): EventPayload<K>[] {
  return (received.get(socket) ?? [])
    .filter((e) => e.event === name)
    .map((e) => events[name].parse(e.payload) as EventPayload<K>);
}

/** Everything this socket was sent, as one string: what a person could read off the wire. */
export const wireText = (socket: Client, from = 0, to?: number) => JSON.stringify((received.get(socket) ?? []).slice(from, to));
export const eventCount = (socket: Client) => received.get(socket)?.length ?? 0;

// ---------------------------------------------------------------------------------------------
// The facilitated room

export interface Links {
  roomId: string;
  facilitatorToken: string;
  inviteToken: string;
  /** What makes its holder the session's owner (room:create's answer). */
  ownerKey?: string;
}

/** Someone in a room: their socket, their member id, and the view and resume credential their enter (or resume) returned. */
export interface Person {
  socket: Client;
  id: string;
  name: string;
  entered: RoomView;
  /** What takes this seat back after a dropped connection (a new one after each resume). */
  resume: SeatResume;
}

export async function createRoom(server: SignalServer, options: RequestPayload<'room:create'> = {}): Promise<Links> {
  const socket = await connect(server);
  const links = await ok(socket, 'room:create', options);
  socket.disconnect();
  openClients.delete(socket);
  return links;
}

export async function enter(server: SignalServer, roomId: string, token: string, displayName: string): Promise<Person> {
  const socket = await connect(server);
  const { view, resume } = await ok(socket, 'room:enter', { roomId, token, displayName });
  return { socket, id: view.self.id, name: view.self.displayName, entered: view, resume };
}

/** Take a seat back from a new socket (after a drop or a reload) with the person's resume credential. */
export async function resume(server: SignalServer, person: Person, credential = person.resume.credential): Promise<Person> {
  const socket = await connect(server);
  const { view, resume } = await ok(socket, 'room:resume', { roomId: person.entered.roomId, credential });
  return { socket, id: view.self.id, name: view.self.displayName, entered: view, resume };
}

/**
 * The person's connection drops without "Leave" (the client socket closes): resolves once the
 * server has seen it go. Their seat stays, away, until they resume or a sweep frees it.
 */
export async function drop(server: SignalServer, person: Person): Promise<void> {
  const id = person.socket.id;
  person.socket.disconnect();
  if (id) await vi.waitFor(() => expect(server.io.sockets.sockets.has(id)).toBe(false), WAIT);
}

/** A time by which every seat away now is past any grace period (for `sweeper.sweep`). */
export const afterGrace = (graceSeconds = 3600) => Date.now() + (graceSeconds + 1) * 1000;

/**
 * One sweep of the seats as if it were `now` (by default: after every grace period), run to
 * its end. Twice, because a call while the sweeper's own periodic pass is under way gets that
 * pass (with the real time) instead of one at `now`.
 */
export async function sweepAt(server: SignalServer, now = afterGrace()): Promise<void> {
  await server.sweeper.sweep(now);
  await server.sweeper.sweep(now);
}

/**
 * Free the seats of everyone whose connection is gone, as the sweeper does once their grace
 * period is over: waits until the server has seen every socket close, then sweeps "later".
 */
export async function freeSeats(server: SignalServer): Promise<void> {
  await vi.waitFor(() => expect(server.io.sockets.sockets.size).toBe(0), WAIT);
  await sweepAt(server);
}

/** A room with its facilitator in it. */
export async function openRoom(server: SignalServer, name = 'Fay', options: RequestPayload<'room:create'> = {}) {
  const links = await createRoom(server, options);
  const facilitator = await enter(server, links.roomId, links.facilitatorToken, name);
  return { ...links, facilitator };
}

export const command = (person: Person, cmd: CommandInput) => ok(person.socket, 'room:command', { command: cmd });
export const tryCommand = (person: Person, cmd: CommandInput) => request(person.socket, 'room:command', { command: cmd });

/** The last view this person was pushed (the enter's own view is pushed too). */
export function currentView(person: Person): RoomView {
  const views = eventsOf(person.socket, 'room:view');
  return views.at(-1)?.view ?? person.entered;
}

/** Wait until this person's latest view satisfies `where`. */
export async function viewWhere(person: Person, where: (view: RoomView) => boolean, wait = WAIT): Promise<RoomView> {
  return vi.waitFor(() => {
    const view = currentView(person);
    if (!where(view)) throw new Error(`view not there yet: ${JSON.stringify(view.self)}`);
    return view;
  }, wait);
}

export const acknowledge = (person: Person, version = currentView(person).agreement.version) =>
  command(person, { type: 'agreement.acknowledge', version, privateSpace: true });

/** A member in the waiting room: entered with the invite and acknowledged the agreement. */
export async function waitingMember(server: SignalServer, links: Links, name: string): Promise<Person> {
  const member = await enter(server, links.roomId, links.inviteToken, name);
  await acknowledge(member);
  return member;
}

/** A member the facilitator admitted (after the agreement). */
export async function admittedMember(server: SignalServer, links: Links, facilitator: Person, name: string): Promise<Person> {
  const member = await waitingMember(server, links, name);
  await command(facilitator, { type: 'member.admit', memberId: member.id });
  await viewWhere(member, (v) => v.self.stage === 'admitted');
  return member;
}

export const mediaJoin = async (person: Person) => (await ok(person.socket, 'media:join', {})).routerRtpCapabilities;

/** The room's mediasoup objects, as mediasoup creates them (RoomMedia has no accessor for them). */
export function watchMedia(server: SignalServer, roomId: string) {
  const media = server.rooms.media(roomId);
  if (!media) throw new Error('no media room yet: media:join first');
  const producers = new Map<string, types.Producer>();
  const consumers = new Map<string, types.Consumer>();
  const transports = new Map<string, types.Transport>();
  media.router.observer.on('newtransport', (transport) => {
    transports.set(transport.id, transport);
    transport.observer.on('newproducer', (producer) => producers.set(producer.id, producer));
    transport.observer.on('newconsumer', (consumer) => consumers.set(consumer.id, consumer));
  });
  return { router: media.router, producers, consumers, transports };
}

// A valid-looking Opus send as a browser would describe it.
export const opusRtpParameters = {
  mid: '0',
  codecs: [
    {
      mimeType: 'audio/opus',
      payloadType: 111,
      clockRate: 48000,
      channels: 2,
      parameters: { minptime: 10, useinbandfec: 1 },
      rtcpFeedback: [{ type: 'transport-cc' }],
    },
  ],
  headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4 }],
  encodings: [{ ssrc: 11_111_111, dtx: false }],
  rtcp: { cname: 'test-cname', reducedSize: true },
};

/** The smallest plausible Opus send. */
export const plainOpus = (ssrc: number) => ({
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }],
  encodings: [{ ssrc }],
});

export const dtlsParameters = {
  role: 'client' as const,
  fingerprints: [{ algorithm: 'sha-256', value: Array.from({ length: 32 }, () => 'AB').join(':') }],
};

/** Start media and send a microphone: returns the producer id. */
export async function sendMic(person: Person, ssrc: number): Promise<string> {
  const send = await ok(person.socket, 'transport:create', { direction: 'send' });
  const { producerId } = await ok(person.socket, 'media:produce', { transportId: send.id, kind: 'audio', source: 'mic', rtpParameters: plainOpus(ssrc) });
  return producerId;
}

/** The consumers each socket's `media:ready` answers listed (those are not announced by `consumer:new`). */
const listed = new WeakMap<Client, ConsumerOffer[]>();

/** `media:ready` (its payload as given), the consumers its answer lists recorded for `offersOf`. */
export async function ready(person: Person, payload: RequestPayload<'media:ready'>): Promise<ConsumerOffer[]> {
  const { consumers } = await ok(person.socket, 'media:ready', payload);
  listed.set(person.socket, [...(listed.get(person.socket) ?? []), ...consumers]);
  return consumers;
}

/**
 * Make the receive transport and say it is ready with the router's own capabilities (and a
 * camera tile's height, when given): the consumers listed in the answer.
 */
export async function receive(person: Person, rtpCapabilities: RequestPayload<'media:ready'>['rtpCapabilities'], tileHeight?: number): Promise<ConsumerOffer[]> {
  await ok(person.socket, 'transport:create', { direction: 'recv' });
  return ready(person, tileHeight === undefined ? { rtpCapabilities } : { rtpCapabilities, tileHeight });
}

/** Every consumer offered to this socket: listed by `media:ready` (through `ready`), then announced by `consumer:new`. */
export function offersOf(socket: Client): ConsumerOffer[] {
  return [...(listed.get(socket) ?? []), ...eventsOf(socket, 'consumer:new')];
}

/** Wait for the first consumer offered to this socket (listed or announced) matching `where`. */
export async function waitForOffer(socket: Client, where: (offer: ConsumerOffer) => boolean = () => true): Promise<ConsumerOffer> {
  return vi.waitFor(() => {
    const found = offersOf(socket).find(where);
    if (!found) throw new Error('no such consumer offered yet');
    return found;
  }, WAIT);
}

