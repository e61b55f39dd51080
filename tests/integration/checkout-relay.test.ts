import { randomBytes } from 'node:crypto';
import type { SignalServer } from '@group-room/signal';
import { describe, expect, it } from 'vitest';
import {
  admittedMember,
  bothStores,
  command,
  currentView,
  drop,
  eventsOf,
  expectError,
  ok,
  openRoom,
  rawRequest,
  request,
  resume,
  useRedis,
  useServer,
  viewWhere,
  waitForEvent,
  waitingMember,
  wireText,
  type Client,
  type Person,
} from '../support/signal-client.js';

/*
 * The check-out's answers on the server (issue 19), through a real signal server: a member's
 * answer is sealed in their browser for each facilitator's browser (here, readable stand-ins for
 * the boxes); each facilitator is handed the box addressed to them and nothing else, no member
 * gets anything, the member is recorded as answered once, and no box is stored or logged (the
 * server runs at LOG_LEVEL=debug). An answer while no facilitator is connected is refused and
 * not recorded; a member's drop and resume keep "answered", a facilitator's keeps the check-out.
 * Both stores.
 */

const prefix = `group-room-itest-checkout:${process.pid}:${randomBytes(6).toString('hex')}:`;

/** A distinct box, as a sealed answer would look to the server (base64url). */
const box = (label: string) => Buffer.from(`${label} ${randomBytes(8).toString('hex')}`).toString('base64url');

/** A round trip on each socket: whatever the server sent them before has arrived. */
async function barrier(...sockets: Client[]): Promise<void> {
  for (const socket of sockets) expectError(await rawRequest(socket, 'barrier'), 'BAD_REQUEST');
}

/** A facilitator, a co-facilitator and two members in the room. */
async function groupRoom(server: SignalServer) {
  const room = await openRoom(server, 'Fay');
  const fac = room.facilitator;
  const co = await admittedMember(server, room, fac, 'Cora');
  await command(fac, { type: 'member.setRole', memberId: co.id, role: 'cofacilitator' });
  const mo = await admittedMember(server, room, fac, 'Mo');
  const bea = await admittedMember(server, room, fac, 'Bea');
  return { room, fac, co, mo, bea };
}

/** Opens a check-out and answers its id once everyone listed sees it. */
async function startCheckout(fac: Person, ...seeing: Person[]): Promise<string> {
  await command(fac, { type: 'checkout.start' });
  const id = (await viewWhere(fac, (v) => Boolean(v.checkout))).checkout!.id;
  for (const person of seeing) await viewWhere(person, (v) => v.checkout?.id === id);
  return id;
}

