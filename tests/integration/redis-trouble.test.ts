import { randomBytes } from 'node:crypto';
import { ProtocolFailure } from '@group-room/shared';
import { createLogger, RedisRoomStore, type RoomStore, type SignalServer } from '@group-room/signal';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import {
  admittedMember,
  connect,
  disconnectAll,
  expectError,
  mediaJoin,
  ok,
  openRoom,
  receive,
  request,
  resume,
  sendMic,
  startServer,
  type TestServer,
  tryCommand,
  viewWhere,
  WAIT,
  waitForOffer,
  watchMedia,
} from '../support/signal-client.js';

/*
 * Redis goes away under a live room and comes back, while the signal server keeps running.
 * A blip shorter than the node's lease: room commands are answered UNAVAILABLE at once (not
 * left hanging until the client gives up), the node stays ready, the media already flowing is
 * left alone, and once Redis is back (same data, same port) the same command works again. An
 * outage longer than the lease: the node can no longer prove it holds its rooms, so it lets
 * them go (media closed, people asked to reconnect, readiness false) and takes them up again
 * once Redis is back, everyone in their seats. The Redis here is a private one, stopped and
 * started by the test.
 */

const TITLE = 'Thursday evening circle';
const UNAVAILABLE_MESSAGE = "The session's data cannot be reached right now. Try again in a moment.";
const NAMES = ['Fenella Quillfeather', 'Mordecai Larkspur'];

