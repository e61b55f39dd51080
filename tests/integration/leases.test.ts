import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createLogger, loadConfig, startSignalServer } from '@group-room/signal';
import { createClient } from 'redis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import {
  admittedMember,
  baseEnv,
  command,
  connect,
  disconnectAll,
  eventsOf,
  expectError,
  mediaJoin,
  ok,
  openRoom,
  receive,
  REDIS_URL,
  request,
  resume,
  sendMic,
  startServer,
  tryCommand,
  useRedis,
  viewWhere,
  WAIT,
  waitForOffer,
  watchMedia,
  type Person,
  type TestServer,
} from '../support/signal-client.js';

/*
 * A room's home is a fenced lease (#16). Each case here was a failure of the code before it:
 * a node cut off from Redis went on forwarding a room's media after another node took the
 * room over, so a member removed through the new home kept hearing and being heard; after a
 * Redis outage longer than the lease the first node back took every other node's rooms;
 * an ending whose record failed was never told to anyone and could not be finished; a
 * start-up failing half way left workers and timers behind.
 */

const prefix = `grt:leases:${randomUUID().slice(0, 8)}:`;
useRedis(prefix);
const servers: TestServer[] = [];
const proxies: TcpProxy[] = [];
const redises: PrivateRedis[] = [];

afterEach(async () => {
  disconnectAll();
  for (const proxy of proxies.splice(0)) proxy.resume();
  for (const redis of redises) if (!redis.running) await redis.start();
  for (const t of servers.splice(0)) await t.server.close();
  for (const proxy of proxies.splice(0)) await proxy.close();
  for (const redis of redises.splice(0)) await redis.cleanup();
});

async function node(env: Record<string, string>): Promise<TestServer> {
  const t = await startServer(env);
  servers.push(t);
  return t;
}

const shared = () => ({ REDIS_KEY_PREFIX: `${prefix}${randomUUID().slice(0, 6)}:`, TOKEN_SECRET: randomBytes(32).toString('hex') });

/** Keep asking until it works (a room is taken only once the old home's lease lapsed). */
async function eventually<T>(attempt: () => Promise<T>, timeout = 20_000): Promise<T> {
  let result: T | undefined;
  await vi.waitFor(
    async () => {
      result = await attempt();
    },
    { timeout, interval: 250 },
  );
  return result as T;
}

