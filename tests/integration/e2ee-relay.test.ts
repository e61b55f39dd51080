import { randomBytes } from 'node:crypto';
import { ProtocolError, SEALED_BLOB_MAX, SealedBlob, type EventPayload, type Result } from '@group-room/shared';
import fc from 'fast-check';
import type { SignalServer } from '@group-room/signal';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RtpSink } from '../support/synthetic-member.js';
import { PlainMedia } from './plain-media.js';
import {
  bothStores,
  acknowledge,
  admittedMember,
  command,
  connect,
  currentView,
  drop,
  enter,
  eventsOf,
  expectError,
  mediaJoin,
  ok,
  openRoom,
  rawRequest,
  request,
  resume,
  useRedis,
  useServer,
  viewWhere,
  WAIT,
  waitForEvent,
  waitingMember,
  watchMedia,
  wireText,
  type Client,
  type Person,
} from '../support/signal-client.js';

/*
 * End-to-end encryption as the server takes part in it, through a real signal server and a
 * real mediasoup worker: the key handshake's relay (opaque blobs for one seat, stamped with the
 * sender, only between a facilitator and someone admitted with the current agreement
 * acknowledged, limited per seat), "keys ready" (key frames asked of the senders of what a
 * browser receives), invite ids, and the codecs the browsers encrypt. Both stores.
 */

const prefix = `group-room-itest-e2ee:${process.pid}:${randomBytes(6).toString('hex')}:`;
const stores = bothStores(prefix);

/** A distinct opaque blob (base64url), as a browser's handshake message would look to the server. */
const blob = (label: string) => Buffer.from(`${label} ${randomBytes(8).toString('hex')}`).toString('base64url');

/** A round trip on each socket: whatever the server sent them before has arrived. */
async function barrier(...sockets: Client[]): Promise<void> {
  for (const socket of sockets) expectError(await rawRequest(socket, 'barrier'), 'BAD_REQUEST');
}

const relayed = (person: Person): EventPayload<'e2ee:relay'>[] => eventsOf(person.socket, 'e2ee:relay');

/** A facilitator, a cofacilitator and two members, all in the room with the agreement acknowledged. */
async function groupRoom(server: SignalServer) {
  const room = await openRoom(server, 'Fay');
  const fac = room.facilitator;
  const co = await admittedMember(server, room, fac, 'Cora');
  await command(fac, { type: 'member.setRole', memberId: co.id, role: 'cofacilitator' });
  const mo = await admittedMember(server, room, fac, 'Mo');
  const bea = await admittedMember(server, room, fac, 'Bea');
  return { room, fac, co, mo, bea };
}

