import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type ServerOptions, type Socket as ServerSocket } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { viewFor } from '../../apps/signal/src/room/projection.js';
import { toolsRoom } from '../../apps/signal/src/room/tools.test-support.js';
import { viewEventJson } from '../../apps/signal/src/room/view-json.js';
import { emitPreEncoded } from '../../apps/signal/src/signaling/pre-encoded.js';

/*
 * The views are sent pre-encoded through Socket.IO's internals (pre-encoded.ts). What a real
 * socket.io-client receives must be, frame for frame, what `socket.emit` sends: if a Socket.IO
 * upgrade changes the packet format or the internals, these fail.
 */

const PAYLOAD = { view: { roomId: 'r', title: 'Ünïcode ✓ "quoted"', list: [1, null, { a: 'b' }], empty: {} }, serverNow: 1_700_000_000_123 };

let http: HttpServer | undefined;
let server: Server | undefined;
const clients: Socket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await server?.close();
  server = undefined;
  http = undefined;
});

/** A Socket.IO server on loopback, and a client connected to `namespace`: the server's socket and every frame the client receives. */
async function pair(options: Partial<ServerOptions> = {}, namespace = '/'): Promise<{ socket: ServerSocket; frames: string[]; events: unknown[] }> {
  http = createServer();
  server = new Server(http, { transports: ['websocket'], ...options });
  const connected = new Promise<ServerSocket>((resolve) => server!.of(namespace).on('connection', resolve));
  await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const client = connect(`http://127.0.0.1:${port}${namespace === '/' ? '' : namespace}`, { transports: ['websocket'], forceNew: true, reconnection: false });
  clients.push(client);
  const frames: string[] = [];
  const events: unknown[] = [];
  // The engine's packets: each Socket.IO frame as it arrived, before it is decoded.
  client.io.engine.on('packet', (packet) => {
    if (packet.type === 'message' && typeof packet.data === 'string') frames.push(packet.data);
  });
  client.on('room:view', (payload: unknown) => events.push(payload));
  const socket = await connected;
  await new Promise<void>((resolve) => (client.connected ? resolve() : client.once('connect', () => resolve())));
  return { socket, frames, events };
}

/** Send `payload` with emit and then pre-encoded; both frames once they have arrived, and how often the fallback ran. */
async function bothWays(
  socket: ServerSocket,
  frames: string[],
  events: unknown[],
  payload: unknown = PAYLOAD,
  json = JSON.stringify(payload),
): Promise<{ emitted: string; preEncoded: string; fallbacks: number }> {
  let fallbacks = 0;
  socket.emit('room:view', payload);
  emitPreEncoded(socket, 'room:view', json, () => {
    fallbacks++;
    socket.emit('room:view', payload);
  });
  await expect.poll(() => events.length).toBe(2);
  const views = frames.filter((frame) => frame.includes('"room:view"'));
  expect(views).toHaveLength(2);
  return { emitted: views[0]!, preEncoded: views[1]!, fallbacks };
}

describe('emitPreEncoded', () => {
  it('sends the very frame socket.emit sends, taking the pre-encoded way', async () => {
    const { socket, frames, events } = await pair();
    const { emitted, preEncoded, fallbacks } = await bothWays(socket, frames, events);
    expect(fallbacks).toBe(0);
    expect(preEncoded).toBe(emitted);
    expect(preEncoded).toBe(`2["room:view",${JSON.stringify(PAYLOAD)}]`);
    expect(events[1]).toEqual(PAYLOAD);
    expect(events[1]).toEqual(events[0]);
  });

  it('sends a real view as the server does (viewEventJson) in the frame emit sends', async () => {
    const { socket, frames, events } = await pair();
    for (const viewer of ['host', 'a', 'w']) {
      frames.length = 0;
      events.length = 0;
      const view = viewFor(toolsRoom(), viewer)!;
      const { emitted, preEncoded, fallbacks } = await bothWays(socket, frames, events, { view, serverNow: 42 }, viewEventJson(view, 42));
      expect(fallbacks).toBe(0);
      expect(preEncoded).toBe(emitted);
      expect(events[1]).toEqual({ view, serverNow: 42 });
    }
  });

  it('on another namespace too', async () => {
    const { socket, frames, events } = await pair({}, '/other');
    const { emitted, preEncoded, fallbacks } = await bothWays(socket, frames, events);
    expect(fallbacks).toBe(0);
    expect(preEncoded).toBe(emitted);
    expect(preEncoded.startsWith('2/other,[')).toBe(true);
  });

  it('falls back to emit where packets go through the adapter (connection state recovery)', async () => {
    const { socket, frames, events } = await pair({ connectionStateRecovery: {} });
    const { fallbacks } = await bothWays(socket, frames, events);
    expect(fallbacks).toBe(1);
    // (Each frame then carries its own offset for the recovery: only the payloads are the same.)
    expect(events[1]).toEqual(events[0]);
  });
});