describe('a node cut off from Redis while its clients stay connected', () => {
  it('stops forwarding the room before another node takes it; a removal through the new home reaches everyone', async () => {
    const env = shared();
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    proxies.push(proxy);
    const a = await node({ ...env, NODE_NAME: 'a', REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
    const b = await node({ ...env, NODE_NAME: 'b', REDIS_URL });

    const room = await openRoom(a.server, 'Fay');
    const fay = room.facilitator;
    const mo = await admittedMember(a.server, room, fay, 'Mo');
    const una = await admittedMember(a.server, room, fay, 'Una');
    const capabilities = await mediaJoin(fay);
    await mediaJoin(mo);
    await mediaJoin(una);
    const media = watchMedia(a.server, room.roomId);
    const unaMic = await sendMic(una, 5150);
    await receive(fay, capabilities);
    await receive(mo, capabilities);
    for (const person of [fay, mo]) {
      const consumer = await waitForOffer(person.socket, (c) => c.producerId === unaMic);
      await ok(person.socket, 'consumer:resume', { consumerId: consumer.consumerId });
    }
    expect([...media.consumers.values()].filter((c) => !c.paused)).toHaveLength(2);
    let routerClosedAt = 0;
    media.router.observer.once('close', () => (routerClosedAt = Date.now()));

    // A loses Redis; its sockets and media stay up as far as the network is concerned.
    proxy.hold();
    proxy.cut();

    // Within its lease A lets the room go on its own: media closed, everyone asked to reconnect.
    await vi.waitFor(() => expect(media.router.closed).toBe(true), { timeout: 10_000, interval: 50 });
    expect([...media.consumers.values()].every((c) => c.closed)).toBe(true);
    await vi.waitFor(() => expect([fay, mo, una].some((p) => p.socket.connected)).toBe(false), WAIT);

    // Fay comes back through B, which takes the room once A's lease has lapsed in Redis.
    const fayOnB = await eventually(() => resume(b.server, fay));
    const home = (await b.server.store.get(room.roomId))!.home!;
    expect(home).toMatchObject({ node: b.server.nodeId, name: 'b', fence: 2 });
    expect(routerClosedAt, 'A stopped forwarding before B served anyone').toBeGreaterThan(0);

    // The facilitator removes Una through the new home; Mo resumes there and never sees her again.
    await command(fayOnB, { type: 'member.remove', memberId: una.id, block: false });
    const moOnB = await resume(b.server, mo);
    const view = await viewWhere(moOnB, (v) => !(v.members ?? []).some((m) => m.id === una.id));
    expect(view.self.id).toBe(mo.id);
    await viewWhere(fayOnB, (v) => !(v.facilitation?.everyone ?? []).some((m) => m.id === una.id));
    // Una cannot come back, on either node, even once A has Redis again.
    expectError(await request(await connect(b.server), 'room:resume', { roomId: room.roomId, credential: una.resume.credential }), 'FORBIDDEN');
    proxy.resume();
    await vi.waitFor(() => expect(a.server.lease.valid()).toBe(true), { timeout: 10_000, interval: 100 });
    const onA = await connect(a.server);
    const refused = await request(onA, 'room:resume', { roomId: room.roomId, credential: una.resume.credential });
    expect(refused.ok).toBe(false);
    // The room stayed with B: A, back, did not take it back.
    expect((await b.server.store.get(room.roomId))!.home).toMatchObject({ node: b.server.nodeId, fence: 2 });
    expect(a.server.rooms.get(room.roomId)).toBeUndefined();
  });
});

describe('a Redis outage longer than the lease, with two nodes', () => {
  it('moves no room: each node takes its own rooms up again, with the same fence', async () => {
    const redis = await startRedisServer();
    redises.push(redis);
    const env = { ...shared(), REDIS_URL: redis.url };
    const a = await node({ ...env, NODE_NAME: 'a' });
    const b = await node({ ...env, NODE_NAME: 'b' });
    const onA = await openRoom(a.server, 'Fay');
    const onB = await openRoom(b.server, 'Gus');
    const homes = async () => [(await a.server.store.get(onA.roomId))!.home, (await b.server.store.get(onB.roomId))!.home];
    const before = await homes();
    expect(before.map((h) => h?.name)).toEqual(['a', 'b']);

    await redis.stop();
    await new Promise((resolve) => setTimeout(resolve, 8000));
    await redis.start();
    // Both nodes renew again; give the other a whole lease period and a sweep to misbehave in.
    await vi.waitFor(() => expect(a.server.lease.valid() && b.server.lease.valid()).toBe(true), { timeout: 10_000, interval: 100 });
    await new Promise((resolve) => setTimeout(resolve, a.server.lease.leaseMs + 2500));
    await a.server.sweeper.sweep();
    await b.server.sweeper.sweep();
    expect(await homes()).toEqual(before);
    // And each room's people resume on its own home.
    expect((await resume(a.server, onA.facilitator)).entered.self.role).toBe('facilitator');
    expect((await resume(b.server, onB.facilitator)).entered.self.role).toBe('facilitator');
  });
});

describe('an ending whose record fails', () => {
  async function endingRoom(t: TestServer): Promise<{ roomId: string; fay: Person; mo: Person }> {
    const room = await openRoom(t.server, 'Fay');
    const mo = await admittedMember(t.server, room, room.facilitator, 'Mo');
    await mediaJoin(room.facilitator);
    await mediaJoin(mo);
    expect(t.server.rooms.media(room.roomId)).toBeDefined();
    return { roomId: room.roomId, fay: room.facilitator, mo };
  }

  it('tells everyone and closes the media first; the next sweep records it', async () => {
    const t = await node({ ...shared(), REDIS_URL });
    const { roomId, fay, mo } = await endingRoom(t);
    const store = t.server.store;
    const end = store.end.bind(store);
    store.end = async () => {
      store.end = end;
      throw Object.assign(new Error('Redis went away'), { code: 'ECONNRESET' });
    };
    await tryCommand(fay, { type: 'session.end' });
    for (const person of [fay, mo]) await vi.waitFor(() => expect(eventsOf(person.socket, 'room:ended')).toEqual([{ reason: 'session-ended' }]), WAIT);
    expect(t.server.rooms.media(roomId)).toBeUndefined();
    expect((await store.get(roomId))?.ended, 'recorded as ended, not yet replaced by its record').toBe(true);
    await t.server.sweeper.sweep();
    expect(await store.get(roomId)).toBeNull();
    expect((await store.acknowledgementRecord(roomId))?.map((a) => a.memberId)).toEqual([mo.id]);
  });

  it('an end whose answer was lost is finished by its retry', async () => {
    const t = await node({ ...shared(), REDIS_URL });
    const { roomId, fay, mo } = await endingRoom(t);
    const store = t.server.store;
    const update = store.update.bind(store);
    store.update = async (...args) => {
      store.update = update;
      await update(...args); // written, but the answer never comes back
      throw Object.assign(new Error('Redis went away'), { code: 'ECONNRESET' });
    };
    expect((await tryCommand(fay, { type: 'session.end' })).ok).toBe(false);
    expect((await store.get(roomId))?.ended).toBe(true);
    expect(eventsOf(mo.socket, 'room:ended')).toEqual([]);
    await command(fay, { type: 'session.end' });
    for (const person of [fay, mo]) await vi.waitFor(() => expect(eventsOf(person.socket, 'room:ended')).toEqual([{ reason: 'session-ended' }]), WAIT);
    expect(t.server.rooms.media(roomId)).toBeUndefined();
    expect(await store.get(roomId)).toBeNull();
  });
});

/** The mediasoup worker processes this process runs now (from /proc). */
function workerPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && stat.includes('(mediasoup-worke')) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe('a start-up that fails half way', () => {
  it.each(['lease', 'limits', 'listening'])('closes everything it opened when it fails after %s', async (failAt) => {
    const env = shared();
    const config = loadConfig({ ...baseEnv, ...env, REDIS_URL, PORT: '0' });
    const workersBefore = workerPids().length;
    const lines: string[] = [];
    const failure = startSignalServer(config, {
      log: createLogger('info', (line) => lines.push(line)),
      onStep: (step) => {
        if (step === failAt) throw new Error(`failing after ${step}`);
      },
    });
    await expect(failure).rejects.toThrow(`failing after ${failAt}`);
    // The workers it started are gone, and its lease with them: nothing renews it any more.
    await vi.waitFor(() => expect(workerPids().length).toBe(workersBefore), WAIT);
    const redis = createClient({ url: REDIS_URL });
    await redis.connect();
    try {
      const leaseKeys = async () => (await redis.keys(`${env.REDIS_KEY_PREFIX}node:*`)).length;
      expect(await leaseKeys()).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await leaseKeys(), 'no timer left renewing a lease').toBe(0);
    } finally {
      await redis.close();
    }
  });
});
