import { randomBytes } from 'node:crypto';
import type { SignalServer } from '@group-room/signal';
import { describe, expect, it, vi } from 'vitest';
import {
  bothStores,
  admittedMember,
  command,
  connect,
  currentView,
  drop,
  enter,
  eventsOf,
  expectError,
  ok,
  openClients,
  request,
  sweepAt,
  tryCommand,
  useServer,
  viewWhere,
  WAIT,
  type CommandInput,
  type Person,
} from '../support/signal-client.js';

/*
 * The session's owner (#18 item 5) through a real signal server, against both stores: the
 * person who created the session enters with its owner key and outranks everyone who came in
 * by a link. A leaked facilitator link cannot remove, block, demote, mute, lock out or end the
 * session on them; a rotation lets go of every facilitator inside on an older link (but the
 * owner and whoever rotated); an owner key that is not the room's is refused.
 */

const prefix = `group-room-itest-owner:${process.pid}:${randomBytes(6).toString('hex')}:`;

const stores = bothStores(prefix);

/** `room:create` as the start page sends it: the links' tokens and the creator's owner key. */
async function createOwned(server: SignalServer) {
  const socket = await connect(server);
  const created = await ok(socket, 'room:create', {});
  socket.disconnect();
  openClients.delete(socket);
  return created;
}

/** `room:enter` with a facilitator link and an owner key, from a new socket. */
async function enterAsOwner(server: SignalServer, roomId: string, token: string, ownerKey: string, displayName = 'Olu'): Promise<Person> {
  const socket = await connect(server);
  const { view, resume } = await ok(socket, 'room:enter', { roomId, token, displayName, ownerKey });
  return { socket, id: view.self.id, name: view.self.displayName, entered: view, resume };
}

const memberIds = (person: Person) => (currentView(person).members ?? []).map((m) => m.id).sort();
const ownerMarks = (person: Person) => Object.fromEntries((currentView(person).facilitation?.everyone ?? []).map((m) => [m.displayName, m.owner]));
const endReasons = (person: Person) => eventsOf(person.socket, 'room:ended').map((e) => e.reason);
const removed = (person: Person) => vi.waitFor(() => expect(endReasons(person)).toContain('removed'), WAIT);

