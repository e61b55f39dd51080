import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { facilitatorView } from './checkout-view.test-support';
import { memoryStorage } from './memory-storage.test-support';

/*
 * A facilitator tab's check-out answers do not stay in its storage once it is out of the room,
 * however it got out: the room's client wired to the check-out (checkout-client.test.ts tests
 * the rest). A stand-in signalling server on loopback answers `room:enter`.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  vi.unstubAllGlobals();
});

const KEY = 'group-room:checkout:room-a';
const checkoutKeys = (storage: ReturnType<typeof memoryStorage>) => [...storage.items.keys()].filter((k) => k.startsWith('group-room:checkout:'));

/** A tab that kept answers (a reload), its storage, and a server that answers entering with `answer`. */
async function tab(answer: (socket: Socket, ack: (result: unknown) => void) => void) {
  const http = createServer();
  const io = new Server(http);
  io.on('connection', (socket) => socket.on('room:enter', (_payload: unknown, ack: (result: unknown) => void) => answer(socket, ack)));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => void io.close(() => resolve())));
  const { port } = http.address() as AddressInfo;
  const session = memoryStorage();
  vi.stubGlobal('window', { sessionStorage: session, localStorage: memoryStorage(), addEventListener() {}, removeEventListener() {} });
  vi.stubGlobal('location', { protocol: 'http:', host: `127.0.0.1:${port}`, hostname: '127.0.0.1', port: String(port), href: `http://127.0.0.1:${port}/` });
  session.setItem(KEY, JSON.stringify({ checkoutId: 'co-1', startedAt: 1, open: true, invitees: [], answers: [] }));
  const { RoomClient } = await import('./room-client');
  const client = new RoomClient('room-a');
  cleanups.push(() => client.dispose());
  return { client, session };
}

describe("a facilitator tab's kept check-out answers", () => {
  it('are gone from its storage after leaving, and from its memory once the end screen is left', async () => {
    const { client, session } = await tab(() => undefined);
    expect(checkoutKeys(session)).toHaveLength(1);
    await client.leave();
    expect(checkoutKeys(session)).toEqual([]);
    client.reset();
    expect(client.checkout.record.getSnapshot()).toBeNull();
  });

  it('are gone from its storage after an error end (entering refused)', async () => {
    const { client, session } = await tab((_socket, ack) => ack({ ok: false, error: { code: 'NOT_FOUND', message: 'No such session' } }));
    await client.enter('token', 'Ada');
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('error'));
    expect(checkoutKeys(session)).toEqual([]);
  });

  it('are gone from its storage when the session ends', async () => {
    const view = facilitatorView({ id: 'co-1', startedAt: 1 });
    const { client, session } = await tab((socket, ack) => {
      ack({ ok: true, data: { view: { ...view, roomId: 'room-a', self: { ...view.self, media: false } }, resume: { credential: 'c'.repeat(43), memberId: 'ada', graceSeconds: 60 } } });
      setTimeout(() => socket.emit('room:ended', { reason: 'session-ended' }), 50);
    });
    await client.enter('token', 'Ada');
    await vi.waitFor(() => expect([client.getSnapshot().status, client.getSnapshot().message]).toEqual(['ended', undefined]));
    expect(checkoutKeys(session)).toEqual([]);
  });
});
