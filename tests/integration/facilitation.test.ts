import { randomBytes } from 'node:crypto';
import type { SignalServer } from '@group-room/signal';
import { createClient } from 'redis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  bothStores,
  admittedMember,
  command,
  currentView,
  eventsOf,
  rawRequest,
  expectError,
  mediaJoin,
  ok,
  openRoom,
  receive,
  request,
  sendMic,
  useServer,
  tryCommand,
  viewWhere,
  WAIT,
  waitForEvent,
  waitingMember,
  watchMedia,
  wireText,
  type Person,
} from '../support/signal-client.js';

/*
 * Turn-taking, muting, talk time and private signals through a real signal server and a real
 * mediasoup worker: what the server pauses is read off the mediasoup producers themselves.
 * The media rules run against both stores.
 */

const REDIS_URL = 'redis://127.0.0.1:6379';
const prefix = `group-room-itest-floor:${process.pid}:${randomBytes(6).toString('hex')}:`;

const stores = bothStores(prefix);

/** A facilitator and two members, all with a microphone on the server. */
async function roomWithMics(server: SignalServer) {
  const room = await openRoom(server);
  const fac = room.facilitator;
  const mo = await admittedMember(server, room, fac, 'Mo');
  const bea = await admittedMember(server, room, fac, 'Bea');
  const capabilities = await mediaJoin(fac);
  await mediaJoin(mo);
  await mediaJoin(bea);
  const media = watchMedia(server, room.roomId);
  const mics = { fac: await sendMic(fac, 1111), mo: await sendMic(mo, 2222), bea: await sendMic(bea, 3333) };
  await receive(bea, capabilities);
  const paused = () => ({
    fac: media.producers.get(mics.fac)?.paused,
    mo: media.producers.get(mics.mo)?.paused,
    bea: media.producers.get(mics.bea)?.paused,
  });
  return { room, fac, mo, bea, media, mics, paused };
}

