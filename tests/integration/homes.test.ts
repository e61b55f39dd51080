import { randomBytes, randomUUID } from 'node:crypto';
import { ConnectRefusal } from '@group-room/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startTcpProxy } from '../support/tcp-proxy.js';
import {
  connect,
  createRoom,
  disconnectAll,
  enter,
  expectError,
  ok,
  REDIS_URL,
  request,
  resume,
  startServer,
  WAIT,
  type Client,
  type TestServer,
  tryConnect,
  useRedis,
} from '../support/signal-client.js';

/*
 * One home node per room, held as a lease, with two nodes in this process on one Redis: a
 * connection for a room another live node serves is refused with that node's name (the client
 * connects again naming it, and the proxy routes by it); entering on the wrong node is refused;
 * a node stopping cleanly releases its rooms and the other takes them at once; a client's hint
 * alone never moves a room; a node whose lease lapsed lets its rooms go.
 */

const prefix = `grt:homes:${randomUUID().slice(0, 8)}:`;
let a: TestServer;
let b: TestServer;
useRedis(prefix);

afterEach(async () => {
  disconnectAll();
  await a?.server.close();
  await b?.server.close();
});

/** Two nodes on one Redis; `aRedis`: the address node a reaches it by (a proxy the test can cut). */
async function twoNodes(aRedis = REDIS_URL): Promise<void> {
  const env = { REDIS_URL, REDIS_KEY_PREFIX: `${prefix}${randomUUID().slice(0, 6)}:`, TOKEN_SECRET: randomBytes(32).toString('hex') };
  a = await startServer({ ...env, NODE_NAME: 'a', REDIS_URL: aRedis });
  b = await startServer({ ...env, NODE_NAME: 'b' });
}

/** Connect for `room` (as a room page does, maybe naming a node); resolves with the socket or the refusal's data. */
async function connectFor(url: string, room: string, node?: string): Promise<{ socket?: Client; refusal?: unknown }> {
  const { socket, refused } = await tryConnect(url, { query: { room, ...(node ? { node } : {}) } });
  return refused ? { refusal: refused.data } : { socket };
}

const homeOf = async (t: TestServer, roomId: string) => (await t.server.store.get(roomId))?.home;

/** Connect for `room` and enter it with the facilitator link, as a room page does. */
async function enterVia(url: string, room: { roomId: string; facilitatorToken: string }, displayName = 'Fay'): Promise<Client> {
  const { socket, refusal } = await connectFor(url, room.roomId);
  if (!socket) throw new Error(`refused: ${JSON.stringify(refusal)}`);
  await ok(socket, 'room:enter', { roomId: room.roomId, token: room.facilitatorToken, displayName });
  return socket;
}