describe('Redis trouble', () => {
  let redis: PrivateRedis;
  let t: TestServer;
  let server: SignalServer;

  beforeAll(async () => {
    redis = await startRedisServer();
    t = await startServer({
      REDIS_URL: redis.url,
      TOKEN_SECRET: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
    });
    server = t.server;
  });

  afterAll(async () => {
    disconnectAll();
    // A server whose Redis is gone may wait for it to close: bring it back first.
    if (redis && !redis.running) await redis.start();
    await server?.close();
    await redis?.cleanup();
  });

  const health = async (path: '/healthz' | '/readyz') => {
    const response = await fetch(`${server.url}${path}`);
    return { status: response.status, body: (await response.json()) as unknown };
  };

  it('a blip shorter than the lease: answers UNAVAILABLE while Redis is down, keeps the media, and works again once Redis is back', async () => {
    // A facilitator and an admitted member, the member's microphone reaching the facilitator.
    const room = await openRoom(server, NAMES[0], { title: TITLE });
    const fac = room.facilitator;
    const mo = await admittedMember(server, room, fac, NAMES[1]!);
    const capabilities = await mediaJoin(fac);
    await mediaJoin(mo);
    const media = watchMedia(server, room.roomId);
    const mic = await sendMic(mo, 4242);
    await receive(fac, capabilities);
    const consumer = await waitForOffer(fac.socket, (c) => c.producerId === mic);
    await ok(fac.socket, 'consumer:resume', { consumerId: consumer.consumerId });
    const roomMedia = server.rooms.media(room.roomId);
    expect(roomMedia).toBeDefined();
    expect((await health('/readyz')).status).toBe(200);
    const logsBefore = t.logs.length;

    await redis.stop();
    const stoppedAt = Date.now();

    // Answered with a typed error well before the test's own ack timeout (10 s).
    const refused = expectError(await tryCommand(fac, { type: 'room.setLocked', locked: true }), 'UNAVAILABLE');
    expect(refused.message).toMatch(/try again/i);
    // Again, now that the client has certainly noticed.
    expectError(await tryCommand(fac, { type: 'room.setLocked', locked: true }), 'UNAVAILABLE');

    // A new connection is still let in (sockets per address are counted on the node), and
    // creating a room gets the store's answer: the per-address creation count carries on in
    // the process while Redis is away rather than failing the request itself.
    const newcomer = await connect(server);
    expect(expectError(await request(newcomer, 'room:create', {}), 'UNAVAILABLE').message).toBe(UNAVAILABLE_MESSAGE);

    // Counted for the operator's dashboards.
    const redisErrors = (await server.metrics.registry.getSingleMetric('group_room_redis_errors_total')!.get()).values[0]!.value;
    expect(redisErrors).toBeGreaterThanOrEqual(3);

    expect(await health('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    // Ready all the same: a blip must not make every node refuse the start page.
    expect(await health('/readyz')).toMatchObject({ status: 200, body: { status: 'ready', checks: { workers: true, lease: true } } });
    expect(server.httpServer.listening).toBe(true);

    // The media already flowing is untouched: same router, producer and consumer, none closed or paused.
    expect(server.rooms.media(room.roomId)).toBe(roomMedia);
    expect(media.router.closed).toBe(false);
    const producer = media.producers.get(mic)!;
    const serverConsumer = media.consumers.get(consumer.consumerId)!;
    expect({ closed: producer.closed, paused: producer.paused }).toEqual({ closed: false, paused: false });
    expect({ closed: serverConsumer.closed, paused: serverConsumer.paused, producerPaused: serverConsumer.producerPaused }).toEqual({
      closed: false,
      paused: false,
      producerPaused: false,
    });
    expect(fac.socket.connected && mo.socket.connected).toBe(true);
    // The premise of this test: all of the above happened within the lease.
    expect(Date.now() - stoppedAt).toBeLessThan(server.lease.leaseMs - 2000);

    await redis.start();

    // The same command works again by itself, with the room's data as it was.
    await vi.waitFor(
      async () => {
        const result = await tryCommand(fac, { type: 'room.setLocked', locked: true });
        if (!result.ok) throw new Error(`still ${result.error.code}`);
      },
      { timeout: 15_000, interval: 250 },
    );
    for (const person of [fac, mo]) await viewWhere(person, (v) => v.locked && v.title === TITLE && v.members?.length === 2, WAIT);
    expect((await health('/readyz')).status).toBe(200);
    expect(server.rooms.media(room.roomId)).toBe(roomMedia);
    expect(producer.closed || serverConsumer.closed).toBe(false);

    // Said once each way, and never with the room's contents.
    const during = t.logs.slice(logsBefore).map((l) => `${l.level} ${l.msg}`);
    expect(during.filter((l) => l === 'warn redis unavailable')).toHaveLength(1);
    expect(during.filter((l) => l === 'info redis reachable again')).toHaveLength(1);
    expect(during.indexOf('warn redis unavailable')).toBeLessThan(during.indexOf('info redis reachable again'));
    for (const line of t.logs.map((l) => JSON.stringify(l))) {
      for (const secret of [TITLE, ...NAMES, room.roomId]) expect(line).not.toContain(secret);
    }
  });

  it('an outage longer than the lease: the node lets its rooms go, then takes them up again with everyone in their seats', async () => {
    const room = await openRoom(server, NAMES[0], { title: TITLE });
    const fac = room.facilitator;
    const mo = await admittedMember(server, room, fac, NAMES[1]!);
    await mediaJoin(fac);
    await mediaJoin(mo);
    expect(server.rooms.media(room.roomId)).toBeDefined();

    await redis.stop();
    // Within the lease (5 s, less its margin) the node stops serving: media closed, people let go.
    await vi.waitFor(() => expect(server.lease.valid()).toBe(false), { timeout: 8000, interval: 100 });
    expect(server.rooms.get(room.roomId)).toBeUndefined();
    expect(server.rooms.media(room.roomId)).toBeUndefined();
    await vi.waitFor(() => expect(fac.socket.connected || mo.socket.connected).toBe(false), WAIT);
    expect((await health('/readyz')).body).toMatchObject({ status: 'not ready', checks: { lease: false } });

    await redis.start();
    await vi.waitFor(() => expect(server.lease.valid()).toBe(true), { timeout: 10_000, interval: 100 });
    expect((await health('/readyz')).status).toBe(200);
    // The room never changed home, and both seats are kept (away) for their people's resume.
    const stored = (await server.store.get(room.roomId))!;
    expect(stored.home?.node).toBe(server.nodeId);
    expect(Object.keys(stored.members).sort()).toEqual([fac.id, mo.id].sort());
    for (const person of [fac, mo]) {
      const back = await resume(server, person);
      expect(back.entered.self.id).toBe(person.id);
    }
  });
});

type StoredRoom = Parameters<RoomStore['create']>[0];
type LogLine = { level: string; msg: string } & Record<string, unknown>;

/** The rejection of `promise`, which must be a ProtocolFailure with this code. */
async function failure(promise: Promise<unknown>, code: string, label = ''): Promise<ProtocolFailure> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, label).toBeInstanceOf(ProtocolFailure);
  expect((error as ProtocolFailure).code, label).toBe(code);
  return error as ProtocolFailure;
}

