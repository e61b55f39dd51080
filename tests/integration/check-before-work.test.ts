import { randomBytes, randomUUID } from 'node:crypto';
import { MAX_MESSAGE_BYTES } from '@group-room/shared';
import { BARE_MARGIN, MESSAGE_HARD_CAP, type SignalServer } from '@group-room/signal';
import { Socket as EngineSocket } from 'engine.io-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  command,
  createRoom,
  disconnectAll,
  expectError,
  ok,
  openRoom,
  raw,
  REDIS_URL,
  request,
  startServer,
  tryConnect,
  useRedis,
  type Client,
  type TestServer,
} from '../support/signal-client.js';

/*
 * Check before work (#18 item 7): what a stranger can make the server do before anything of
 * theirs is checked. A resume's credential is verified before the room is read; a handshake
 * naming a room only reads (a room is claimed on enter or resume); handshakes are limited per
 * address; a socket in no room is closed; WebSocket is the only transport; a message over the
 * size limit is answered TOO_LARGE before its connection closes.
 */

const prefix = `grt:check:${randomUUID().slice(0, 8)}:`;
const redis = useRedis(prefix);
let t: TestServer | undefined;

afterEach(async () => {
  disconnectAll();
  await t?.server.close();
  t = undefined;
});

/** Count the store calls the server makes from now on. */
function countStoreCalls(server: SignalServer): { readonly reads: number; readonly claims: number } {
  const store = server.store;
  const counts = { reads: 0, claims: 0 };
  const get = store.get.bind(store);
  const claimHome = store.claimHome.bind(store);
  store.get = (roomId) => {
    counts.reads++;
    return get(roomId);
  };
  store.claimHome = (...args) => {
    counts.claims++;
    return claimHome(...args);
  };
  return counts;
}

const forgedCredential = () => randomBytes(48).toString('base64url');

describe('room:resume', () => {
  it('checks the credential before reading the room; a genuine one for a room that is gone hears the session ended', async () => {
    t = await startServer();
    const room = await openRoom(t.server);
    const stranger = (await tryConnect(t.server.url)).socket!;
    const calls = countStoreCalls(t.server);
    expectError(await request(stranger, 'room:resume', { roomId: room.roomId, credential: forgedCredential() }), 'FORBIDDEN');
    expectError(await request(stranger, 'room:resume', { roomId: randomBytes(12).toString('base64url'), credential: forgedCredential() }), 'FORBIDDEN');
    expect(calls).toEqual({ reads: 0, claims: 0 });

    await command(room.facilitator, { type: 'session.end' });
    const again = (await tryConnect(t.server.url)).socket!;
    expectError(await request(again, 'room:resume', { roomId: room.roomId, credential: room.facilitator.resume.credential }), 'NOT_FOUND');
    expectError(await request(again, 'room:resume', { roomId: room.roomId, credential: forgedCredential() }), 'FORBIDDEN');
  });
});

describe('a handshake naming a room', () => {
  /** Everything under the server's prefix but the nodes' leases (renewed all the time). */
  async function snapshot(serverPrefix: string): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for await (const keys of redis.client.scanIterator({ MATCH: `${serverPrefix}*`, COUNT: 100 })) {
      for (const key of keys) {
        if (key.startsWith(`${serverPrefix}node:`) || key === `${serverPrefix}nodes`) continue;
        const type = await redis.client.type(key);
        if (type === 'hash') out[key] = await redis.client.hGetAll(key);
        else if (type === 'set') out[key] = (await redis.client.sMembers(key)).sort();
        else if (type === 'string') out[key] = await redis.client.get(key);
        else if (type === 'zset') out[key] = await redis.client.zRange(key, 0, -1);
        else out[key] = type;
      }
    }
    return out;
  }

  it('writes nothing, for a room nobody serves or one that does not exist; entering claims it', async () => {
    const serverPrefix = `${prefix}${randomUUID().slice(0, 8)}:`;
    t = await startServer({ REDIS_URL, REDIS_KEY_PREFIX: serverPrefix, TOKEN_SECRET: randomBytes(32).toString('hex') });
    const room = await createRoom(t.server);
    const before = await snapshot(serverPrefix);
    const calls = countStoreCalls(t.server);
    const named = await tryConnect(t.server.url, { query: { room: room.roomId } });
    expect(named.socket?.connected).toBe(true);
    const unknown = await tryConnect(t.server.url, { query: { room: randomBytes(12).toString('base64url') } });
    expect(unknown.socket?.connected).toBe(true);
    expect(calls.claims).toBe(0);
    expect(await snapshot(serverPrefix)).toEqual(before);
    expect((await t.server.store.get(room.roomId))?.home).toBeUndefined();

    // The room is claimed when someone enters it.
    await ok(named.socket!, 'room:enter', { roomId: room.roomId, token: room.facilitatorToken, displayName: 'Fay' });
    expect((await t.server.store.get(room.roomId))?.home).toMatchObject({ node: t.server.nodeId });
  });
});

