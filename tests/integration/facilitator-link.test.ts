import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import {
  bothStores,
  admittedMember,
  command,
  connect,
  currentView,
  enter,
  eventsOf,
  expectError,
  ok,
  openRoom,
  request,
  resume,
  tryCommand,
  useServer,
  viewWhere,
  WAIT,
  waitingMember,
  type Person,
} from '../support/signal-client.js';

/*
 * The facilitator link (#9 item 4) through a real signal server, against both stores: it can
 * be replaced from the room (the old one stops working at once, members inside keep their
 * seats, facilitators inside on the old one are let go: see facilitator-owner.test.ts); a facilitator who came in later can be removed by one who came in earlier, not the
 * other way round; blocking a personal invite link removes everyone inside who came in with
 * it, while blocking the shared invite link removes only the person blocked.
 */

const prefix = `group-room-itest-faclink:${process.pid}:${randomBytes(6).toString('hex')}:`;

const stores = bothStores(prefix);

const memberIds = (person: Person) => (currentView(person).members ?? []).map((m) => m.id).sort();

/** Resolves once the server has told this person they were removed. */
const removed = (person: Person) => vi.waitFor(() => expect(eventsOf(person.socket, 'room:ended').map((e) => e.reason)).toContain('removed'), WAIT);

describe.each(stores)('the facilitator link ($store store)', ({ env }) => {
  const t = useServer(env);

  /** `room:enter` with this token from a new socket: refused with FORBIDDEN. */
  const refusedEntry = async (roomId: string, token: string) =>
    expectError(await request(await connect(t.server), 'room:enter', { roomId, token, displayName: 'Eve' }), 'FORBIDDEN');

  it('replacing it refuses the old link at once, answers a working new one, and keeps the members inside', async () => {
    const room = await openRoom(t.server, 'Fay');
    const fay = room.facilitator;
    const mo = await admittedMember(t.server, room, fay, 'Mo');
    const before = memberIds(fay);

    const { facilitatorToken } = await ok(fay.socket, 'link:rotateFacilitator', {});
    expect(facilitatorToken).not.toBe(room.facilitatorToken);

    expect((await refusedEntry(room.roomId, room.facilitatorToken)).message).toBe('This facilitator link has been replaced');

    // Everyone inside keeps their seat and can go on.
    expect(memberIds(fay)).toEqual(before);
    expect(currentView(mo).self.stage).toBe('admitted');

    // The new link works; the one before it is refused once it is replaced in turn, and Fay,
    // inside on an older link, goes with it (Cora, who replaced it, stays; so does Mo).
    const cora = await enter(t.server, room.roomId, facilitatorToken, 'Cora');
    expect(cora.entered.self.role).toBe('facilitator');
    const { facilitatorToken: third } = await ok(cora.socket, 'link:rotateFacilitator', {});
    await removed(fay);
    await refusedEntry(room.roomId, facilitatorToken);
    expect((await enter(t.server, room.roomId, third, 'Dee')).entered.self.role).toBe('facilitator');
    expect(memberIds(cora)).toContain(mo.id);

    // A reload resumes the seat with its credential, whatever happened to the link since.
    const coraAgain = await resume(t.server, cora);
    expect(coraAgain.id).toBe(cora.id);
  });

  it('the refusal of an old link is FORBIDDEN with its reason; only the facilitator may replace the link', async () => {
    const room = await openRoom(t.server, 'Fay');
    const fay = room.facilitator;
    const mo = await admittedMember(t.server, room, fay, 'Mo');
    await command(fay, { type: 'member.setRole', memberId: mo.id, role: 'cofacilitator' });
    expectError(await request(mo.socket, 'link:rotateFacilitator', {}), 'FORBIDDEN');
    const wai = await waitingMember(t.server, room, 'Wai');
    expectError(await request(wai.socket, 'link:rotateFacilitator', {}), 'FORBIDDEN');

    await ok(fay.socket, 'link:rotateFacilitator', {});
    expect((await refusedEntry(room.roomId, room.facilitatorToken)).message).toBe('This facilitator link has been replaced');
    // Invite links are untouched.
    expect((await enter(t.server, room.roomId, room.inviteToken, 'Noor')).entered.self.stage).toBe('agreement');
  });

  it('a facilitator removes a facilitator who came in after them, never the other way round', async () => {
    const room = await openRoom(t.server, 'Fay');
    const fay = room.facilitator;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const late = await enter(t.server, room.roomId, room.facilitatorToken, 'Leak');
    expectError(await tryCommand(late, { type: 'member.remove', memberId: fay.id, block: false }), 'FORBIDDEN');
    expect(memberIds(late)).toContain(fay.id);

    await command(fay, { type: 'member.remove', memberId: late.id, block: true });
    await removed(late);
    await viewWhere(fay, (v) => !(v.members ?? []).some((m) => m.id === late.id));
    // Then the link itself is replaced, so the leak cannot come back.
    await ok(fay.socket, 'link:rotateFacilitator', {});
    await refusedEntry(room.roomId, room.facilitatorToken);
  });

  it('blocking a personal invite link removes everyone inside who came in with it; blocking the shared link removes only that person', async () => {
    const room = await openRoom(t.server, 'Fay');
    const fay = room.facilitator;
    const { inviteToken: personal } = await ok(fay.socket, 'invite:create', {});
    const personalRoom = { ...room, inviteToken: personal };
    const pia = await admittedMember(t.server, personalRoom, fay, 'Pia');
    const copy = await waitingMember(t.server, personalRoom, 'Copy'); // someone else using the same personal link
    const ann = await admittedMember(t.server, room, fay, 'Ann');
    const bo = await admittedMember(t.server, room, fay, 'Bo');

    await command(fay, { type: 'member.remove', memberId: pia.id, block: true });
    await removed(pia);
    await removed(copy);
    await viewWhere(fay, (v) => memberIdsOf(v).length === 3);
    expect(memberIds(fay)).toEqual([fay.id, ann.id, bo.id].sort());
    expect((await refusedEntry(room.roomId, personal)).message).toMatch(/can no longer be used/);

    // The shared invite link: only Ann goes; Bo, who came in with it too, stays.
    await command(fay, { type: 'member.remove', memberId: ann.id, block: true });
    await removed(ann);
    await viewWhere(fay, (v) => memberIdsOf(v).length === 2);
    expect(memberIds(fay)).toEqual([fay.id, bo.id].sort());
    expect(eventsOf(bo.socket, 'room:ended')).toEqual([]);
    expect(currentView(bo).self.stage).toBe('admitted');
    // Newcomers with the shared link are kept out.
    expect((await refusedEntry(room.roomId, room.inviteToken)).message).toMatch(/can no longer be used/);
  });
});

const memberIdsOf = (view: { members?: { id: string }[] | undefined }) => (view.members ?? []).map((m) => m.id);