describe.each(stores)('e2ee:relay ($store store)', ({ env }) => {
  const redis = env['REDIS_URL'] ? useRedis(prefix) : undefined;
  const t = useServer(env);

  /** Everything the store holds (the room's state; with Redis, every key under the prefix, whatever its type). */
  async function everythingStored(roomId: string): Promise<string> {
    const parts: unknown[] = [await t.server.store.get(roomId)];
    if (redis) {
      const { client } = redis;
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
        for (const key of keys) {
          const type = await client.type(key);
          if (type === 'string') parts.push(await client.get(key));
          else if (type === 'hash') parts.push(await client.hGetAll(key));
          else if (type === 'set') parts.push(await client.sMembers(key));
          else if (type === 'zset') parts.push(await client.zRange(key, 0, -1));
          else if (type === 'list') parts.push(await client.lRange(key, 0, -1));
          else parts.push(type);
        }
      }
    }
    return JSON.stringify(parts);
  }

  it('hands a facilitator\'s message to a member and a member\'s to a facilitator, stamped with the sender, to nobody else, keeping nothing', async () => {
    const { room, fac, co, mo, bea } = await groupRoom(t.server);
    const key = blob('epoch key wrapped for Mo');
    await ok(fac.socket, 'e2ee:relay', { to: mo.id, data: key });
    expect(await waitForEvent(mo.socket, 'e2ee:relay')).toEqual({ from: fac.id, data: key });

    const hello = blob('Mo public key and MAC');
    await ok(mo.socket, 'e2ee:relay', { to: fac.id, data: hello });
    expect(await waitForEvent(fac.socket, 'e2ee:relay')).toEqual({ from: mo.id, data: hello });

    // A cofacilitator is a facilitator too: with members, and with the other facilitator.
    const toCo = blob('Bea to Cora');
    await ok(bea.socket, 'e2ee:relay', { to: co.id, data: toCo });
    expect(await waitForEvent(co.socket, 'e2ee:relay')).toEqual({ from: bea.id, data: toCo });
    const between = blob('Fay to Cora');
    await ok(fac.socket, 'e2ee:relay', { to: co.id, data: between });
    await waitForEvent(co.socket, 'e2ee:relay', (r) => r.data === between && r.from === fac.id);

    // Each got exactly what was addressed to them; nothing reached anyone else.
    await barrier(fac.socket, co.socket, mo.socket, bea.socket);
    expect(relayed(fac)).toEqual([{ from: mo.id, data: hello }]);
    expect(relayed(co)).toEqual([{ from: bea.id, data: toCo }, { from: fac.id, data: between }]);
    expect(relayed(mo)).toEqual([{ from: fac.id, data: key }]);
    expect(relayed(bea)).toEqual([]);
    for (const data of [key, hello, between]) expect(wireText(bea.socket)).not.toContain(data);

    // The sender is the seat, never a claim: a message naming its own sender is refused.
    expectError(await rawRequest(mo.socket, 'e2ee:relay', { to: fac.id, data: hello, from: co.id }), 'BAD_REQUEST');
    // Nothing relayed is kept: not in the room's state, not anywhere in Redis.
    const stored = await everythingStored(room.roomId);
    expect(stored).toContain(fac.id); // (the store was read)
    for (const data of [key, hello, toCo, between]) expect(stored).not.toContain(data);
    // The largest blob goes through whole.
    const largest = 'A'.repeat(SEALED_BLOB_MAX);
    await ok(fac.socket, 'e2ee:relay', { to: bea.id, data: largest });
    expect(await waitForEvent(bea.socket, 'e2ee:relay')).toEqual({ from: fac.id, data: largest });
  });

  it('refuses member to member, to oneself and to nobody; a member learns nothing of who else is there', async () => {
    const { room, fac, mo, bea } = await groupRoom(t.server);
    const wes = await waitingMember(t.server, room, 'Wes');
    const data = blob('not for members');
    const forbidden = expectError(await request(mo.socket, 'e2ee:relay', { to: bea.id, data }), 'FORBIDDEN');
    // The same answer for someone waiting and for an id that is nobody's.
    expect(expectError(await request(mo.socket, 'e2ee:relay', { to: wes.id, data }), 'FORBIDDEN')).toEqual(forbidden);
    expect(expectError(await request(mo.socket, 'e2ee:relay', { to: 'nobody-of-this-room', data }), 'FORBIDDEN')).toEqual(forbidden);
    expectError(await request(fac.socket, 'e2ee:relay', { to: fac.id, data }), 'BAD_REQUEST');
    expectError(await request(fac.socket, 'e2ee:relay', { to: 'nobody-of-this-room', data }), 'NOT_FOUND');
    // Someone who never entered has no seat to send from.
    const stranger = await connect(t.server);
    expectError(await request(stranger, 'e2ee:relay', { to: fac.id, data }), 'INVALID_STATE');
    await barrier(fac.socket, mo.socket, bea.socket, wes.socket, stranger);
    for (const person of [fac, mo, bea, wes]) expect(relayed(person)).toEqual([]);
  });

  it('nobody on the way in, nor anyone re-reading a changed agreement, sends or receives a message', async () => {
    const { room, fac, mo, bea } = await groupRoom(t.server);
    const wes = await waitingMember(t.server, room, 'Wes');
    const rae = await enter(t.server, room.roomId, room.inviteToken, 'Rae'); // at the entry agreement
    const data = blob('keys');
    for (const person of [wes, rae]) {
      expectError(await request(person.socket, 'e2ee:relay', { to: fac.id, data }), 'FORBIDDEN');
      expectError(await request(fac.socket, 'e2ee:relay', { to: person.id, data }), 'FORBIDDEN');
      expectError(await request(person.socket, 'media:keysReady', {}), 'FORBIDDEN');
    }

    // A changed agreement: Mo and Bea are admitted but must acknowledge it first.
    await command(fac, { type: 'agreement.set', text: 'A changed agreement.' });
    await viewWhere(mo, (v) => v.self.mustAcknowledge);
    expectError(await request(mo.socket, 'e2ee:relay', { to: fac.id, data }), 'FORBIDDEN');
    expectError(await request(fac.socket, 'e2ee:relay', { to: mo.id, data }), 'FORBIDDEN');
    expectError(await request(mo.socket, 'media:keysReady', {}), 'FORBIDDEN');
    // Once Mo has acknowledged it, keys flow again; Bea, who has not, still gets none.
    await acknowledge(mo);
    await ok(fac.socket, 'e2ee:relay', { to: mo.id, data });
    await waitForEvent(mo.socket, 'e2ee:relay', (r) => r.data === data);
    expectError(await request(fac.socket, 'e2ee:relay', { to: bea.id, data }), 'FORBIDDEN');

    // Admitted, Wes receives; until then nothing had reached anyone on the way in.
    await barrier(wes.socket, rae.socket, bea.socket);
    for (const person of [wes, rae, bea]) expect(relayed(person)).toEqual([]);
    // (The changed agreement sent Wes back to read it.)
    await acknowledge(wes, (await viewWhere(wes, (v) => v.self.mustAcknowledge && v.self.stage === 'agreement')).agreement.version);
    await command(fac, { type: 'member.admit', memberId: wes.id });
    await viewWhere(wes, (v) => v.self.media);
    await ok(fac.socket, 'e2ee:relay', { to: wes.id, data });
    expect(await waitForEvent(wes.socket, 'e2ee:relay')).toEqual({ from: fac.id, data });
    // Removed, Mo receives nothing more.
    await command(fac, { type: 'member.remove', memberId: mo.id, block: false });
    expectError(await request(fac.socket, 'e2ee:relay', { to: mo.id, data }), 'NOT_FOUND');
    expect(relayed(mo)).toHaveLength(1);
  });

  it('is delivered to the seat\'s current connection only, and refused while the seat is away', async () => {
    const { fac, mo } = await groupRoom(t.server);
    await drop(t.server, mo);
    await viewWhere(fac, (v) => v.members?.find((m) => m.id === mo.id)?.connection === 'reconnecting');
    const data = blob('while away');
    const away = expectError(await request(fac.socket, 'e2ee:relay', { to: mo.id, data }), 'INVALID_STATE');
    expect(away.message).toMatch(/not connected/);
    const back = await resume(t.server, mo);
    await ok(fac.socket, 'e2ee:relay', { to: back.id, data });
    expect(await waitForEvent(back.socket, 'e2ee:relay')).toEqual({ from: fac.id, data });
    expect(relayed(mo)).toEqual([]);
    // The resumed seat sends with its own id.
    await ok(back.socket, 'e2ee:relay', { to: fac.id, data });
    expect(await waitForEvent(fac.socket, 'e2ee:relay')).toEqual({ from: mo.id, data });
  });

  it('refuses what is not a bounded base64url blob for one seat with BAD_REQUEST, delivering nothing', async () => {
    const { fac, mo } = await groupRoom(t.server);
    const bad: unknown[] = [
      { to: mo.id, data: 'A'.repeat(SEALED_BLOB_MAX + 1) },
      { to: mo.id, data: '' },
      { to: mo.id, data: 'abc+/=' },
      { to: mo.id, data: 'has space' },
      { to: mo.id, data: 42 },
      { to: mo.id, data: ['AAAA'] },
      { to: mo.id },
      { data: 'AAAA' },
      { to: '', data: 'AAAA' },
      { to: 'x'.repeat(65), data: 'AAAA' },
      { to: [mo.id], data: 'AAAA' },
      { to: mo.id, data: 'AAAA', extra: true },
      'AAAA',
      null,
    ];
    for (const payload of bad) expectError(await rawRequest(fac.socket, 'e2ee:relay', payload), 'BAD_REQUEST');
    expectError(await rawRequest(fac.socket, 'e2ee:relay'), 'BAD_REQUEST');
    await barrier(mo.socket);
    expect(relayed(mo)).toEqual([]);
  });

  it('generated relays between everyone: every answer typed and as the rules say, exactly the accepted ones delivered', async () => {
    const { room, fac, co, mo, bea } = await groupRoom(t.server);
    const wes = await waitingMember(t.server, room, 'Wes');
    const people = [fac, co, mo, bea, wes];
    const facilitators = new Set([fac.id, co.id]);
    const inRoom = new Set([fac.id, co.id, mo.id, bea.id]);
    const messages = fc.sample(
      fc.record({
        sender: fc.constantFrom(...people),
        to: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...people.map((p) => p.id)) }, { weight: 1, arbitrary: fc.string({ maxLength: 70 }) }),
        data: fc.oneof({ weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/) }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('', 'a+b', 'A'.repeat(SEALED_BLOB_MAX + 1)), fc.string({ maxLength: 10 })) }),
      }),
      { seed: 20261207, numRuns: 300 },
    );
    /** What the rules answer (RATE_LIMITED aside, which any well-formed message may get). */
    const expected = ({ sender, to, data }: (typeof messages)[number]): string => {
      if (!SealedBlob.safeParse(data).success || to.length < 1 || to.length > 64) return 'BAD_REQUEST';
      if (!inRoom.has(sender.id)) return 'FORBIDDEN';
      if (to === sender.id) return 'BAD_REQUEST';
      if (!facilitators.has(sender.id) && !facilitators.has(to)) return 'FORBIDDEN';
      if (!people.some((p) => p.id === to)) return 'NOT_FOUND';
      return inRoom.has(to) ? 'ok' : 'FORBIDDEN';
    };
    const delivered = new Map<string, EventPayload<'e2ee:relay'>[]>(people.map((p) => [p.id, []]));
    const outcomes: Record<string, number> = {};
    for (const message of messages) {
      const answer = (await rawRequest(message.sender.socket, 'e2ee:relay', { to: message.to, data: message.data })) as Result<unknown>;
      const got = answer.ok ? 'ok' : ProtocolError.parse(answer.error).code;
      const want = expected(message);
      if (got !== want) expect([message.to, message.data.slice(0, 20), got]).toEqual([message.to, message.data.slice(0, 20), want === 'BAD_REQUEST' ? want : 'RATE_LIMITED']);
      outcomes[got] = (outcomes[got] ?? 0) + 1;
      if (answer.ok) delivered.get(message.to)!.push({ from: message.sender.id, data: message.data });
    }
    expect(Object.keys(outcomes).sort()).toEqual(['BAD_REQUEST', 'FORBIDDEN', 'NOT_FOUND', 'ok']);
    await barrier(...people.map((p) => p.socket));
    for (const person of people) expect(relayed(person)).toEqual(delivered.get(person.id));
  });

  it('limits each sender seat to a burst of 100, then about 40 a second, whichever connection it comes from', async () => {
    const { fac, co, mo } = await groupRoom(t.server);
    // Sent one after another until the first refusal: 100 at least, and 40 more per second it took at most.
    const started = performance.now();
    let accepted = 0;
    let refusal: Result<unknown> | undefined;
    while (!refusal && accepted < 1000) {
      const answer = await request(fac.socket, 'e2ee:relay', { to: mo.id, data: `AAAA${accepted}` });
      if (answer.ok) accepted++;
      else refusal = answer;
    }
    const seconds = (performance.now() - started) / 1000;
    expectError(refusal, 'RATE_LIMITED');
    expect(accepted).toBeGreaterThanOrEqual(100);
    expect(accepted).toBeLessThanOrEqual(100 + 40 * Math.ceil(seconds));
    await vi.waitFor(() => expect(relayed(mo)).toHaveLength(accepted), WAIT);

    // Per seat: another facilitator, and the member's own messages, are not held back.
    await ok(co.socket, 'e2ee:relay', { to: mo.id, data: 'Q08' });
    await ok(mo.socket, 'e2ee:relay', { to: fac.id, data: 'TW8' });
    // A new connection for the same seat does not start afresh: its burst is spent.
    await drop(t.server, fac);
    const again = await resume(t.server, fac);
    const answers: Result<unknown>[] = [];
    for (let i = 0; i < 100; i++) answers.push(await request(again.socket, 'e2ee:relay', { to: mo.id, data: 'AAAA' }));
    expect(answers.filter((a) => !a.ok).length).toBeGreaterThan(0);
    for (const answer of answers) if (!answer.ok) expectError(answer, 'RATE_LIMITED');
  });
});

