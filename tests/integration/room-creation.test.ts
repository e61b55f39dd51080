import { afterEach, describe, expect, it } from 'vitest';
import { KEY_GUESSES } from '@group-room/signal';
import { connect, disconnectAll, expectError, ok, request, startServer, type TestServer } from '../support/signal-client.js';

/*
 * Who may create rooms (#9 item 1): with a facilitator access key set, nobody without it
 * creates a room, guessing is cut off per address, and what a room is created with is
 * bounded (a start no further ahead than the horizon, a title with no hidden characters).
 */

const KEY = 'correct horse battery staple';
let t: TestServer | undefined;

afterEach(async () => {
  disconnectAll();
  await t?.server.close();
  t = undefined;
});

describe('room creation with a facilitator access key', () => {
  it('says so to the start page, and refuses a missing or wrong key', async () => {
    t = await startServer({ ROOM_CREATION_KEY: KEY });
    expect(await (await fetch(`${t.server.url}/api/room-creation`)).json()).toEqual({ mode: 'key' });
    const socket = await connect(t.server);
    expectError(await request(socket, 'room:create', {}), 'FORBIDDEN');
    expectError(await request(socket, 'room:create', { accessKey: 'correct horse battery stapl' }), 'FORBIDDEN');
    expect((await ok(socket, 'room:create', { accessKey: KEY })).roomId).toBeTruthy();
    expect((await t.server.store.roomIds()).length).toBe(1);
  });

  it(`cuts off an address after ${KEY_GUESSES} wrong keys, even for the right one`, async () => {
    t = await startServer({ ROOM_CREATION_KEY: KEY });
    const socket = await connect(t.server);
    for (let i = 0; i < KEY_GUESSES; i++) expectError(await request(socket, 'room:create', { accessKey: `guess number ${i}` }), 'FORBIDDEN');
    expectError(await request(socket, 'room:create', { accessKey: 'one more guess' }), 'RATE_LIMITED');
    const error = expectError(await request(socket, 'room:create', { accessKey: KEY }), 'RATE_LIMITED');
    expect(error.message).toMatch(/try again in \d+ minutes?/);
    // A new socket from the same address is the same address.
    expectError(await request(await connect(t.server), 'room:create', { accessKey: KEY }), 'RATE_LIMITED');
    expect(await t.server.store.roomIds()).toEqual([]);
  });
});

describe('room creation, whoever may create', () => {
  it('open: no key needed, and the start page is told so', async () => {
    t = await startServer();
    expect(await (await fetch(`${t.server.url}/api/room-creation`)).json()).toEqual({ mode: 'open' });
    expect((await ok(await connect(t.server), 'room:create', {})).roomId).toBeTruthy();
  });

  it('a start further ahead than the horizon is refused, so no link lives for years', async () => {
    t = await startServer({ ROOM_HORIZON_DAYS: '30' });
    const socket = await connect(t.server);
    const day = 86_400_000;
    const error = expectError(await request(socket, 'room:create', { startsAt: Date.now() + 31 * day }), 'BAD_REQUEST');
    expect(error.message).toContain('30 days');
    expectError(await request(socket, 'room:create', { startsAt: 2 ** 52 }), 'BAD_REQUEST');
    expect((await ok(socket, 'room:create', { startsAt: Date.now() + 29 * day })).roomId).toBeTruthy();
  });

  it('a title loses control, bidi and zero-width characters, like a name', async () => {
    t = await startServer();
    const socket = await connect(t.server);
    const { roomId } = await ok(socket, 'room:create', { title: 'Tues\u200bday \u202egroup\u202c\n\tevening' });
    expect((await t.server.store.get(roomId))?.title).toBe('Tuesday group evening');
  });
});