describe.each(bothStores(prefix))('check-out answers ($store store)', ({ env }) => {
  const redis = env['REDIS_URL'] ? useRedis(prefix) : undefined;
  const t = useServer({ ...env, LOG_LEVEL: 'debug' });

  /** Everything the store holds of the room (with Redis, every string and hash under the prefix). */
  async function stored(roomId: string): Promise<string> {
    const parts: unknown[] = [await t.server.store.get(roomId)];
    if (redis) {
      for await (const keys of redis.client.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
        for (const key of keys) {
          const type = await redis.client.type(key);
          parts.push(type === 'string' ? await redis.client.get(key) : type === 'hash' ? await redis.client.hGetAll(key) : type);
        }
      }
    }
    return JSON.stringify(parts);
  }

  it('hands each facilitator only the box sealed for them, members nothing; recorded once; nothing stored or logged', async () => {
    const { room, fac, co, mo, bea } = await groupRoom(t.server);
    const forFay = box('Mo leaves low, wants a follow-up, for Fay');
    const forCora = box('Mo leaves low, wants a follow-up, for Cora');
    const sealed = [
      { to: fac.id, data: forFay },
      { to: co.id, data: forCora },
    ];
    expectError(await request(mo.socket, 'checkout:answer', { checkoutId: 'co-none', sealed }), 'INVALID_STATE');

    const checkoutId = await startCheckout(fac, mo, bea, co);
    expect(currentView(bea).checkout).toEqual(expect.objectContaining({ id: checkoutId, done: 0, of: 2 }));
    await ok(mo.socket, 'checkout:answer', { checkoutId, sealed });
    expect(await waitForEvent(fac.socket, 'checkout:answer')).toEqual({ checkoutId, from: mo.id, sealed: forFay, at: expect.any(Number) });
    expect(await waitForEvent(co.socket, 'checkout:answer')).toEqual({ checkoutId, from: mo.id, sealed: forCora, at: expect.any(Number) });
    await viewWhere(mo, (v) => v.self.checkedOut);
    await viewWhere(bea, (v) => v.checkout?.done === 1 && !v.self.checkedOut);
    await viewWhere(fac, (v) => v.facilitation?.checkedOut.includes(mo.id) === true);

    // Answered once; only the open check-out; only members answer; one box per addressee.
    expect(expectError(await request(mo.socket, 'checkout:answer', { checkoutId, sealed }), 'INVALID_STATE').message).toMatch(/answered already/);
    expectError(await request(bea.socket, 'checkout:answer', { checkoutId: `${checkoutId}-not`, sealed }), 'INVALID_STATE');
    expectError(await request(co.socket, 'checkout:answer', { checkoutId, sealed }), 'FORBIDDEN');
    expectError(await request(fac.socket, 'checkout:answer', { checkoutId, sealed }), 'FORBIDDEN');
    expectError(await request(bea.socket, 'checkout:answer', { checkoutId, sealed: [sealed[0]!, sealed[0]!] }), 'BAD_REQUEST');
    const wes = await waitingMember(t.server, room, 'Wes');
    expectError(await request(wes.socket, 'checkout:answer', { checkoutId, sealed }), 'FORBIDDEN');

    // Bea's answer with a box for Fay only: Cora gets nothing of it.
    const beaForFay = box('Bea leaves good, for Fay');
    await ok(bea.socket, 'checkout:answer', { checkoutId, sealed: [{ to: fac.id, data: beaForFay }] });
    await waitForEvent(fac.socket, 'checkout:answer', (a) => a.from === bea.id);

    await barrier(fac.socket, co.socket, mo.socket, bea.socket, wes.socket);
    expect(eventsOf(fac.socket, 'checkout:answer').map((a) => a.sealed)).toEqual([forFay, beaForFay]);
    expect(eventsOf(co.socket, 'checkout:answer').map((a) => a.sealed)).toEqual([forCora]);
    for (const member of [mo, bea, wes]) expect(eventsOf(member.socket, 'checkout:answer')).toEqual([]);
    for (const data of [forFay, forCora]) expect(wireText(bea.socket) + wireText(wes.socket)).not.toContain(data);
    for (const data of [forFay, beaForFay]) expect(wireText(mo.socket) + wireText(co.socket)).not.toContain(data);
    expect(wireText(fac.socket)).not.toContain(forCora);

    // Nothing of an answer is kept or written down.
    const held = await stored(room.roomId);
    expect(held).toContain(mo.id);
    const logged = JSON.stringify(t.logs);
    for (const data of [forFay, forCora, beaForFay]) {
      expect(held).not.toContain(data);
      expect(logged).not.toContain(data);
    }

    // Limited per person: refusals count, and a flood is refused RATE_LIMITED.
    const answers = await Promise.all(Array.from({ length: 6 }, () => rawRequest(mo.socket, 'checkout:answer', { checkoutId, sealed })));
    expect(answers.some((a) => (a as { error?: { code: string } }).error?.code === 'RATE_LIMITED')).toBe(true);

    await command(co, { type: 'checkout.end' });
    await viewWhere(bea, (v) => !v.checkout && !v.self.checkedOut);
  });

  it('an answer needs a facilitator connected (refused and not recorded otherwise); drops and resumes keep the check-out and who answered', async () => {
    const { server } = t;
    const room = await openRoom(server, 'Fay');
    let fac = room.facilitator;
    let mo = await admittedMember(server, room, fac, 'Mo');
    const checkoutId = await startCheckout(fac, mo);

    await drop(server, fac);
    const sealed = [{ to: fac.id, data: box('Mo for Fay') }];
    expect(expectError(await request(mo.socket, 'checkout:answer', { checkoutId, sealed }), 'INVALID_STATE').message).toMatch(/No facilitator/);
    expect(currentView(mo).self.checkedOut).toBe(false);

    fac = await resume(server, fac);
    expect(fac.entered.checkout?.id).toBe(checkoutId);
    await ok(mo.socket, 'checkout:answer', { checkoutId, sealed });
    expect((await waitForEvent(fac.socket, 'checkout:answer')).sealed).toBe(sealed[0]!.data);

    await drop(server, mo);
    mo = await resume(server, mo);
    expect(mo.entered.self.checkedOut).toBe(true);
    expect(mo.entered.checkout).toEqual(expect.objectContaining({ id: checkoutId, done: 1, of: 1 }));
    expectError(await request(mo.socket, 'checkout:answer', { checkoutId, sealed }), 'INVALID_STATE');
  });

  it('an answer whose only facilitator goes while it is being recorded is not kept as answered: it can be sent again', async () => {
    const { server } = t;
    const room = await openRoom(server, 'Fay');
    let fac = room.facilitator;
    const mo = await admittedMember(server, room, fac, 'Mo');
    const checkoutId = await startCheckout(fac, mo);
    const sealed = [{ to: fac.id, data: box('Mo for Fay') }];

    // Fay's connection goes while the answer's change is being written (she was there when it
    // was checked): the next store write waits until the server has seen her socket close.
    const { store } = server;
    const update = store.update.bind(store);
    let dropped: Promise<void> | undefined;
    store.update = (roomId, change, writer) => {
      dropped ??= drop(server, fac);
      return dropped.then(() => update(roomId, change, writer));
    };
    let answer: unknown;
    try {
      answer = await rawRequest(mo.socket, 'checkout:answer', { checkoutId, sealed });
    } finally {
      store.update = update;
    }
    expect(dropped).toBeDefined();
    expect(expectError(answer, 'INVALID_STATE').message).toMatch(/No facilitator/);
    expect((await server.store.get(room.roomId))?.checkout?.done).toEqual([]);
    await viewWhere(mo, (v) => v.checkout?.id === checkoutId && !v.self.checkedOut && v.checkout.done === 0);

    fac = await resume(server, fac);
    await ok(mo.socket, 'checkout:answer', { checkoutId, sealed });
    expect((await waitForEvent(fac.socket, 'checkout:answer')).sealed).toBe(sealed[0]!.data);
    await viewWhere(mo, (v) => v.self.checkedOut);
  });
});