describe('invite ids', () => {
  const t = useServer();

  it('room:create and invite:create answer the new link\'s id, which the views then carry', async () => {
    const creator = await connect(t.server);
    const links = await ok(creator, 'room:create', { title: 'Ids' });
    expect(links.inviteId).toMatch(/^[0-9a-f-]{36}$/);
    const fac = await enter(t.server, links.roomId, links.facilitatorToken, 'Fay');
    expect(fac.entered.self.inviteId).toBeNull();
    const mo = await admittedMember(t.server, links, fac, 'Mo');
    expect(currentView(mo).self.inviteId).toBe(links.inviteId);

    const personal = await ok(fac.socket, 'invite:create', {});
    expect(personal.inviteId).toMatch(/^[0-9a-f-]{36}$/);
    expect(personal.inviteId).not.toBe(links.inviteId);
    const bea = await admittedMember(t.server, { ...links, inviteToken: personal.inviteToken }, fac, 'Bea');
    expect(currentView(bea).self.inviteId).toBe(personal.inviteId);

    // Facilitators see everyone's (to check their handshake); members see only their own.
    const view = await viewWhere(fac, (v) => (v.facilitation?.everyone.length ?? 0) === 3);
    expect(Object.fromEntries(view.facilitation!.everyone.map((m) => [m.id, m.inviteId]))).toEqual({ [fac.id]: null, [mo.id]: links.inviteId, [bea.id]: personal.inviteId });
    expect(JSON.stringify(currentView(mo))).not.toContain(personal.inviteId);
    expect(JSON.stringify(currentView(bea))).not.toContain(links.inviteId);
  });
});