describe.each(stores)('the session owner ($store store)', ({ env }) => {
  const t = useServer(env);

  it('a leaked facilitator link used against the creator: every attempt to remove, block, demote, mute, end or lock them out is refused', async () => {
    const room = await createOwned(t.server);
    // The leak's holder comes in first, so by entry order alone they would outrank the creator.
    const intruder = await enter(t.server, room.roomId, room.facilitatorToken, 'Leak');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const olu = await enterAsOwner(t.server, room.roomId, room.facilitatorToken, room.ownerKey);
    expect(olu.entered.self.role).toBe('facilitator');
    await viewWhere(intruder, (v) => (v.members ?? []).some((m) => m.id === olu.id));

    const attempts: [string, CommandInput][] = [
      ['remove', { type: 'member.remove', memberId: olu.id, block: false }],
      ['remove and block', { type: 'member.remove', memberId: olu.id, block: true }],
      ['demote', { type: 'member.setRole', memberId: olu.id, role: 'member' }],
      ['make co-facilitator', { type: 'member.setRole', memberId: olu.id, role: 'cofacilitator' }],
      ['mute', { type: 'member.mute', memberId: olu.id, source: 'mic' }],
      ['stop video', { type: 'member.mute', memberId: olu.id, source: 'camera' }],
      ['ask', { type: 'member.ask', memberId: olu.id, source: 'mic' }],
      ['end the session', { type: 'session.end' }],
    ];
    for (const [what, cmd] of attempts) {
      const error = expectError(await tryCommand(intruder, cmd), 'FORBIDDEN');
      expect(error.message, what).toMatch(/created the session/);
    }
    expect(memberIds(intruder)).toContain(olu.id);
    expect(endReasons(olu)).toEqual([]);
    // The facilitators' view says who created the session.
    expect(ownerMarks(intruder)).toEqual({ Leak: false, Olu: true });

    // Replacing the link does not let go of the owner; the one who replaced it stays too.
    const { facilitatorToken: fresh } = await ok(intruder.socket, 'link:rotateFacilitator', {});
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(endReasons(olu)).toEqual([]);
    expect(memberIds(olu)).toEqual([intruder.id, olu.id].sort());

    // The creator leaves and comes back with the old link: their owner key still lets them in, as the owner.
    await ok(olu.socket, 'room:leave', {});
    expectError(await request(await connect(t.server), 'room:enter', { roomId: room.roomId, token: room.facilitatorToken, displayName: 'Olu' }), 'FORBIDDEN');
    const back = await enterAsOwner(t.server, room.roomId, room.facilitatorToken, room.ownerKey);
    await viewWhere(back, (v) => (v.facilitation?.everyone ?? []).some((m) => m.id === back.id && m.owner));
    // The intruder still cannot end it on them.
    expectError(await tryCommand(intruder, { type: 'session.end' }), 'FORBIDDEN');

    // The owner outranks the earlier arrival: removes them, and replaces the link they got.
    await command(back, { type: 'member.remove', memberId: intruder.id, block: false });
    await removed(intruder);
    const { facilitatorToken: newest } = await ok(back.socket, 'link:rotateFacilitator', {});
    expectError(await request(await connect(t.server), 'room:enter', { roomId: room.roomId, token: fresh, displayName: 'Leak' }), 'FORBIDDEN');
    expect((await enter(t.server, room.roomId, newest, 'Cora')).entered.self.role).toBe('facilitator');
    // The owner ends it.
    await command(back, { type: 'session.end' });
    await vi.waitFor(() => expect(endReasons(back)).toContain('session-ended'), WAIT);
  });

  it('replacing the link lets go of every facilitator inside on an older link; the one who replaced it, the owner, co-facilitators and members stay', async () => {
    const room = await createOwned(t.server);
    const olu = await enterAsOwner(t.server, room.roomId, room.facilitatorToken, room.ownerKey);
    const fay = await enter(t.server, room.roomId, room.facilitatorToken, 'Fay');
    const cora = await enter(t.server, room.roomId, room.facilitatorToken, 'Cora');
    const mo = await admittedMember(t.server, room, fay, 'Mo');
    await command(fay, { type: 'member.setRole', memberId: mo.id, role: 'cofacilitator' });
    const ann = await admittedMember(t.server, room, fay, 'Ann');

    const { facilitatorToken: second } = await ok(cora.socket, 'link:rotateFacilitator', {});
    await removed(fay);
    await viewWhere(cora, (v) => !(v.members ?? []).some((m) => m.id === fay.id));
    expect(memberIds(cora)).toEqual([olu.id, cora.id, mo.id, ann.id].sort());
    for (const stays of [olu, cora, mo, ann]) expect(endReasons(stays)).toEqual([]);

    // The rotator's seat counts as of the new link: a later rotation by someone on the newest link lets them go in turn.
    const dee = await enter(t.server, room.roomId, second, 'Dee');
    await ok(dee.socket, 'link:rotateFacilitator', {});
    await removed(cora);
    await viewWhere(olu, (v) => memberIdsOf(v).length === 4);
    expect(memberIds(olu)).toEqual([olu.id, dee.id, mo.id, ann.id].sort());
    expect(endReasons(olu)).toEqual([]);
    // A co-facilitator made from a member still cannot replace the link.
    expectError(await request(mo.socket, 'link:rotateFacilitator', {}), 'FORBIDDEN');
  });

  it('an owner key that is not this room’s, or not one at all, or with an invite link, is refused FORBIDDEN and takes no seat', async () => {
    const room = await createOwned(t.server);
    const other = await createOwned(t.server);
    const fay = await enter(t.server, room.roomId, room.facilitatorToken, 'Fay');
    const refused = async (token: string, ownerKey: string) =>
      expectError(await request(await connect(t.server), 'room:enter', { roomId: room.roomId, token, displayName: 'Eve', ownerKey }), 'FORBIDDEN');
    await refused(room.facilitatorToken, other.ownerKey);
    await refused(room.facilitatorToken, room.facilitatorToken);
    await refused(room.facilitatorToken, `${room.ownerKey.slice(0, -4)}AAAA`);
    await refused(room.inviteToken, room.ownerKey);
    // Nobody came in: the room holds Fay only.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((currentView(fay).facilitation?.everyone ?? []).map((m) => m.id)).toEqual([fay.id]);
  });

  it('facilitators end the session only when the owner holds no seat (away counts as holding one)', async () => {
    const room = await createOwned(t.server);
    const olu = await enterAsOwner(t.server, room.roomId, room.facilitatorToken, room.ownerKey);
    const fay = await enter(t.server, room.roomId, room.facilitatorToken, 'Fay');
    await drop(t.server, olu);
    await viewWhere(fay, (v) => (v.members ?? []).some((m) => m.id === olu.id && m.connection === 'reconnecting'));
    expectError(await tryCommand(fay, { type: 'session.end' }), 'FORBIDDEN');
    // The owner's seat is freed after its grace period: the session is no longer held for them.
    await sweepAt(t.server);
    await viewWhere(fay, (v) => !(v.members ?? []).some((m) => m.id === olu.id));
    await command(fay, { type: 'session.end' });
    await vi.waitFor(() => expect(endReasons(fay)).toContain('session-ended'), WAIT);
  });
});

const memberIdsOf = (view: { members?: { id: string }[] | undefined }) => (view.members ?? []).map((m) => m.id);
