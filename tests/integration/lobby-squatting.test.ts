import { randomBytes } from 'node:crypto';
import type { SignalServer } from '@group-room/signal';
import { describe, expect, it } from 'vitest';
import {
  bothStores,
  acknowledge,
  admittedMember,
  command,
  connect,
  currentView,
  drop,
  eventsOf,
  expectError,
  ok,
  openRoom,
  request,
  tryCommand,
  tryConnect,
  useServer,
  viewWhere,
  waitForEvent,
  wireText,
  type Client,
  type Person,
} from '../support/signal-client.js';

/*
 * Squatting on the way in (issue 18, item 4): one holder of the shared invite link must not
 * keep the agreement and the waiting room full. Places on the way in are limited per client
 * address and per invite link (atomically: entries at once cannot race past a limit), a place
 * at the agreement goes as soon as its connection does, and the facilitator sees who is on
 * the way in and can clear it without closing the link. Both stores.
 */

const prefix = `group-room-itest-lobby:${process.pid}:${randomBytes(6).toString('hex')}:`;

const stores = bothStores(prefix);

// A room of 16: three on the way in per address, two per personal link, and the shared link
// leaves four places on the way in to personal links (so it may hold 12).
const limits = { ENTRY_PER_ADDRESS: '3', ENTRY_PER_INVITE: '2', ENTRY_RESERVED: '4' };

/** A socket as if it came through the loopback proxy from `address`. */
async function from(server: SignalServer, address: string): Promise<Client> {
  const { socket, refused } = await tryConnect(server.url, { extraHeaders: { 'x-forwarded-for': address } });
  if (refused) throw refused;
  return socket;
}

/** `room:enter` from `address` with `token`: the person, or the refusal. */
async function enterFrom(server: SignalServer, address: string, roomId: string, token: string, displayName: string) {
  const socket = await from(server, address);
  const result = await request(socket, 'room:enter', { roomId, token, displayName });
  const person: Person | undefined = result.ok ? { socket, id: result.data.view.self.id, name: displayName, entered: result.data.view, resume: result.data.resume } : undefined;
  return { result, person, socket };
}

const onTheWay = (person: Person) => (currentView(person).facilitation?.everyone ?? []).filter((m) => m.stage !== 'admitted');

