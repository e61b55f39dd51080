import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  admittedMember,
  command,
  connect,
  disconnectAll,
  expectError,
  mediaJoin,
  ok,
  openRoom,
  REDIS_URL,
  request,
  startServer,
  WAIT,
  type Client,
  type TestServer,
  tryConnect,
  useRedis,
} from '../support/signal-client.js';

/*
 * Limits per client address and per process (#9 item 2): sockets per address on a node, room
 * creations per address across nodes (Redis), live rooms (MAX_ROOMS), rooms with media per
 * process (MAX_MEDIA_ROOMS), and new rooms placed on the worker carrying least.
 */

const servers: TestServer[] = [];

afterEach(async () => {
  disconnectAll();
  for (const t of servers.splice(0)) await t.server.close();
});

/** A socket as if it came through the loopback proxy from `address` (or from 127.0.0.1 itself). */
async function connectFrom(url: string, address?: string): Promise<{ socket: Client | null; error?: string }> {
  const { socket, refused } = await tryConnect(url, address ? { extraHeaders: { 'x-forwarded-for': address } } : {});
  return refused ? { socket: null, error: refused.message } : { socket };
}

const start = async (env: Record<string, string>) => {
  const t = await startServer(env);
  servers.push(t);
  return t;
};

describe('sockets per address (SOCKETS_PER_ADDRESS)', () => {
  it('lets exactly the limit through when 30 connect at once from one address, and a closed one makes a place', async () => {
    const { server } = await start({ SOCKETS_PER_ADDRESS: '5' });
    const attempts = await Promise.all(Array.from({ length: 30 }, () => connectFrom(server.url, '198.51.100.7')));
    const open = attempts.flatMap((a) => (a.socket ? [a.socket] : []));
    expect(open).toHaveLength(5);
    for (const refused of attempts.filter((a) => !a.socket)) expect(refused.error).toBe('Too many connections from your network');

    // Another address is counted on its own; loopback without a forwarded address too.
    expect((await connectFrom(server.url, '203.0.113.9')).socket).not.toBeNull();
    expect((await connectFrom(server.url)).socket).not.toBeNull();

    open[0]!.disconnect();
    open[1]!.disconnect();
    await vi.waitFor(async () => expect((await connectFrom(server.url, '198.51.100.7')).socket).not.toBeNull(), WAIT);
    expect((await connectFrom(server.url, '198.51.100.7')).socket).not.toBeNull();
    expect((await connectFrom(server.url, '198.51.100.7')).error).toBe('Too many connections from your network');
  });

  it('allows a whole group behind one router by default (64 sockets)', async () => {
    const { server } = await start({ SOCKETS_PER_ADDRESS: '' });
    const attempts = await Promise.all(Array.from({ length: 65 }, () => connectFrom(server.url, '198.51.100.8')));
    expect(attempts.filter((a) => a.socket)).toHaveLength(64);
  });

  it('a forwarded address is believed only from a proxy on this machine', async () => {
    // The test client is on loopback, so this checks the other half: the same header from
    // loopback counts for the forwarded address, not for 127.0.0.1.
    const { server } = await start({ SOCKETS_PER_ADDRESS: '1' });
    expect((await connectFrom(server.url, '198.51.100.10')).socket).not.toBeNull();
    expect((await connectFrom(server.url, '198.51.100.11')).socket).not.toBeNull();
    expect((await connectFrom(server.url)).socket).not.toBeNull();
    expect((await connectFrom(server.url)).error).toBe('Too many connections from your network');
  });
});