describe('one home node per room', () => {
  it('the first node where someone enters takes the room; the other refuses with its name', async () => {
    await twoNodes();
    const room = await createRoom(a.server);
    expect(await homeOf(a, room.roomId)).toBeUndefined();
    const onB = await connectFor(b.server.url, room.roomId);
    expect(onB.socket?.connected).toBe(true);
    // Connecting takes nothing (a handshake only reads); entering does.
    expect(await homeOf(a, room.roomId)).toBeUndefined();
    await ok(onB.socket!, 'room:enter', { roomId: room.roomId, token: room.facilitatorToken, displayName: 'Fay' });
    expect(await homeOf(a, room.roomId)).toEqual({ node: b.server.nodeId, name: 'b', fence: 1 });

    const onA = await connectFor(a.server.url, room.roomId);
    expect(onA.socket).toBeUndefined();
    expect(ConnectRefusal.parse(onA.refusal)).toEqual({ code: 'ELSEWHERE', node: 'b' });

    // Entering through a socket that did not name the room, on the wrong node: refused, and
    // the connection closed so the client comes back through the hand-over.
    const stray = await connect(a.server);
    const refused = expectError(await request(stray, 'room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Mo' }), 'UNAVAILABLE');
    expect(refused.message).toMatch(/another server/);
    await vi.waitFor(() => expect(stray.connected).toBe(false), WAIT);
    // On the home it works.
    const mo = await enter(b.server, room.roomId, room.facilitatorToken, 'Fay');
    expect(mo.entered.self.role).toBe('facilitator');
  });

  it('rooms nobody serves spread to whichever node they are entered on', async () => {
    await twoNodes();
    const first = await createRoom(a.server);
    const second = await createRoom(a.server);
    await enterVia(a.server.url, first);
    await enterVia(b.server.url, second);
    expect((await homeOf(a, first.roomId))?.name).toBe('a');
    expect((await homeOf(a, second.roomId))?.name).toBe('b');
  });

  it('when the home node goes away, the other takes the room over and serves it', async () => {
    await twoNodes();
    const room = await createRoom(a.server);
    const { socket } = await connectFor(a.server.url, room.roomId);
    const fay = await ok(socket!, 'room:enter', { roomId: room.roomId, token: room.facilitatorToken, displayName: 'Fay' });
    expect((await connectFor(b.server.url, room.roomId)).refusal).toEqual({ code: 'ELSEWHERE', node: 'a' });
    await a.server.close(); // drains: it releases its rooms at once
    const again = await connectFor(b.server.url, room.roomId);
    expect(again.socket?.connected).toBe(true);
    await ok(again.socket!, 'room:resume', { roomId: room.roomId, credential: fay.resume.credential });
    expect(await homeOf(b, room.roomId)).toEqual({ node: b.server.nodeId, name: 'b', fence: 2 });
  });

  it("a client's hint that the home is down is not taken while the home's lease lives", async () => {
    await twoNodes();
    const room = await createRoom(a.server);
    await enterVia(a.server.url, room);
    // Naming another node than the home changes nothing; nor does naming the home itself (a
    // one-second health-check blip in the proxy, or anyone who can reach b directly).
    expect((await connectFor(b.server.url, room.roomId, 'c')).refusal).toEqual({ code: 'ELSEWHERE', node: 'a' });
    expect((await connectFor(b.server.url, room.roomId, 'a')).refusal).toEqual({ code: 'ELSEWHERE', node: 'a' });
    expect((await homeOf(b, room.roomId))?.name).toBe('a');
  });

  it('a node whose room was taken (its lease lapsed) lets that room\'s connections go, without touching their seats', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    try {
      await twoNodes(`redis://127.0.0.1:${proxy.port}`);
      const room = await createRoom(a.server);
      const fay = await enter(a.server, room.roomId, room.facilitatorToken, 'Fay');
      expect((await homeOf(a, room.roomId))?.name).toBe('a');
      // A is cut off from Redis: its lease lapses, and it lets its rooms go on its own.
      proxy.hold();
      proxy.cut();
      await vi.waitFor(() => expect(fay.socket.connected).toBe(false), { timeout: 10_000, interval: 50 });
      await checkTakeover(room, fay);
    } finally {
      proxy.resume();
      await a.server.close();
      await proxy.close();
    }
  });
});

/** B takes over a room whose home (a) was cut off, and Fay, let go by a, resumes her seat there. */
async function checkTakeover(room: Awaited<ReturnType<typeof createRoom>>, fay: Awaited<ReturnType<typeof enter>>): Promise<void> {
  const seat = (await b.server.store.get(room.roomId))!.members[fay.id]!;
  expect(seat.connectionId, 'the seat is left for its resume on the home').not.toBeNull();
  // B takes the room once A's lease has lapsed in Redis and B has been steady for a lease period.
  await vi.waitFor(async () => expect((await connectFor(b.server.url, room.roomId)).socket?.connected).toBe(true), { timeout: 15_000, interval: 250 });
  // B's sweep takes the room, marks the seat away (its connection is not on B), and Fay resumes there.
  await b.server.sweeper.sweep();
  expect((await homeOf(b, room.roomId))?.name).toBe('b');
  expect((await b.server.store.get(room.roomId))!.members[fay.id]!.connectionId).toBeNull();
  const back = await resume(b.server, fay);
  expect(back.entered.self.role).toBe('facilitator');
}