describe('RedisRoomStore when Redis goes away', () => {
  let redis: PrivateRedis;
  let store: RedisRoomStore;
  const lines: LogLine[] = [];
  const log = createLogger('debug', (line) => lines.push(JSON.parse(line) as LogLine));
  const ROOM_ID = 'room-in-trouble-0001';
  // Only what the store needs to keep and read back a room (the TTL here is fixed).
  const room = { id: ROOM_ID, version: 0, title: TITLE } as unknown as StoredRoom;

  beforeAll(async () => {
    redis = await startRedisServer();
    store = await RedisRoomStore.connect({ url: redis.url, prefix: 'trouble:', ttl: () => 600, log, callTimeoutMs: 300 });
    expect(await store.create(room)).toBe(true);
    await store.renewLease({ id: 'node-a', name: 'a' }, 600_000);
  });

  afterAll(async () => {
    if (redis?.running) redis.resume();
    else await redis?.start();
    await store?.close();
    await redis?.cleanup();
    expect(JSON.stringify(lines)).not.toContain(TITLE);
    expect(JSON.stringify(lines)).not.toContain(ROOM_ID);
  });

  it('refuses every call at once with UNAVAILABLE while Redis is down, and works again when it is back', async () => {
    lines.length = 0;
    await redis.stop();
    const change = vi.fn((state: StoredRoom) => state);
    const calls: Record<string, () => Promise<unknown>> = {
      create: () => store.create({ ...room, id: 'another-room' } as StoredRoom),
      get: () => store.get(ROOM_ID),
      update: () => store.update(ROOM_ID, change),
      end: () => store.end(ROOM_ID, 60),
      acknowledgementRecord: () => store.acknowledgementRecord(ROOM_ID),
      takeAcknowledgements: () => store.takeAcknowledgements(ROOM_ID, 0),
      delete: () => store.delete(ROOM_ID),
      roomIds: () => store.roomIds(),
      renewLease: () => store.renewLease({ id: 'node-a', name: 'a' }, 600_000),
      claimHome: () => store.claimHome(ROOM_ID, { id: 'node-a', name: 'a' }, { takeLapsed: true }),
      heldRooms: () => store.heldRooms('node-a'),
      lapsedRooms: () => store.lapsedRooms(10),
      releaseHomes: () => store.releaseHomes({ id: 'node-a', name: 'a' }),
      ping: () => store.ping(),
    };
    for (const [name, call] of Object.entries(calls)) {
      expect((await failure(call(), 'UNAVAILABLE', name)).message).toBe(UNAVAILABLE_MESSAGE);
    }
    expect(change).not.toHaveBeenCalled();
    expect(lines).toEqual([{ t: expect.any(String), level: 'warn', msg: 'redis unavailable', error: expect.any(String) }]);

    await redis.start();
    await vi.waitFor(() => store.ping(), { timeout: 10_000, interval: 100 });
    // Nothing was written while it was down (delete, end, claimHome, releaseHomes were refused).
    expect(await store.get(ROOM_ID)).toEqual(room);
    expect(await store.roomIds()).toEqual([ROOM_ID]);
    expect(await store.heldRooms('node-a')).toEqual([]);
    expect(await store.acknowledgementRecord(ROOM_ID)).toBeNull();
    expect(lines.map((l) => `${l.level} ${l.msg}`)).toEqual(['warn redis unavailable', 'info redis reachable again']);
  });

  it('fails a call that Redis does not answer once its deadline passed, and goes on when Redis answers again', async () => {
    lines.length = 0;
    const change = vi.fn((state: StoredRoom) => state);
    redis.pause();
    try {
      await failure(store.get(ROOM_ID), 'UNAVAILABLE', 'get');
      await failure(store.update(ROOM_ID, change), 'UNAVAILABLE', 'update');
      await failure(store.roomIds(), 'UNAVAILABLE', 'roomIds');
      await failure(store.ping(), 'UNAVAILABLE', 'ping');
    } finally {
      redis.resume();
    }
    expect(change).not.toHaveBeenCalled();
    await vi.waitFor(() => store.ping(), { timeout: 10_000, interval: 100 });
    expect(await store.get(ROOM_ID)).toEqual(room);
    expect(lines).toEqual([
      { t: expect.any(String), level: 'warn', msg: 'redis unavailable', error: 'CALL_TIMEOUT' },
      { t: expect.any(String), level: 'info', msg: 'redis reachable again' },
    ]);
  });

  it("passes the room's own failures through unchanged", async () => {
    await failure(store.update('no-such-room', (state) => state), 'NOT_FOUND');
    const forbidden = new ProtocolFailure('FORBIDDEN', 'Not you');
    await expect(
      store.update(ROOM_ID, () => {
        throw forbidden;
      }),
    ).rejects.toBe(forbidden);
  });

  it('closes at once while Redis is down', async () => {
    const other = await RedisRoomStore.connect({ url: redis.url, prefix: 'trouble:', ttl: () => 600, log: createLogger('error', () => undefined) });
    await redis.stop();
    await failure(other.ping(), 'UNAVAILABLE');
    await other.close();
    await redis.start();
    await vi.waitFor(() => store.ping(), { timeout: 10_000, interval: 100 });
  });
});