describe.each(stores)('media follows the floor and the mutes ($store store)', ({ env }) => {
  const t = useServer(env);

  it('a facilitator mute pauses the producer on the server; the member cannot undo it; only accepting an ask lifts it', async () => {
    const { fac, mo, bea, media, mics, paused } = await roomWithMics(t.server);
    expect(paused()).toEqual({ fac: false, mo: false, bea: false });

    await command(fac, { type: 'member.mute', memberId: mo.id, source: 'mic' });
    // Paused before the command was answered: media follows state.
    expect(paused()).toEqual({ fac: false, mo: true, bea: false });
    const moView = await viewWhere(mo, (v) => v.self.held.mic === 'facilitator');
    expect(moView.self.held.camera).toBeNull();
    await viewWhere(bea, (v) => v.members?.find((m) => m.id === mo.id)?.sending.mic === false);
    const facView = await viewWhere(fac, (v) => v.facilitation?.everyone.find((m) => m.id === mo.id)?.heldOff.includes('mic') === true);
    expect(facView.members?.find((m) => m.id === mo.id)?.producers[0]?.paused).toBe(false); // Mo's own toggle is still on

    // A tampered client resuming its own producer reaches nobody.
    await ok(mo.socket, 'media:setProducerPaused', { producerId: mics.mo, paused: false });
    await ok(mo.socket, 'media:setProducerPaused', { producerId: mics.mo, paused: true });
    await ok(mo.socket, 'media:setProducerPaused', { producerId: mics.mo, paused: false });
    expect(media.producers.get(mics.mo)?.paused).toBe(true);
    // Nor can the member answer an ask nobody made, or facilitators be muted.
    expectError(await tryCommand(mo, { type: 'ask.answer', source: 'mic', accept: true }), 'INVALID_STATE');
    expectError(await tryCommand(fac, { type: 'member.mute', memberId: fac.id, source: 'mic' }), 'FORBIDDEN');
    expectError(await tryCommand(mo, { type: 'member.mute', memberId: bea.id, source: 'mic' }), 'FORBIDDEN');

    // Declining keeps the hold; accepting lifts it and Mo's mic (on at her end) flows again.
    await command(fac, { type: 'member.ask', memberId: mo.id, source: 'mic' });
    await viewWhere(mo, (v) => v.self.asked.includes('mic'));
    await command(mo, { type: 'ask.answer', source: 'mic', accept: false });
    await viewWhere(mo, (v) => v.self.asked.length === 0);
    expect(media.producers.get(mics.mo)?.paused).toBe(true);
    await command(fac, { type: 'member.ask', memberId: mo.id, source: 'mic' });
    await viewWhere(mo, (v) => v.self.asked.includes('mic'));
    await command(mo, { type: 'ask.answer', source: 'mic', accept: true });
    expect(media.producers.get(mics.mo)?.paused).toBe(false);
    await viewWhere(bea, (v) => v.members?.find((m) => m.id === mo.id)?.sending.mic === true);
  });

  it("a member's quick mute and unmute end with the view matching the media", async () => {
    const { fac, mo, media, mics } = await roomWithMics(t.server);
    const shown = (v: ReturnType<typeof currentView>) => v.members?.find((m) => m.id === mo.id)?.producers.find((p) => p.id === mics.mo)?.paused;
    for (const last of [false, true, false]) {
      // Sent together, not awaited one by one: the pause is still under way when the resume arrives.
      await Promise.all([
        ok(mo.socket, 'media:setProducerPaused', { producerId: mics.mo, paused: !last }),
        ok(mo.socket, 'media:setProducerPaused', { producerId: mics.mo, paused: last }),
      ]);
      expect(media.producers.get(mics.mo)?.paused, `media after ending on paused=${last}`).toBe(last);
      await viewWhere(fac, (v) => shown(v) === last);
      await new Promise((r) => setTimeout(r, 100));
      expect(shown(currentView(fac)), `view after ending on paused=${last}`).toBe(last);
    }
  });

  it('mute all, and mute all but the speaker, never touch facilitators', async () => {
    const { fac, mo, paused } = await roomWithMics(t.server);
    await command(fac, { type: 'floor.setMode', mode: 'hands' });
    await command(fac, { type: 'floor.grant', memberId: mo.id });
    await command(fac, { type: 'floor.setMode', mode: 'hands' }); // no change
    expect(paused()).toEqual({ fac: false, mo: false, bea: true });
    await command(fac, { type: 'member.muteAll', except: mo.id });
    expect(paused()).toEqual({ fac: false, mo: false, bea: true });
    expect(currentView(fac).facilitation?.everyone.filter((m) => m.heldOff.includes('mic')).map((m) => m.displayName)).toEqual(['Bea']);
    await command(fac, { type: 'member.muteAll', except: null });
    expect(paused()).toEqual({ fac: false, mo: true, bea: true });
    // Back to an open floor, both stay muted until they accept an ask.
    await command(fac, { type: 'floor.setMode', mode: 'open' });
    expect(paused()).toEqual({ fac: false, mo: true, bea: true });
  });

  it('on an open floor, mute all but the one speaking: nobody holds the floor, the server spares whom it is told', async () => {
    const { fac, mo, paused } = await roomWithMics(t.server);
    expect(currentView(fac).floor).toMatchObject({ mode: 'open', holder: null });
    expect(paused()).toEqual({ fac: false, mo: false, bea: false });
    await command(fac, { type: 'member.muteAll', except: mo.id });
    expect(paused()).toEqual({ fac: false, mo: false, bea: true });
    expect(currentView(fac).facilitation?.everyone.filter((m) => m.heldOff.includes('mic')).map((m) => m.displayName)).toEqual(['Bea']);
    // Someone not in the room is refused, and nothing changes.
    expectError(await tryCommand(fac, { type: 'member.muteAll', except: 'nobody-here' }), 'NOT_FOUND');
    expect(paused()).toEqual({ fac: false, mo: false, bea: true });
  });

  it('raised hands: only the holder (and facilitators) are heard; granting and releasing move the audio', async () => {
    const { fac, mo, bea, paused } = await roomWithMics(t.server);
    await command(fac, { type: 'floor.setMode', mode: 'hands' });
    expect(paused()).toEqual({ fac: false, mo: true, bea: true });
    await viewWhere(mo, (v) => v.self.held.mic === 'floor' && v.floor?.mode === 'hands');

    await command(mo, { type: 'hand.raise' });
    await command(bea, { type: 'hand.raise' });
    await command(mo, { type: 'hand.raise' }); // already raised: no change
    let view = await viewWhere(bea, (v) => v.floor?.hands.length === 2);
    expect(view.floor?.hands).toEqual([mo.id, bea.id]);
    // Reorder, and a member may not touch someone else's hand.
    await command(fac, { type: 'hands.move', memberId: bea.id, to: 0 });
    expectError(await tryCommand(mo, { type: 'hand.lower', memberId: bea.id }), 'FORBIDDEN');
    expectError(await tryCommand(mo, { type: 'floor.grant', memberId: mo.id }), 'FORBIDDEN');
    view = await viewWhere(mo, (v) => v.floor?.hands[0] === bea.id);

    await command(fac, { type: 'floor.grant', memberId: bea.id });
    expect(paused()).toEqual({ fac: false, mo: true, bea: false });
    view = await viewWhere(mo, (v) => v.floor?.holder === bea.id);
    expect(view.floor?.hands).toEqual([mo.id]);
    expect(view.self.held.mic).toBe('floor');
    expectError(await tryCommand(mo, { type: 'floor.release' }), 'FORBIDDEN');

    await command(bea, { type: 'floor.release' });
    expect(paused()).toEqual({ fac: false, mo: true, bea: true });
    await command(fac, { type: 'floor.grant', memberId: mo.id });
    expect(paused()).toEqual({ fac: false, mo: false, bea: true });
    // The holder leaving returns the floor.
    await ok(mo.socket, 'room:leave', {});
    view = await viewWhere(bea, (v) => v.members?.length === 2);
    expect(view.floor).toMatchObject({ mode: 'hands', holder: null, hands: [] });
  });

  it('a talking-stick round: the holder speaks, passes early, and the last pass opens the floor', async () => {
    const { fac, mo, bea, paused } = await roomWithMics(t.server);
    await command(fac, { type: 'round.start', order: null, turnSeconds: null, onTimeout: 'warn' });
    let view = await viewWhere(bea, (v) => v.floor?.mode === 'round');
    expect(view.floor?.round?.order).toEqual([mo.id, bea.id]); // order of arrival, members only
    expect(view.floor?.holder).toBe(mo.id);
    expect(paused()).toEqual({ fac: false, mo: false, bea: true });
    expectError(await tryCommand(bea, { type: 'round.pass' }), 'FORBIDDEN');
    await command(mo, { type: 'round.pass' });
    expect(paused()).toEqual({ fac: false, mo: true, bea: false });
    await command(bea, { type: 'round.pass' });
    view = await viewWhere(mo, (v) => v.floor?.mode === 'open');
    expect(view.floor).toMatchObject({ holder: null, round: null });
    expect(paused()).toEqual({ fac: false, mo: false, bea: false });

    // A given order, ended by the facilitator.
    await command(fac, { type: 'round.start', order: [bea.id, mo.id], turnSeconds: 60, onTimeout: 'warn' });
    view = await viewWhere(mo, (v) => v.floor?.holder === bea.id);
    expect(view.floor?.turnEndsAt).toBe((view.floor?.turnStartedAt ?? 0) + 60_000);
    expectError(await tryCommand(fac, { type: 'round.start', order: [fac.id], turnSeconds: null, onTimeout: 'warn' }), 'INVALID_STATE');
    await command(fac, { type: 'round.end' });
    await viewWhere(mo, (v) => v.floor?.mode === 'open');
    expect(paused()).toEqual({ fac: false, mo: false, bea: false });
  });
});