describe('handshakes per address', () => {
  it('a burst, then a few a second; another address is counted apart', async () => {
    t = await startServer({ HANDSHAKE_BURST: '30', HANDSHAKES_PER_SECOND: '1' });
    const attempts = await Promise.all(Array.from({ length: 40 }, () => tryConnect(t!.server.url, { extraHeaders: { 'x-forwarded-for': '198.51.100.80' } })));
    const refused = attempts.flatMap((a) => (a.refused ? [a.refused.message] : []));
    // 30 at once, and at most the one a second that came back meanwhile.
    expect(40 - refused.length).toBeGreaterThanOrEqual(30);
    expect(40 - refused.length).toBeLessThanOrEqual(32);
    expect(new Set(refused)).toEqual(new Set(['Too many new connections from your network: wait a moment']));
    expect((await tryConnect(t.server.url, { extraHeaders: { 'x-forwarded-for': '198.51.100.81' } })).socket?.connected).toBe(true);
  });
});

describe('connections that never join the socket namespace', () => {
  const opened: EngineSocket[] = [];
  afterEach(() => {
    for (const socket of opened.splice(0)) socket.close();
  });

  /** A bare Engine.IO connection (what a Socket.IO client opens first), from `address` through the loopback proxy; resolves once it opened or failed. */
  function bare(url: string, address: string): Promise<EngineSocket> {
    const socket = new EngineSocket(url, { path: '/socket.io/', transports: ['websocket'], extraHeaders: { 'x-forwarded-for': address } });
    opened.push(socket);
    return new Promise((resolve) => {
      socket.once('open', () => resolve(socket));
      socket.once('error', () => resolve(socket));
      socket.once('close', () => resolve(socket));
    });
  }
  const stillOpen = (sockets: EngineSocket[]) => sockets.filter((s) => s.readyState === 'open').length;

  it('are counted per address like sockets, and closed after a few seconds (no one holds sockets past the limits)', async () => {
    t = await startServer({ SOCKETS_PER_ADDRESS: '5' });
    const sockets = await Promise.all(Array.from({ length: 60 }, () => bare(t!.server.url, '198.51.100.90')));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(stillOpen(sockets)).toBeGreaterThan(0);
    expect(stillOpen(sockets)).toBeLessThanOrEqual(5 + BARE_MARGIN);
    // Another address still gets in, with a real socket.
    expect((await tryConnect(t.server.url, { extraHeaders: { 'x-forwarded-for': '198.51.100.91' } })).socket?.connected).toBe(true);
    // Never joining, they are let go within the connect timeout.
    await vi.waitFor(() => expect(stillOpen(sockets)).toBe(0), { timeout: 10_000, interval: 200 });
  }, 30_000);
});

describe('sockets in no room', () => {
  it('are closed after IDLE_SOCKET_SECONDS; one in a room stays, and is closed once it has left', async () => {
    t = await startServer({ IDLE_SOCKET_SECONDS: '1' });
    const room = await openRoom(t.server);
    const idle = (await tryConnect(t.server.url)).socket!;
    const reason = new Promise<string>((resolve) => idle.once('disconnect', resolve));
    expect(await Promise.race([reason, new Promise((resolve) => setTimeout(() => resolve('still open after 5 s'), 5000))])).toBe('io server disconnect');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(room.facilitator.socket.connected).toBe(true);
    await ok(room.facilitator.socket, 'room:leave', {});
    await vi.waitFor(() => expect(room.facilitator.socket.connected).toBe(false), { timeout: 5000, interval: 50 });
  });

});

describe('transports', () => {
  it('only WebSocket: a long-polling handshake is refused', async () => {
    t = await startServer();
    const polling = await fetch(`${t.server.url}/socket.io/?EIO=4&transport=polling`);
    expect(polling.status).toBe(400);
    expect((await tryConnect(t.server.url)).socket?.connected).toBe(true);
  });
});

describe('messages over the size limit', () => {
  /** Send `args` with an acknowledgement; resolves with the answer (if any) and why the connection closed. */
  async function send(socket: Client, name: string, payload: unknown): Promise<{ answer: unknown; closed: string }> {
    const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    let answer: unknown;
    raw(socket).emit(name, payload, (result: unknown) => {
      answer = result;
    });
    return { closed: await closed, answer };
  }

  it('are answered TOO_LARGE, then the connection closes; past the hard cap it just closes; the server stays up', async () => {
    t = await startServer();
    const big = (bytes: number) => ({ command: { type: 'agreement.set', text: 'x'.repeat(bytes) } });
    for (const name of ['room:command', 'room:create', 'no-such-event']) {
      const socket = (await tryConnect(t.server.url)).socket!;
      const { answer, closed } = await send(socket, name, big(MAX_MESSAGE_BYTES + 1));
      expectError(answer, 'TOO_LARGE');
      expect(closed).toBe('io server disconnect');
    }
    const socket = (await tryConnect(t.server.url)).socket!;
    const { answer, closed } = await send(socket, 'room:command', big(MESSAGE_HARD_CAP + 1));
    expect(answer).toBeUndefined();
    expect(closed).toBe('transport close');
    // Just under the limit is a request like any other.
    const fine = (await tryConnect(t.server.url)).socket!;
    const answer2 = await request(fine, 'room:command', { command: { type: 'agreement.set', text: 'x'.repeat(MAX_MESSAGE_BYTES - 200) } });
    expect(answer2.ok ? undefined : answer2.error.code).toMatch(/^(BAD_REQUEST|INVALID_STATE)$/);
    expect(fine.connected).toBe(true);
    expect((await fetch(`${t.server.url}/healthz`)).status).toBe(200);
  });
});