describe('media for end-to-end encryption', () => {
  const t = useServer({ SYNTHETIC_MEDIA: 'true' });
  const plain: PlainMedia[] = [];
  let sink: RtpSink | undefined;

  afterEach(() => {
    for (const media of plain.splice(0)) media.close();
    sink?.close();
    sink = undefined;
  });

  it('offers Opus and VP8 only, and refuses to receive any other codec with BAD_REQUEST', async () => {
    const room = await openRoom(t.server);
    const capabilities = await mediaJoin(room.facilitator);
    expect([...new Set(capabilities.codecs?.map((c) => c.mimeType))].sort()).toEqual(['audio/opus', 'video/VP8', 'video/rtx']);
    const send = await ok(room.facilitator.socket, 'transport:create', { direction: 'send' });
    const video = (mimeType: string, parameters: Record<string, string | number> = {}) => ({
      transportId: send.id,
      kind: 'video' as const,
      source: 'camera' as const,
      rtpParameters: { codecs: [{ mimeType, payloadType: 102, clockRate: 90_000, parameters }], encodings: [{ ssrc: 5555 }] },
    });
    for (const refused of [video('video/VP9', { 'profile-id': 2 }), video('video/H264', { 'packetization-mode': 1, 'profile-level-id': '42e01f' }), video('video/AV1'), video('video/rtx', { apt: 101 })]) {
      expectError(await request(room.facilitator.socket, 'media:produce', refused), 'BAD_REQUEST');
    }
    const red = { transportId: send.id, kind: 'audio' as const, source: 'mic' as const, rtpParameters: { codecs: [{ mimeType: 'audio/red', payloadType: 63, clockRate: 48_000, channels: 2 }], encodings: [{ ssrc: 6666 }] } };
    expectError(await request(room.facilitator.socket, 'media:produce', red), 'BAD_REQUEST');
    // VP8 (with RTX beside it) is taken.
    await ok(room.facilitator.socket, 'media:produce', {
      ...video('video/VP8'),
      rtpParameters: {
        codecs: [
          { mimeType: 'video/VP8', payloadType: 101, clockRate: 90_000 },
          { mimeType: 'video/rtx', payloadType: 102, clockRate: 90_000, parameters: { apt: 101 } },
        ],
        encodings: [{ ssrc: 7777, rtx: { ssrc: 7778 } }],
      },
    });
  });

  it('media:keysReady asks the sender of every video the caller receives for a key frame', async () => {
    const { server } = t;
    sink = await RtpSink.open();
    const room = await openRoom(server, 'Host');
    const guest = await admittedMember(server, room, room.facilitator, 'Guest');
    const capabilities = await mediaJoin(room.facilitator);
    // What the guest sends, as mediasoup has it (watched from before the guest's media starts).
    const media = watchMedia(server, room.roomId);
    await mediaJoin(guest);
    const host = await PlainMedia.open(room.facilitator);
    const camera = await PlainMedia.open(guest);
    plain.push(host, camera);
    await host.receive(capabilities, sink.port);
    const videoId = await camera.produce('video');
    // The guest's camera runs all along (a key frame every second).
    let running = true;
    const sending = (async () => {
      while (running) await camera.sendVideo(1, 1000 / 30);
    })();
    try {
      await vi.waitFor(() => expect(sink!.totals().streams).toBe(1), WAIT);
      const guestVideo = media.producers.get(videoId)!;
      /** Key frame requests (PLIs) the server has sent the guest's camera so far. */
      const plis = async () => (await guestVideo.getStats()).reduce((n, s) => n + s.pliCount, 0);

      // Steady: nobody asks for key frames once everyone receives.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const before = await plis();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await plis()).toBe(before);
      // The host's browser has a new key: the guest's camera is asked for a key frame.
      await ok(room.facilitator.socket, 'media:keysReady', {});
      await vi.waitFor(async () => expect(await plis()).toBeGreaterThan(before), WAIT);
      // Asking often is limited (5 at once, then one every 2 s).
      const answers: Result<unknown>[] = [];
      for (let i = 0; i < 6; i++) answers.push(await request(room.facilitator.socket, 'media:keysReady', {}));
      expect(answers.slice(0, 4).every((a) => a.ok)).toBe(true);
      expectError(answers[5], 'RATE_LIMITED');
    } finally {
      running = false;
      await sending;
    }
  });

  it('media:keysReady before media has started asks nothing and answers ok', async () => {
    const room = await openRoom(t.server, 'Host');
    await ok(room.facilitator.socket, 'media:keysReady', {});
  });
});