describe('timed turns, talk time and private signals (in-memory store)', () => {
  const t = useServer();

  it('a turn with "pass automatically" passes on by itself when its time is up', async () => {
    const { fac, mo, bea, paused } = await roomWithMics(t.server);
    await command(fac, { type: 'round.start', order: null, turnSeconds: 15, onTimeout: 'pass' });
    const first = await viewWhere(bea, (v) => v.floor?.holder === mo.id);
    const endsAt = first.floor?.turnEndsAt ?? 0;
    expect(endsAt).toBeGreaterThan(Date.now());
    const passed = await viewWhere(bea, (v) => v.floor?.holder === bea.id, { timeout: 25_000, interval: 50 });
    expect(Date.now()).toBeGreaterThanOrEqual(endsAt);
    expect(passed.floor?.turn).toBe((first.floor?.turn ?? 0) + 1);
    // A timer's change is not answered to anyone: the views and the media settle side by side.
    await vi.waitFor(() => expect(paused()).toEqual({ fac: false, mo: true, bea: false }), WAIT);
    // Passing early cancels the old turn's timer; the new turn has its own.
    await command(bea, { type: 'round.pass' });
    await viewWhere(mo, (v) => v.floor?.mode === 'open');
  }, 40_000);

  it('talk time goes to facilitators only, about once a second', async () => {
    const room = await openRoom(t.server);
    const fac = room.facilitator;
    const mo = await admittedMember(t.server, room, fac, 'Mo');
    await mediaJoin(fac);
    await mediaJoin(mo);
    const report = await waitForEvent(fac.socket, 'talk:time', (e) => e.members.length === 1);
    // No RTP flows in this test (no browser), so nobody has been heard yet.
    expect(report.members).toEqual([{ memberId: mo.id, speakingMs: 0, lastSpokeAt: null }]);
    await vi.waitFor(() => expect(eventsOf(fac.socket, 'talk:time').length).toBeGreaterThanOrEqual(3), { timeout: 5000, interval: 50 });
    expect(eventsOf(mo.socket, 'talk:time')).toEqual([]);
  });

  it('a private signal reaches the facilitators with the name, and nobody else', async () => {
    const room = await openRoom(t.server);
    const fac = room.facilitator;
    const co = await admittedMember(t.server, room, fac, 'Cora');
    await command(fac, { type: 'member.setRole', memberId: co.id, role: 'cofacilitator' });
    const mo = await admittedMember(t.server, room, fac, 'Mo');
    const bea = await admittedMember(t.server, room, fac, 'Bea');
    const wes = await waitingMember(t.server, room, 'Wes');

    // A message is sealed in the member's browser, one box per facilitator: each facilitator
    // is handed only the box addressed to them, and nobody else sees any.
    const forFac = Buffer.from('box sealed for the facilitator').toString('base64url');
    const forCo = Buffer.from('box sealed for the cofacilitator').toString('base64url');
    const forBea = Buffer.from('a box for a member goes nowhere').toString('base64url');
    await ok(mo.socket, 'signal:send', { signal: { kind: 'message', sealed: [{ to: fac.id, data: forFac }, { to: co.id, data: forCo }, { to: bea.id, data: forBea }] } });
    for (const [person, box] of [[fac, forFac], [co, forCo]] as const) {
      const signal = await waitForEvent(person.socket, 'signal:private');
      expect(signal).toEqual({ id: expect.any(String), from: mo.id, displayName: 'Mo', kind: 'message', sealed: box, at: expect.any(Number) });
      expect(wireText(person.socket)).not.toContain(box === forFac ? forCo : forFac);
    }
    // A box for one facilitator only: the other gets nothing of that message.
    const onlyCo = Buffer.from('only for the cofacilitator').toString('base64url');
    await ok(mo.socket, 'signal:send', { signal: { kind: 'message', sealed: [{ to: co.id, data: onlyCo }] } });
    await waitForEvent(co.socket, 'signal:private', (s) => s.sealed === onlyCo);
    await ok(mo.socket, 'signal:send', { signal: { kind: 'need-moment' } });
    const moment = await waitForEvent(fac.socket, 'signal:private', (s) => s.kind === 'need-moment');
    expect(moment.sealed).toBeNull();
    expect(eventsOf(fac.socket, 'signal:private').map((s) => s.kind)).toEqual(['message', 'need-moment']);
    // Someone waiting to come in may signal too (e.g. "stepping away"), but not send a message:
    // their browser has paired with no facilitator yet.
    await ok(wes.socket, 'signal:send', { signal: { kind: 'stepping-away' } });
    await waitForEvent(fac.socket, 'signal:private', (s) => s.from === wes.id);
    expectError(await request(wes.socket, 'signal:send', { signal: { kind: 'message', sealed: [{ to: fac.id, data: forFac }] } }), 'FORBIDDEN');
    for (const person of [mo, bea, wes]) {
      expect(eventsOf(person.socket, 'signal:private')).toEqual([]);
      if (person !== mo) for (const box of [forFac, forCo, forBea, onlyCo]) expect(wireText(person.socket)).not.toContain(box);
    }
    // Boxes for nobody who is a facilitator here: it reached no one, and the member is told.
    expectError(await request(mo.socket, 'signal:send', { signal: { kind: 'message', sealed: [{ to: bea.id, data: forBea }] } }), 'INVALID_STATE');

    // Only members send; the boxes are checked (present, base64url, bounded, one per addressee); a burst is limited.
    expectError(await request(fac.socket, 'signal:send', { signal: { kind: 'need-moment' } }), 'FORBIDDEN');
    expectError(await request(bea.socket, 'signal:send', { signal: { kind: 'message', sealed: [] } }), 'BAD_REQUEST');
    expectError(await request(bea.socket, 'signal:send', { signal: { kind: 'message', sealed: [{ to: fac.id, data: 'not base64url!' }] } }), 'BAD_REQUEST');
    expectError(await request(bea.socket, 'signal:send', { signal: { kind: 'message', sealed: [{ to: fac.id, data: 'x'.repeat(4097) }] } }), 'BAD_REQUEST');
    expectError(await rawRequest(bea.socket, 'signal:send', { signal: { kind: 'message', text: 'plain text is refused' } }), 'BAD_REQUEST');
    expectError(await request(bea.socket, 'signal:send', { signal: { kind: 'message', sealed: [{ to: fac.id, data: forFac }, { to: fac.id, data: forCo }] } }), 'BAD_REQUEST');
    const burst = [];
    for (let i = 0; i < 6; i++) burst.push(await request(bea.socket, 'signal:send', { signal: { kind: 'back' } }));
    expect(burst.slice(0, 5).every((r) => r.ok)).toBe(true);
    expectError(burst[5], 'RATE_LIMITED');
    // With no facilitator connected, the member is told it did not arrive.
    await ok(co.socket, 'room:leave', {});
    await ok(fac.socket, 'room:leave', {});
    expectError(await request(mo.socket, 'signal:send', { signal: { kind: 'need-moment' } }), 'INVALID_STATE');
  });

  it('someone at the agreement cannot signal, and the leaving holder moves the round on', async () => {
    const room = await openRoom(t.server);
    const fac = room.facilitator;
    const mo = await admittedMember(t.server, room, fac, 'Mo');
    const bea = await admittedMember(t.server, room, fac, 'Bea');
    const ann = await admittedMember(t.server, room, fac, 'Ann');
    const reader: Person = await (async () => {
      const p = await waitingMember(t.server, room, 'Rae');
      await command(fac, { type: 'agreement.set', text: 'A changed text.' });
      return p;
    })();
    await viewWhere(reader, (v) => v.self.stage === 'agreement');
    expectError(await request(reader.socket, 'signal:send', { signal: { kind: 'need-moment' } }), 'FORBIDDEN');
    // A member in the room re-reading the changed agreement (paused) can still ask for a moment.
    await ok(mo.socket, 'signal:send', { signal: { kind: 'need-moment' } });
    await waitForEvent(fac.socket, 'signal:private', (e) => e.from === mo.id && e.kind === 'need-moment');

    for (const p of [mo, bea, ann]) await command(p, { type: 'agreement.acknowledge', version: currentView(p).agreement.version, privateSpace: true });
    await command(fac, { type: 'round.start', order: [bea.id, mo.id, ann.id], turnSeconds: null, onTimeout: 'warn' });
    await ok(bea.socket, 'room:leave', {});
    const view = await viewWhere(ann, (v) => v.floor?.holder === mo.id);
    expect(view.floor?.round).toMatchObject({ order: [mo.id, ann.id], position: 0 });
  });
});

afterAll(async () => {
  const redis = createClient({ url: REDIS_URL });
  redis.on('error', () => undefined);
  await redis.connect();
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*` })) if (keys.length) await redis.del(keys);
  await redis.close();
});