describe('room creations per address, counted in Redis across two nodes', () => {
  const prefix = `grt:limits:${randomUUID().slice(0, 8)}:`;
  const redis = useRedis(prefix);

  const twoNodes = async (env: Record<string, string>) => {
    const shared = { REDIS_URL, REDIS_KEY_PREFIX: `${prefix}${randomUUID().slice(0, 8)}:`, TOKEN_SECRET: randomBytes(32).toString('hex'), ...env };
    return [await start(shared), await start(shared)] as const;
  };

  const createFrom = async (t: TestServer, address: string, payload: { accessKey?: string } = {}) => {
    const { socket } = await connectFrom(t.server.url, address);
    return request(socket!, 'room:create', payload);
  };

  it('refuses the fourth creation of the hour from one address, whichever node it goes to; other addresses go on', async () => {
    const [a, b] = await twoNodes({ ROOMS_PER_ADDRESS_PER_HOUR: '3' });
    expect((await createFrom(a, '198.51.100.20')).ok).toBe(true);
    expect((await createFrom(b, '198.51.100.20')).ok).toBe(true);
    expect((await createFrom(a, '198.51.100.20')).ok).toBe(true);
    for (const node of [a, b]) {
      const error = expectError(await createFrom(node, '198.51.100.20'), 'RATE_LIMITED');
      expect(error.message).toMatch(/^Too many sessions created from here: try again in \d+ minutes?$/);
    }
    expect((await createFrom(b, '198.51.100.21')).ok).toBe(true);
    // No address is stored as it is.
    const keys = await redis.client.keys(`${prefix}*limit:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key).not.toMatch(/198\.51/);
  });

  it('lets a burst of creations race past the limit on neither node', async () => {
    const [a, b] = await twoNodes({ ROOMS_PER_ADDRESS_PER_HOUR: '4' });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => createFrom(i % 2 ? a : b, '198.51.100.22')));
    expect(results.filter((r) => r.ok)).toHaveLength(4);
  });

  it('counts wrong access keys across nodes', async () => {
    const key = 'correct horse battery staple';
    const [a, b] = await twoNodes({ ROOM_CREATION_KEY: key });
    for (let i = 0; i < 10; i++) expectError(await createFrom(i % 2 ? a : b, '198.51.100.23', { accessKey: `guess ${i}` }), 'FORBIDDEN');
    expectError(await createFrom(a, '198.51.100.23', { accessKey: key }), 'RATE_LIMITED');
    expectError(await createFrom(b, '198.51.100.23', { accessKey: key }), 'RATE_LIMITED');
    expect((await createFrom(b, '198.51.100.24', { accessKey: key })).ok).toBe(true);
  });
});

describe('per process: live rooms and rooms with media', () => {
  it('holds at most MAX_ROOMS live sessions; ending one makes a place', async () => {
    const { server } = await start({ MAX_ROOMS: '2' });
    const first = await openRoom(server);
    await openRoom(server);
    const socket = await connect(server);
    const error = expectError(await request(socket, 'room:create', {}), 'UNAVAILABLE');
    expect(error.message).toMatch(/as many sessions as it can/);
    await command(first.facilitator, { type: 'session.end' });
    expect((await ok(socket, 'room:create', {})).roomId).toBeTruthy();
  });

  it('runs media for at most MAX_MEDIA_ROOMS rooms at once; a room whose media closed makes a place', async () => {
    const { server } = await start({ MAX_MEDIA_ROOMS: '1' });
    const one = await openRoom(server);
    const two = await openRoom(server);
    await mediaJoin(one.facilitator);
    const results = await Promise.all(Array.from({ length: 5 }, () => request(two.facilitator.socket, 'media:join', {})));
    for (const result of results) expect(expectError(result, 'UNAVAILABLE').message).toMatch(/as many sessions as it can/);
    expect(server.rooms.mediaCount).toBe(1);
    await ok(one.facilitator.socket, 'room:leave', {});
    await vi.waitFor(() => expect(server.rooms.mediaCount).toBe(0), WAIT);
    await mediaJoin(two.facilitator);
    expect(server.rooms.mediaCount).toBe(1);
  });

  it('places a new room on the worker carrying least, not the one with fewest rooms', async () => {
    const { server } = await start({ MEDIASOUP_WORKERS: '2' });
    const pidOf = (roomId: string) => server.rooms.media(roomId)!.workerPid;
    // A busy room: four people with media, on one worker.
    const busy = await openRoom(server);
    const people = [busy.facilitator];
    for (const name of ['Ann', 'Ben', 'Cai']) people.push(await admittedMember(server, busy, busy.facilitator, name));
    for (const person of people) await mediaJoin(person);
    for (const person of people) {
      await ok(person.socket, 'transport:create', { direction: 'send' });
      await ok(person.socket, 'transport:create', { direction: 'recv' });
    }
    const busyPid = pidOf(busy.roomId);
    // Two quiet rooms (one person, no transports): both go to the other worker, though after
    // the first it holds more rooms than the busy one's.
    const quiet1 = await openRoom(server);
    await mediaJoin(quiet1.facilitator);
    const quiet2 = await openRoom(server);
    await mediaJoin(quiet2.facilitator);
    expect(pidOf(quiet1.roomId)).not.toBe(busyPid);
    expect(pidOf(quiet2.roomId)).toBe(pidOf(quiet1.roomId));
    expect(server.pool.loads.map((l) => l.routers).sort()).toEqual([1, 2]);
    const busyLoad = server.pool.loads.find((l) => l.routers === 1)!.load;
    expect(busyLoad).toBe(8);
  });
});