describe.each(stores)('the way in cannot be squatted ($store store)', ({ env }) => {
  const t = useServer({ ...env, ...limits });

  it('one address with the shared link gets as many places as it may, even all at once; another address still gets in', async () => {
    const room = await openRoom(t.server);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => enterFrom(t.server, '198.51.100.7', room.roomId, room.inviteToken, `Squatter ${i}`)));
    expect(results.filter((r) => r.result.ok)).toHaveLength(3);
    for (const { result } of results.filter((r) => !r.result.ok)) {
      expect(expectError(result, 'RATE_LIMITED').message).toMatch(/try again/i);
    }
    // The same address with a personal link is still one address.
    const { inviteToken } = await ok(room.facilitator.socket, 'invite:create', {});
    expectError((await enterFrom(t.server, '198.51.100.7', room.roomId, inviteToken, 'Squatter again')).result, 'RATE_LIMITED');

    const other = await enterFrom(t.server, '203.0.113.9', room.roomId, room.inviteToken, 'Ana');
    expect(other.result.ok).toBe(true);
    await viewWhere(room.facilitator, (v) => onTheWay(room.facilitator).length === 4 && v.facilitation!.everyone.some((m) => m.displayName === 'Ana'));

    // A squatter who accepts the agreement and is let in no longer holds a place on the way in.
    const admitted = results.find((r) => r.person)!.person!;
    await acknowledge(admitted);
    await command(room.facilitator, { type: 'member.admit', memberId: admitted.id });
    expect((await enterFrom(t.server, '198.51.100.7', room.roomId, room.inviteToken, 'Squatter 9')).result.ok).toBe(true);

    // Only a key standing for the address is kept, and nobody is sent it.
    const stored = JSON.stringify(await t.server.store.get(room.roomId));
    expect(stored).not.toContain('198.51.100.7');
    const keys = [...t.server.io.sockets.sockets.values()].map((s) => s.data.addressKey).filter(Boolean);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(wireText(room.facilitator.socket)).not.toContain(key);
  });

  it('one link from many addresses is refused past its bound, while a personal link still gets in (and holds two at most)', async () => {
    const room = await openRoom(t.server);
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => enterFrom(t.server, `198.51.100.${i + 1}`, room.roomId, room.inviteToken, `Squatter ${i}`)));
    expect(results.filter((r) => r.result.ok)).toHaveLength(12);
    for (const { result } of results.filter((r) => !r.result.ok)) {
      expect(expectError(result, 'RATE_LIMITED').message).toMatch(/this link/);
    }

    const { inviteToken } = await ok(room.facilitator.socket, 'invite:create', {});
    const personal = await Promise.all(['203.0.113.1', '203.0.113.2', '203.0.113.3'].map((address) => enterFrom(t.server, address, room.roomId, inviteToken, 'Ana')));
    expect(personal.filter((r) => r.result.ok)).toHaveLength(2);
    expect(expectError(personal.find((r) => !r.result.ok)!.result, 'RATE_LIMITED').message).toMatch(/link/);
    // Other personal links take the rest of the way in (16); then even they wait.
    for (const [i, address] of ['203.0.113.50', '203.0.113.51', '203.0.113.52'].entries()) {
      const another = await ok(room.facilitator.socket, 'invite:create', {});
      const { result } = await enterFrom(t.server, address, room.roomId, another.inviteToken, `Bo ${i}`);
      if (i < 2) expect(result.ok).toBe(true);
      else expectError(result, 'ROOM_FULL');
    }
    // The facilitator is never kept out by the line.
    expect((await enterFrom(t.server, '203.0.113.60', room.roomId, room.facilitatorToken, 'Co')).result.ok).toBe(true);
  });

  it('a place at the agreement goes as soon as its connection drops; one in the waiting room is kept for the grace period', async () => {
    const room = await openRoom(t.server);
    const reading = (await enterFrom(t.server, '198.51.100.20', room.roomId, room.inviteToken, 'Reader')).person!;
    const waiting = (await enterFrom(t.server, '198.51.100.21', room.roomId, room.inviteToken, 'Waiter')).person!;
    await acknowledge(waiting);
    await viewWhere(room.facilitator, () => onTheWay(room.facilitator).length === 2);

    await drop(t.server, reading);
    await drop(t.server, waiting);
    // No sweep: gone from the facilitator's view at once, not after the grace period.
    const view = await viewWhere(room.facilitator, (v) => v.facilitation!.everyone.find((m) => m.id === waiting.id)?.connection === 'reconnecting' && !v.facilitation!.everyone.some((m) => m.id === reading.id));
    expect(view.facilitation!.everyone.map((m) => m.displayName)).toEqual(['Fay', 'Waiter']);
    expect(Object.keys((await t.server.store.get(room.roomId))!.members)).toHaveLength(2);

    // The reader's credential finds no seat (the page starts again with its link), the waiter's does.
    const socket = await connect(t.server);
    expectError(await request(socket, 'room:resume', { roomId: room.roomId, credential: reading.resume.credential }), 'FORBIDDEN');
    const back = await ok(await connect(t.server), 'room:resume', { roomId: room.roomId, credential: waiting.resume.credential });
    expect(back.view.self.stage).toBe('waiting');
    // And the freed place can be taken again with the link.
    expect((await enterFrom(t.server, '198.51.100.20', room.roomId, room.inviteToken, 'Reader')).result.ok).toBe(true);
  });

  it('the facilitator clears the way in without closing the link: the people cleared are told, and may come in again', async () => {
    const room = await openRoom(t.server);
    const inside = await admittedMember(t.server, room, room.facilitator, 'Ina');
    const readers = await Promise.all([1, 2].map(async (i) => (await enterFrom(t.server, `198.51.100.${30 + i}`, room.roomId, room.inviteToken, `Reader ${i}`)).person!));
    const waiter = (await enterFrom(t.server, '198.51.100.40', room.roomId, room.inviteToken, 'Waiter')).person!;
    await acknowledge(waiter);
    await viewWhere(room.facilitator, () => onTheWay(room.facilitator).length === 3);

    // Only a facilitator in the room may clear it.
    expectError(await tryCommand(inside, { type: 'lobby.clear', waiting: true }), 'FORBIDDEN');
    expectError(await tryCommand(waiter, { type: 'lobby.clear', waiting: false }), 'FORBIDDEN');

    // The agreement only: those reading it go, the waiting room stays.
    await command(room.facilitator, { type: 'lobby.clear', waiting: false });
    for (const reader of readers) expect(await waitForEvent(reader.socket, 'room:ended')).toEqual({ reason: 'cleared' });
    await viewWhere(room.facilitator, () => onTheWay(room.facilitator).map((m) => m.displayName).join() === 'Waiter');
    expect(eventsOf(waiter.socket, 'room:ended')).toEqual([]);

    // Then the waiting room too; whoever is in the room stays.
    await command(room.facilitator, { type: 'lobby.clear', waiting: true });
    expect(await waitForEvent(waiter.socket, 'room:ended')).toEqual({ reason: 'cleared' });
    const view = await viewWhere(room.facilitator, () => onTheWay(room.facilitator).length === 0);
    expect(view.facilitation!.everyone.map((m) => m.displayName)).toEqual(['Fay', 'Ina']);
    expect(eventsOf(inside.socket, 'room:ended')).toEqual([]);

    // The link was not blocked: the same people may come in again, on the same sockets too.
    const again = await request(readers[0]!.socket, 'room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Reader 1' });
    expect(again.ok && again.data.view.self.stage).toBe('agreement');
    expect((await enterFrom(t.server, '198.51.100.41', room.roomId, room.inviteToken, 'Newcomer')).result.ok).toBe(true);
    expect((await t.server.store.get(room.roomId))!.blockedInvites).toEqual([]);
  });
});
