import { randomBytes, randomUUID } from 'node:crypto';
import {
  DEFAULT_AGREEMENT,
  type ConsumerOffer,
  type RoomView,
  TransportOptions,
} from '@group-room/shared';
import type { RunOptions } from '@group-room/signal';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ACK_TIMEOUT_MS,
  acknowledge,
  admittedMember,
  type Client,
  command,
  type CommandInput,
  connect,
  createRoom,
  currentView,
  disconnectAll,
  drop,
  dtlsParameters,
  enter,
  eventCount,
  eventsOf,
  expectError,
  freeSeats,
  type Links,
  mediaJoin,
  ok,
  openRoom,
  opusRtpParameters,
  type Person,
  raw,
  rawRequest,
  receive,
  REDIS_URL,
  request,
  sendMic,
  startServer,
  useServer,
  sweepAt,
  type TestServer,
  tryCommand,
  viewWhere,
  WAIT,
  waitForEvent,
  waitForOffer,
  waitingMember,
  watchMedia,
  wireText,
} from '../support/signal-client.js';

/*
 * The signalling server end to end: a real HTTP + Socket.IO server with a real mediasoup
 * worker, driven by socket.io-client. No WebRTC media flows (no browser): transports,
 * producers and consumers are created on the server and their state (paused or not) is read
 * from the mediasoup objects themselves.
 */

const facilitatorOnlyCommands = (self: Person, facilitator: Person, other: Person): CommandInput[] => [
  { type: 'agreement.set', text: 'Anything goes.' },
  { type: 'member.admit', memberId: self.id },
  { type: 'member.admit', memberId: other.id },
  { type: 'member.admitAll' },
  { type: 'member.remove', memberId: facilitator.id, block: true },
  { type: 'member.remove', memberId: other.id, block: false },
  { type: 'member.setRole', memberId: self.id, role: 'cofacilitator' },
  { type: 'room.setAutoAdmit', enabled: true },
  { type: 'room.setLocked', locked: true },
  { type: 'session.end' },
];

// ---------------------------------------------------------------------------------------------

describe('signal server (in-memory store)', () => {
  const t = useServer();

  describe('create and enter', () => {
    it('creates a room with two links; the facilitator goes straight in, a member starts at the agreement', async () => {
      const before = Date.now();
      const links = await createRoom(t.server, { title: '  Tuesday group ', durationMinutes: 60 });
      expect(links.roomId).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect(links.facilitatorToken).not.toBe(links.inviteToken);
      // The shared invite link's id comes with it (a facilitator's browser derives its secret from it).
      const { inviteId } = links as typeof links & { inviteId: string };
      expect(inviteId).toMatch(/^[0-9a-f-]{36}$/);
      expect(t.server.rooms.mediaCount).toBe(0); // no router until someone starts media

      const fay = await enter(t.server, links.roomId, links.facilitatorToken, '  Fay \u200b Facil ');
      expect(fay.entered).toEqual({
        roomId: links.roomId,
        title: 'Tuesday group',
        session: { startsAt: expect.any(Number), endsAt: expect.any(Number), warnMinutes: 5 },
        agreement: { text: DEFAULT_AGREEMENT, version: expect.any(String), updatedAt: expect.any(Number) },
        locked: false,
        self: { id: fay.id, displayName: 'Fay Facil', role: 'facilitator', stage: 'admitted', inviteId: null, mustAcknowledge: false, media: true, held: { mic: null, camera: null }, asked: [], share: { may: true, asking: false }, checkedOut: false },
        members: [{ id: fay.id, displayName: 'Fay Facil', role: 'facilitator', connection: 'online', producers: [], sending: { mic: false, camera: false, screen: false } }],
        floor: { mode: 'open', holder: null, hands: [], round: null, turn: 0, turnStartedAt: null, turnEndsAt: null, turnPausedMs: null },
        share: { maxShares: 1, allowWholeScreen: false },
        checkout: null,
        aside: null,
        facilitation: {
          autoAdmit: false,
          everyone: [
            {
              id: fay.id,
              displayName: 'Fay Facil',
              role: 'facilitator',
              connection: 'online',
              producers: [],
              sending: { mic: false, camera: false, screen: false },
              stage: 'admitted',
              acknowledgedVersion: null,
              enteredAt: expect.any(Number),
              inviteId: null,
              heldOff: [],
              asked: [],
              // Facilitators share without a grant.
              share: { granted: true, asking: false },
              // Entered with the link alone (no owner key): a facilitator, not the owner.
              owner: false,
            },
          ],
          acknowledgements: [],
          checkedOut: [],
        },
      });
      // With a resume credential for this seat, and how long the seat is kept after a drop.
      expect(fay.resume).toEqual({ credential: expect.any(String), memberId: fay.id, graceSeconds: 120 });
      expect(fay.entered.session.startsAt).toBeGreaterThanOrEqual(before);
      expect(fay.entered.session.endsAt - fay.entered.session.startsAt).toBe(60 * 60_000);
      // The enter's view is also pushed, so a client can rely on `room:view` alone.
      expect(eventsOf(fay.socket, 'room:view').map((e) => e.view)).toEqual([fay.entered]);

      const bo = await enter(t.server, links.roomId, links.inviteToken, 'Bo');
      expect(bo.id).not.toBe(fay.id);
      expect(bo.resume).toMatchObject({ memberId: bo.id, graceSeconds: 120 });
      expect(bo.resume.credential).not.toBe(fay.resume.credential);
      expect(Object.keys(bo.entered).sort()).toEqual(['agreement', 'locked', 'roomId', 'self', 'session', 'title']);
      expect(bo.entered.self).toEqual({
        id: bo.id,
        displayName: 'Bo',
        role: 'member',
        stage: 'agreement',
        inviteId,
        mustAcknowledge: true,
        media: false,
        held: { mic: null, camera: null },
        asked: [],
        share: { may: false, asking: false },
        checkedOut: false,
      });

      const seen = await viewWhere(fay, (v) => v.facilitation?.everyone.length === 2);
      expect(seen.members?.map((m) => m.id)).toEqual([fay.id]); // not admitted: not among the members
      expect(seen.facilitation?.everyone[1]).toMatchObject({ id: bo.id, displayName: 'Bo', role: 'member', stage: 'agreement', acknowledgedVersion: null });
      expect(t.server.rooms.mediaCount).toBe(0);
    });

    it('offers opus and VP8 in the router capabilities from media:join', async () => {
      const { facilitator } = await openRoom(t.server);
      const capabilities = await mediaJoin(facilitator);
      const mimeTypes = (capabilities.codecs ?? []).map((c) => c.mimeType.toLowerCase());
      expect(mimeTypes).toContain('audio/opus');
      expect(mimeTypes).toContain('video/vp8');
      const opus = capabilities.codecs?.find((c) => c.mimeType.toLowerCase() === 'audio/opus');
      expect(opus).toMatchObject({ kind: 'audio', clockRate: 48000, channels: 2 });
      expect(t.server.rooms.mediaCount).toBe(1);
      const router = t.server.rooms.media(facilitator.entered.roomId)!.router;
      // Again (a reload's page starting over): the person's media starts afresh on the same router.
      expect(await mediaJoin(facilitator)).toEqual(capabilities);
      expect(t.server.rooms.mediaCount).toBe(1);
      expect(t.server.rooms.media(facilitator.entered.roomId)?.router).toBe(router);
      expect(t.server.rooms.media(facilitator.entered.roomId)?.has(facilitator.id)).toBe(true);
    });

    it('takes media:join, transport:create and media:ready sent together in the order sent (a page does not wait for each answer)', async () => {
      const room = await openRoom(t.server);
      const rtpCapabilities = await mediaJoin(room.facilitator); // what the page would load its device with
      const bo = await admittedMember(t.server, room, room.facilitator, 'Bo');
      const [joined, transport, ready] = await Promise.all([
        request(bo.socket, 'media:join', {}),
        request(bo.socket, 'transport:create', { direction: 'recv' }),
        request(bo.socket, 'media:ready', { rtpCapabilities }),
      ]);
      expect(joined.ok && transport.ok && ready.ok).toBe(true);
      expect(ready.ok && ready.data.consumers).toEqual([]);
      // One refused refuses what follows it, as it would have had the page waited: Cy is still waiting.
      const cy = await waitingMember(t.server, room, 'Cy');
      const [refused, after] = await Promise.all([request(cy.socket, 'media:join', {}), request(cy.socket, 'transport:create', { direction: 'recv' })]);
      expectError(refused, 'FORBIDDEN');
      expectError(after, 'INVALID_STATE');
    });

    it('makes a different room id and different links each time', async () => {
      const socket = await connect(t.server);
      const made = await Promise.all(Array.from({ length: 5 }, () => ok(socket, 'room:create', {})));
      expect(new Set(made.map((m) => m.roomId)).size).toBe(5);
      expect(new Set(made.flatMap((m) => [m.facilitatorToken, m.inviteToken])).size).toBe(10);
    });

    it('uses the agreement given at creation', async () => {
      const { facilitator } = await openRoom(t.server, 'Fay', { agreement: '  Be kind.\r\nStay private.  ' });
      expect(facilitator.entered.agreement.text).toBe('Be kind.\nStay private.');
    });

    it('answers through the typed client API', async () => {
      const socket = await connect(t.server);
      const result = await socket.emitWithAck('room:create', {});
      expect(result.ok).toBe(true);
      if (result.ok) expect(result.data.roomId).toMatch(/^[A-Za-z0-9_-]{10,64}$/);
    });

    it('lets a member leave by request and enter again; the others\' views drop and regain them', async () => {
      const room = await openRoom(t.server);
      const bo = await admittedMember(t.server, room, room.facilitator, 'Bo');
      await viewWhere(room.facilitator, (v) => v.members?.length === 2);
      expect(await ok(bo.socket, 'room:leave', {})).toEqual({});
      const after = await viewWhere(room.facilitator, (v) => v.members?.length === 1);
      expect(after.facilitation?.everyone.map((m) => m.id)).toEqual([room.facilitator.id]);
      // The acknowledgement stays on record after leaving.
      expect(after.facilitation?.acknowledgements.map((a) => a.memberId)).toEqual([bo.id]);

      // Leaving when not in a room is harmless; requests after it need a room again.
      expect(await ok(bo.socket, 'room:leave', {})).toEqual({});
      expectError(await tryCommand(bo, { type: 'room.setLocked', locked: true }), 'INVALID_STATE');

      // Back in through the agreement, as a new person.
      const { view } = await ok(bo.socket, 'room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Bo' });
      expect(view.self.id).not.toBe(bo.id);
      expect(view.self.stage).toBe('agreement');
      await viewWhere(room.facilitator, (v) => v.facilitation?.everyone.some((m) => m.id === view.self.id) === true);
    });
  });

  describe('typed errors', () => {
    let links: Links;
    beforeAll(async () => {
      links = await createRoom(t.server);
    });

    it.each([
      ['wrong types', () => ({ roomId: 1234567890, token: links.inviteToken, displayName: 'Ada' }), 'roomId'],
      ['wrong type of name', () => ({ roomId: links.roomId, token: links.inviteToken, displayName: ['Ada'] }), 'displayName'],
      ['wrong type of token', () => ({ roomId: links.roomId, token: 12345, displayName: 'Ada' }), 'token'],
      ['a missing name', () => ({ roomId: links.roomId, token: links.inviteToken }), 'displayName'],
      ['a missing token', () => ({ roomId: links.roomId, displayName: 'Ada' }), 'token'],
      ['an extra key', () => ({ roomId: links.roomId, token: links.inviteToken, displayName: 'Ada', role: 'facilitator' }), 'role'],
      ['a bad room id', () => ({ roomId: '../../etc', token: links.inviteToken, displayName: 'Ada' }), 'roomId'],
      ['a token too short', () => ({ roomId: links.roomId, token: 'short', displayName: 'Ada' }), 'token'],
      ['a name too long', () => ({ roomId: links.roomId, token: links.inviteToken, displayName: 'x'.repeat(41) }), 'displayName'],
      ['a name far too long', () => ({ roomId: links.roomId, token: links.inviteToken, displayName: 'x'.repeat(5000) }), 'displayName'],
      ['an empty name', () => ({ roomId: links.roomId, token: links.inviteToken, displayName: ' \u200b\t ' }), 'displayName'],
    ])('room:enter with %s is BAD_REQUEST', async (_label, payload, field) => {
      const socket = await connect(t.server);
      const error = expectError(await rawRequest(socket, 'room:enter', payload()), 'BAD_REQUEST');
      expect(error.message).toContain(field);
      // A refused request changes nothing: the socket may still enter.
      await ok(socket, 'room:enter', { roomId: links.roomId, token: links.inviteToken, displayName: 'Ada' });
    });

    it.each([
      ['a title too long', { title: 'x'.repeat(81) }, 'title'],
      ['a session too short', { durationMinutes: 5 }, 'durationMinutes'],
      ['a fractional duration', { durationMinutes: 60.5 }, 'durationMinutes'],
      ['an empty agreement', { agreement: ' \n ' }, 'agreement'],
      ['an agreement too long', { agreement: 'x'.repeat(4001) }, 'agreement'],
    ])('room:create with %s is BAD_REQUEST', async (_label, payload, field) => {
      const socket = await connect(t.server);
      expect(expectError(await rawRequest(socket, 'room:create', payload), 'BAD_REQUEST').message).toContain(field);
    });

    it.each([
      ['an unknown command', { command: { type: 'room.destroy' } }],
      ['no command', {}],
      ['a command that is a string', { command: 'session.end' }],
      ['an extra key in a command', { command: { type: 'room.setLocked', locked: true, everyone: true } }],
      ['an extra key beside the command', { command: { type: 'room.setLocked', locked: true }, as: 'facilitator' }],
      ['a wrong type in a command', { command: { type: 'room.setLocked', locked: 'yes' } }],
      ['an acknowledgement without the privacy confirmation', { command: { type: 'agreement.acknowledge', version: 'v', privateSpace: false } }],
      ['an empty agreement text', { command: { type: 'agreement.set', text: '   ' } }],
      ['a missing member id', { command: { type: 'member.remove', block: true } }],
      ['a role that cannot be given', { command: { type: 'member.setRole', memberId: 'm', role: 'facilitator' } }],
    ])('room:command with %s is BAD_REQUEST, even from the facilitator', async (_label, payload) => {
      const fay = await enter(t.server, links.roomId, links.facilitatorToken, 'Fay');
      const before = await t.server.store.get(links.roomId);
      expectError(await rawRequest(fay.socket, 'room:command', payload), 'BAD_REQUEST');
      expect(await t.server.store.get(links.roomId)).toEqual(before);
    });

    it.each([
      ['a string', 'hello'],
      ['a number', 42],
      ['null', null],
      ['an array', [{ roomId: 'x'.repeat(12), token: 'x'.repeat(20), displayName: 'Ada' }]],
      ['a boolean', true],
    ])('a non-object payload (%s) is BAD_REQUEST', async (_label, payload) => {
      const socket = await connect(t.server);
      for (const name of ['room:enter', 'room:create', 'room:command', 'media:join', 'transport:create']) {
        expectError(await rawRequest(socket, name, payload), 'BAD_REQUEST');
      }
    });

    it('a request with only an acknowledgement (no payload) is BAD_REQUEST', async () => {
      const socket = await connect(t.server);
      expectError(await rawRequest(socket, 'room:create'), 'BAD_REQUEST');
      expectError(await rawRequest(socket, 'room:leave'), 'BAD_REQUEST');
      expectError(await rawRequest(socket, 'media:join'), 'BAD_REQUEST');
      expectError(await rawRequest(socket, 'invite:create'), 'BAD_REQUEST');
    });

    it('extra keys are refused on every request', async () => {
      const socket = await connect(t.server);
      expectError(await rawRequest(socket, 'room:create', { admin: true }), 'BAD_REQUEST');
      expectError(await rawRequest(socket, 'room:leave', { everyone: true }), 'BAD_REQUEST');
      expectError(await rawRequest(socket, 'invite:create', { role: 'facilitator' }), 'BAD_REQUEST');
      expectError(await rawRequest(socket, 'media:join', { force: true }), 'BAD_REQUEST');
      expectError(await rawRequest(socket, 'transport:create', { direction: 'send', port: 1 }), 'BAD_REQUEST');
      expectError(await rawRequest(socket, 'consumer:resume', { consumerId: 'c', all: true }), 'BAD_REQUEST');
    });

    it('an unknown room is NOT_FOUND (its link is valid, the room is gone) and opens no router', async () => {
      const gone = await createRoom(t.server);
      await t.server.store.delete(gone.roomId);
      const socket = await connect(t.server);
      const before = t.server.rooms.mediaCount;
      expectError(await request(socket, 'room:enter', { roomId: gone.roomId, token: gone.facilitatorToken, displayName: 'Ada' }), 'NOT_FOUND');
      expectError(await request(socket, 'room:enter', { roomId: gone.roomId, token: gone.inviteToken, displayName: 'Ada' }), 'NOT_FOUND');
      expect(t.server.rooms.mediaCount).toBe(before);
      // A room id nobody made, with a real link for another room: the link is refused first.
      expectError(await request(socket, 'room:enter', { roomId: 'doesNotExist_123', token: links.inviteToken, displayName: 'Ada' }), 'FORBIDDEN');
    });

    it('entering twice is INVALID_STATE, and the first membership stays', async () => {
      const fay = await enter(t.server, links.roomId, links.facilitatorToken, 'Fay');
      expectError(await request(fay.socket, 'room:enter', { roomId: links.roomId, token: links.facilitatorToken, displayName: 'Fay again' }), 'INVALID_STATE');
      const other = await createRoom(t.server);
      expectError(await request(fay.socket, 'room:enter', { roomId: other.roomId, token: other.facilitatorToken, displayName: 'Fay' }), 'INVALID_STATE');
      const state = await t.server.store.get(links.roomId);
      expect(state?.members[fay.id]?.displayName).toBe('Fay');
      expect((await t.server.store.get(other.roomId))?.members).toEqual({});
    });

    it.each([
      ['room:command', { command: { type: 'room.setLocked', locked: true } }],
      ['invite:create', {}],
      ['media:join', {}],
      ['transport:create', { direction: 'send' }],
      ['transport:connect', { transportId: 't-1', dtlsParameters }],
      ['media:produce', { transportId: 't-1', kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters }],
      ['media:setProducerPaused', { producerId: 'p-1', paused: true }],
      ['media:closeProducer', { producerId: 'p-1' }],
      ['media:ready', { rtpCapabilities: { codecs: [] } }],
      ['consumer:resume', { consumerId: 'c-1' }],
      ['consumers:resume', { consumers: [{ consumerId: 'c-1' }] }],
    ] as const)('%s before entering is INVALID_STATE', async (name, payload) => {
      const socket = await connect(t.server);
      expectError(await rawRequest(socket, name, payload), 'INVALID_STATE');
    });

    it.each([
      ['transport:create', { direction: 'send' }],
      ['transport:connect', { transportId: 't-1', dtlsParameters }],
      ['media:produce', { transportId: 't-1', kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters }],
      ['media:setProducerPaused', { producerId: 'p-1', paused: true }],
      ['media:closeProducer', { producerId: 'p-1' }],
      ['media:ready', { rtpCapabilities: { codecs: [] } }],
      ['consumer:resume', { consumerId: 'c-1' }],
      ['consumers:resume', { consumers: [{ consumerId: 'c-1' }] }],
    ] as const)('%s in the room but before media:join is INVALID_STATE', async (name, payload) => {
      const fay = await enter(t.server, links.roomId, links.facilitatorToken, 'Fay');
      expectError(await rawRequest(fay.socket, name, payload), 'INVALID_STATE');
    });

    it('transport:connect with an unknown transport id is NOT_FOUND', async () => {
      const { facilitator } = await openRoom(t.server);
      await mediaJoin(facilitator);
      await ok(facilitator.socket, 'transport:create', { direction: 'send' });
      expectError(await request(facilitator.socket, 'transport:connect', { transportId: randomUUID(), dtlsParameters }), 'NOT_FOUND');
    });

    it("another member's transport is NOT_FOUND, not usable", async () => {
      const room = await openRoom(t.server);
      const bo = await admittedMember(t.server, room, room.facilitator, 'Bo');
      await mediaJoin(room.facilitator);
      await mediaJoin(bo);
      const send = await ok(room.facilitator.socket, 'transport:create', { direction: 'send' });
      expectError(await request(bo.socket, 'transport:connect', { transportId: send.id, dtlsParameters }), 'NOT_FOUND');
      expectError(
        await request(bo.socket, 'media:produce', { transportId: send.id, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters }),
        'NOT_FOUND',
      );
    });

    describe('media:produce with parameters that pass the schema but not mediasoup', () => {
      const cases: [string, Record<string, unknown>][] = [
        ['a codec without payloadType', { codecs: [{ mimeType: 'audio/opus', clockRate: 48000 }] }],
        ['a malformed mimeType', { codecs: [{ mimeType: 'opus', clockRate: 48000, payloadType: 111 }] }],
        ['an unsupported codec', { codecs: [{ mimeType: 'audio/x-nonsense', clockRate: 8000, payloadType: 111 }], encodings: [{ ssrc: 1 }] }],
        ['a clock rate the codec does not have', { ...opusRtpParameters, codecs: [{ ...opusRtpParameters.codecs[0], clockRate: 44100 }] }],
        ['an ssrc that is a string', { ...opusRtpParameters, encodings: [{ ssrc: 'abc' }] }],
        ['an RTX ssrc that is a string', { ...opusRtpParameters, encodings: [{ ssrc: 7, rtx: { ssrc: 'x' } }] }],
        ['a header extension without id', { ...opusRtpParameters, headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid' }] }],
        ['an RTX codec without its media codec', { codecs: [{ mimeType: 'audio/rtx', clockRate: 48000, payloadType: 97, parameters: { apt: 5 } }] }],
        ['simulcast encodings for opus', { ...opusRtpParameters, encodings: [{ rid: 'r0' }, { rid: 'r1' }] }],
      ];

      it.each(cases)('%s is BAD_REQUEST, not INTERNAL', async (_label, rtpParameters) => {
        const { facilitator } = await openRoom(t.server);
        await mediaJoin(facilitator);
        const send = await ok(facilitator.socket, 'transport:create', { direction: 'send' });
        const result = await rawRequest(facilitator.socket, 'media:produce', { transportId: send.id, kind: 'audio', source: 'mic', rtpParameters });
        expectError(result, 'BAD_REQUEST');
        // Nothing was produced: the same source may still be produced properly.
        await ok(facilitator.socket, 'media:produce', { transportId: send.id, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters });
      });
    });

    it('produce rules: send transport only, source matches kind, one producer per source', async () => {
      const { facilitator } = await openRoom(t.server);
      await mediaJoin(facilitator);
      const send = await ok(facilitator.socket, 'transport:create', { direction: 'send' });
      const recv = await ok(facilitator.socket, 'transport:create', { direction: 'recv' });
      const produce = (transportId: string, extra: { kind: 'audio' | 'video'; source: 'mic' | 'camera' }) =>
        request(facilitator.socket, 'media:produce', { transportId, rtpParameters: opusRtpParameters, ...extra });
      expectError(await produce(recv.id, { kind: 'audio', source: 'mic' }), 'BAD_REQUEST');
      expectError(await produce(send.id, { kind: 'audio', source: 'camera' }), 'BAD_REQUEST');
      expect((await produce(send.id, { kind: 'audio', source: 'mic' })).ok).toBe(true);
      expectError(await produce(send.id, { kind: 'audio', source: 'mic' }), 'INVALID_STATE');
    });

    it('an unknown event name with an acknowledgement is BAD_REQUEST', async () => {
      const socket = await connect(t.server);
      expectError(await rawRequest(socket, 'room:join', { roomId: links.roomId, displayName: 'Ada' }), 'BAD_REQUEST'); // the old protocol
      expectError(await rawRequest(socket, 'room:destroy', { roomId: links.roomId }), 'BAD_REQUEST');
      expectError(await rawRequest(socket, 'constructor', {}), 'BAD_REQUEST');
      expectError(await rawRequest(socket, '__proto__'), 'BAD_REQUEST');
    });

    it('a request without an acknowledgement is ignored and the connection keeps working', async () => {
      const socket = await connect(t.server);
      raw(socket).emit('room:create', {});
      raw(socket).emit('room:enter', { roomId: links.roomId, token: links.inviteToken, displayName: 'Ada' });
      raw(socket).emit('room:enter', 'garbage');
      raw(socket).emit('room:command', { command: { type: 'session.end' } });
      raw(socket).emit('no:such:event', { a: 1 });
      raw(socket).emit('media:produce');
      // Ignored, not acted on blindly: the enter above did not happen.
      const { view } = await ok(socket, 'room:enter', { roomId: links.roomId, token: links.inviteToken, displayName: 'Ada' });
      expect(view.roomId).toBe(links.roomId);
      expect(Object.values((await t.server.store.get(links.roomId))!.members).filter((m) => m.displayName === 'Ada')).toHaveLength(1);
      expect(socket.connected).toBe(true);
    });

    it('a message over the 64 KiB limit drops that connection only', async () => {
      const bystander = await enter(t.server, links.roomId, links.facilitatorToken, 'Bystander');
      await mediaJoin(bystander);
      const big = await connect(t.server);
      const gone = new Promise<string>((resolve) => big.once('disconnect', (reason) => resolve(reason)));
      let answer: unknown;
      raw(big).emit('room:enter', { roomId: links.roomId, token: links.inviteToken, displayName: 'x'.repeat(70 * 1024) }, (result: unknown) => (answer = result));
      // Answered TOO_LARGE first, then closed by the server (#18).
      expect(await gone).toBe('io server disconnect');
      expectError(answer, 'TOO_LARGE');
      expect(big.connected).toBe(false);
      // The server and the other connection carry on.
      expect(bystander.socket.connected).toBe(true);
      expect(await ok(bystander.socket, 'transport:create', { direction: 'recv' })).toMatchObject({ id: expect.any(String) });
      // Just under the limit is still a normal (refused) request.
      const socket = await connect(t.server);
      expectError(await rawRequest(socket, 'room:enter', { roomId: links.roomId, token: links.inviteToken, displayName: 'x'.repeat(60 * 1024) }), 'BAD_REQUEST');
    });

    it('after all the bad input, the server still serves', async () => {
      const fresh = await openRoom(t.server, 'Fresh');
      expect(fresh.facilitator.entered.members?.map((m) => m.displayName)).toEqual(['Fresh']);
      await mediaJoin(fresh.facilitator);

      const health = await fetch(`${t.server.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${t.server.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ checks: { workers: true, lease: true } });
      expect(t.server.pool.healthy).toBe(true);
    });
  });

  describe('leaving', () => {
    it("keeps a dropped person's seat as 'reconnecting' until it is freed; a freed seat or a leave takes them out of everyone's views, and the router closes when the last with media is gone", async () => {
      const room = await openRoom(t.server);
      const fay = room.facilitator;
      const bo = await admittedMember(t.server, room, fay, 'Bo');
      const cy = await admittedMember(t.server, room, fay, 'Cy');
      for (const person of [fay, bo, cy]) await mediaJoin(person);
      expect(t.server.rooms.mediaCount).toBe(1);
      const router = t.server.rooms.media(room.roomId)!.router;
      const storedIds = async () => Object.keys((await t.server.store.get(room.roomId))!.members).sort();

      // A dropped connection is not a departure: Bo stays, shown as reconnecting, his media kept.
      await drop(t.server, bo);
      for (const person of [fay, cy]) await viewWhere(person, (v) => v.members?.find((m) => m.id === bo.id)?.connection === 'reconnecting');
      expect(currentView(fay).members?.map((m) => [m.id, m.connection])).toEqual([
        [fay.id, 'online'],
        [bo.id, 'reconnecting'],
        [cy.id, 'online'],
      ]);
      expect(currentView(fay).facilitation?.everyone.find((m) => m.id === bo.id)?.connection).toBe('reconnecting');
      expect((await t.server.store.get(room.roomId))!.members[bo.id]).toMatchObject({ connectionId: null, offlineSince: expect.any(Number) });
      expect(t.server.rooms.media(room.roomId)?.has(bo.id)).toBe(true);
      // A sweep within the grace period keeps the seat; one after it frees it, with its media.
      await sweepAt(t.server, Date.now());
      expect(await storedIds()).toEqual([fay.id, bo.id, cy.id].sort());
      await sweepAt(t.server);
      for (const person of [fay, cy]) await viewWhere(person, (v) => v.members?.map((m) => m.id).join() === [fay.id, cy.id].join());
      expect(currentView(fay).facilitation?.everyone.map((m) => m.id)).toEqual([fay.id, cy.id]);
      expect(await storedIds()).toEqual([fay.id, cy.id].sort());
      expect(t.server.rooms.media(room.roomId)?.has(bo.id)).toBe(false);

      // "Leave" takes a person out at once.
      await ok(cy.socket, 'room:leave', {});
      await viewWhere(fay, (v) => v.members?.length === 1);
      expect(await storedIds()).toEqual([fay.id]);
      expect(t.server.rooms.mediaCount).toBe(1);
      expect(router.closed).toBe(false);

      // The last with media drops: the router stays with her seat, and closes once it is freed.
      await drop(t.server, fay);
      await vi.waitFor(async () => expect((await t.server.store.get(room.roomId))?.members[fay.id]?.connectionId).toBeNull(), WAIT);
      expect(router.closed).toBe(false);
      await sweepAt(t.server);
      await vi.waitFor(() => expect(t.server.rooms.mediaCount).toBe(0), WAIT);
      expect(router.closed).toBe(true);
      expect(t.server.rooms.media(room.roomId)).toBeUndefined();
      expect((await t.server.store.get(room.roomId))?.members).toEqual({});

      // The room (its links) outlives the call: someone may come back and a new router opens.
      const back = await enter(t.server, room.roomId, room.facilitatorToken, 'Fay');
      expect(back.entered.members?.map((m) => m.id)).toEqual([back.id]);
      expect(t.server.rooms.media(room.roomId)).toBeUndefined();
      await mediaJoin(back);
      expect(t.server.rooms.media(room.roomId)?.router.closed).toBe(false);
    });

    it('keeps the router while someone still has media, even if everyone else without media drops and is freed', async () => {
      const room = await openRoom(t.server);
      const bo = await enter(t.server, room.roomId, room.inviteToken, 'Bo'); // at the agreement, no media
      await acknowledge(bo); // waiting: the seat is kept after the drop, until the sweep
      await mediaJoin(room.facilitator);
      await drop(t.server, bo);
      await viewWhere(room.facilitator, (v) => v.facilitation?.everyone.find((m) => m.id === bo.id)?.connection === 'reconnecting');
      await sweepAt(t.server);
      await viewWhere(room.facilitator, (v) => v.facilitation?.everyone.length === 1);
      expect(t.server.rooms.media(room.roomId)?.router.closed).toBe(false);
    });
  });

  describe('transports and media', () => {
    it('creates send and recv transports with ICE candidates on 127.0.0.1; a second send is INVALID_STATE', async () => {
      const { facilitator } = await openRoom(t.server);
      await mediaJoin(facilitator);
      for (const direction of ['send', 'recv'] as const) {
        const transport = TransportOptions.parse(await ok(facilitator.socket, 'transport:create', { direction }));
        expect(transport.iceCandidates.length).toBeGreaterThan(0);
        for (const candidate of transport.iceCandidates) expect(candidate.address).toBe('127.0.0.1');
        expect(new Set(transport.iceCandidates.map((c) => c.protocol))).toEqual(new Set(['udp', 'tcp']));
        expect(transport.iceParameters.iceLite).toBe(true);
        expect(transport.dtlsParameters.fingerprints.length).toBeGreaterThan(0);
      }
      expectError(await request(facilitator.socket, 'transport:create', { direction: 'send' }), 'INVALID_STATE');
      expectError(await request(facilitator.socket, 'transport:create', { direction: 'recv' }), 'INVALID_STATE');
    });

    it('connects a transport with DTLS parameters', async () => {
      const { facilitator } = await openRoom(t.server);
      await mediaJoin(facilitator);
      const send = await ok(facilitator.socket, 'transport:create', { direction: 'send' });
      expect(await ok(facilitator.socket, 'transport:connect', { transportId: send.id, dtlsParameters })).toEqual({});
    });

    it('shows producers in the views, makes paused consumers, pauses and closes them', async () => {
      const room = await openRoom(t.server, 'Ada');
      const ada = room.facilitator;
      const bo = await admittedMember(t.server, room, ada, 'Bo');
      const capabilities = await mediaJoin(ada);
      await mediaJoin(bo);
      const media = watchMedia(t.server, room.roomId);

      // Bo is ready to receive before Ada sends.
      await ok(bo.socket, 'transport:create', { direction: 'recv' });
      expect(await ok(bo.socket, 'media:ready', { rtpCapabilities: capabilities })).toEqual({ consumers: [] });
      expectError(await request(bo.socket, 'media:ready', { rtpCapabilities: capabilities }), 'INVALID_STATE');

      const send = await ok(ada.socket, 'transport:create', { direction: 'send' });
      const { producerId } = await ok(ada.socket, 'media:produce', { transportId: send.id, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters });
      expect(media.producers.get(producerId)?.paused).toBe(false);

      const seen = await viewWhere(bo, (v) => v.members?.find((m) => m.id === ada.id)?.producers.length === 1);
      expect(seen.members?.find((m) => m.id === ada.id)).toEqual({
        id: ada.id,
        displayName: 'Ada',
        role: 'facilitator',
        connection: 'online',
        producers: [{ id: producerId, kind: 'audio', source: 'mic', paused: false }],
        sending: { mic: true, camera: false, screen: false },
      });
      const consumer = await waitForEvent(bo.socket, 'consumer:new');
      expect(consumer).toMatchObject({ producerId, peerId: ada.id, kind: 'audio', source: 'mic', producerPaused: false });
      expect(consumer.rtpParameters.codecs[0]?.mimeType.toLowerCase()).toBe('audio/opus');
      expect(eventsOf(ada.socket, 'consumer:new')).toEqual([]); // nobody receives themselves
      expect(media.consumers.get(consumer.consumerId)?.paused).toBe(true); // until the client asks

      expect(await ok(bo.socket, 'consumer:resume', { consumerId: consumer.consumerId })).toEqual({});
      expect(media.consumers.get(consumer.consumerId)?.paused).toBe(false);
      expectError(await request(bo.socket, 'consumer:resume', { consumerId: randomUUID() }), 'NOT_FOUND');
      expectError(await request(ada.socket, 'consumer:resume', { consumerId: consumer.consumerId }), 'NOT_FOUND');

      // Only the producer's owner may pause it.
      expectError(await request(bo.socket, 'media:setProducerPaused', { producerId, paused: true }), 'NOT_FOUND');
      expect(await ok(ada.socket, 'media:setProducerPaused', { producerId, paused: true })).toEqual({});
      expect(media.producers.get(producerId)?.paused).toBe(true);
      await viewWhere(bo, (v) => v.members?.find((m) => m.id === ada.id)?.producers[0]?.paused === true);
      expect((await t.server.store.get(room.roomId))?.members[ada.id]?.producers[producerId]?.paused).toBe(true);

      // A member admitted later sees the producer and gets a consumer once ready.
      const cy = await admittedMember(t.server, room, ada, 'Cy');
      expect(currentView(cy).members?.find((m) => m.id === ada.id)?.producers).toEqual([{ id: producerId, kind: 'audio', source: 'mic', paused: true }]);
      await mediaJoin(cy);
      // What is already sent comes in media:ready's answer, not announced one by one.
      const listed = await receive(cy, capabilities);
      expect(listed).toEqual([expect.objectContaining({ producerId, peerId: ada.id, kind: 'audio', source: 'mic', producerPaused: true })]);
      expect(eventsOf(cy.socket, 'consumer:new')).toEqual([]);
      expect(media.consumers.get(listed[0]!.consumerId)?.paused).toBe(true);
      // Resumed together; Bo's consumer is not Cy's to resume.
      expect(await ok(cy.socket, 'consumers:resume', { consumers: [{ consumerId: listed[0]!.consumerId }, { consumerId: consumer.consumerId }] })).toEqual({
        missing: [consumer.consumerId],
      });
      expect(media.consumers.get(listed[0]!.consumerId)?.appData['clientReady']).toBe(true);

      expectError(await request(bo.socket, 'media:closeProducer', { producerId }), 'NOT_FOUND');
      expect(await ok(ada.socket, 'media:closeProducer', { producerId })).toEqual({});
      expect(await waitForEvent(bo.socket, 'consumer:closed')).toEqual({ consumerId: consumer.consumerId });
      await viewWhere(bo, (v) => v.members?.find((m) => m.id === ada.id)?.producers.length === 0);
      expectError(await request(ada.socket, 'media:closeProducer', { producerId }), 'NOT_FOUND');
    });
  });

  describe('the facilitated room', () => {
    it('refuses bad, tampered, expired and other rooms\' links with FORBIDDEN', async () => {
      const room = await createRoom(t.server);
      const other = await createRoom(t.server);
      const socket = await connect(t.server);
      const tryEnter = (roomId: string, token: string) => request(socket, 'room:enter', { roomId, token, displayName: 'Eve' });

      expect(expectError(await tryEnter(room.roomId, 'not-a-token-at-all-really'), 'FORBIDDEN').message).toMatch(/not valid/);
      expectError(await tryEnter(room.roomId, randomBytes(64).toString('base64url')), 'FORBIDDEN');
      const [header, payload, signature] = room.facilitatorToken.split('.') as [string, string, string];
      const flipped = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
      expectError(await tryEnter(room.roomId, `${header}.${payload}.${flipped}`), 'FORBIDDEN');
      // A payload claiming another role, with the original signature.
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      const forged = Buffer.from(JSON.stringify({ ...claims, role: 'facilitator', inv: undefined })).toString('base64url');
      const [ih, , is] = room.inviteToken.split('.') as [string, string, string];
      expectError(await tryEnter(room.roomId, `${ih}.${forged}.${is}`), 'FORBIDDEN');
      // alg=none
      const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${payload}.`;
      expectError(await tryEnter(room.roomId, none), 'FORBIDDEN');

      expect(expectError(await tryEnter(room.roomId, other.facilitatorToken), 'FORBIDDEN').message).toMatch(/another room/);
      expect(expectError(await tryEnter(room.roomId, other.inviteToken), 'FORBIDDEN').message).toMatch(/another room/);

      // A session that ended long ago: its links expired with it (the room itself is still stored).
      const old = await createRoom(t.server, { startsAt: Date.now() - 3 * 3600_000, durationMinutes: 15 });
      expect(await t.server.store.get(old.roomId)).not.toBeNull();
      expect(expectError(await tryEnter(old.roomId, old.facilitatorToken), 'FORBIDDEN').message).toMatch(/expired/);
      expect(expectError(await tryEnter(old.roomId, old.inviteToken), 'FORBIDDEN').message).toMatch(/expired/);

      // None of that let anyone in, and the socket may still enter with a good link.
      expect((await t.server.store.get(room.roomId))?.members).toEqual({});
      expect((await tryEnter(room.roomId, room.inviteToken)).ok).toBe(true);
    });

    it('walks a member through agreement, waiting room and admission, sending no other name before admission', async () => {
      // Names that appear nowhere else on the wire (ids are hex, the agreement is fixed text).
      const FAC = 'Zenobia';
      const EARLY = 'Quintessa';
      const LATE = 'Ottoline';
      const room = await openRoom(t.server, FAC, { title: 'Tuesday group' });
      const fac = room.facilitator;
      const version = fac.entered.agreement.version;

      const early = await enter(t.server, room.roomId, room.inviteToken, EARLY);
      const memberAt = (p: Person, stage: 'agreement' | 'waiting', mustAcknowledge: boolean) => ({
        roomId: room.roomId,
        title: 'Tuesday group',
        session: fac.entered.session,
        agreement: fac.entered.agreement,
        locked: false,
        self: { id: p.id, displayName: p.name, role: 'member', stage, inviteId: (room as typeof room & { inviteId: string }).inviteId, mustAcknowledge, media: false, held: { mic: null, camera: null }, asked: [], share: { may: false, asking: false }, checkedOut: false },
      });
      expect(early.entered).toStrictEqual(memberAt(early, 'agreement', true));
      let facView = await viewWhere(fac, (v) => v.facilitation?.everyone.length === 2);
      expect(facView.members?.map((m) => m.displayName)).toEqual([FAC]);
      expect(facView.facilitation?.everyone[1]).toEqual({
        id: early.id,
        displayName: EARLY,
        role: 'member',
        connection: 'online',
        producers: [],
        sending: { mic: false, camera: false, screen: false },
        stage: 'agreement',
        acknowledgedVersion: null,
        enteredAt: expect.any(Number),
        inviteId: (room as typeof room & { inviteId: string }).inviteId,
        heldOff: [],
        asked: [],
        share: { granted: false, asking: false },
        owner: false,
      });

      // At the agreement: no media, and an out-of-date acknowledgement is refused.
      expect(expectError(await request(early.socket, 'media:join', {}), 'FORBIDDEN').message).toMatch(/agree/);
      expectError(await tryCommand(early, { type: 'agreement.acknowledge', version: 'an-old-version', privateSpace: true }), 'INVALID_STATE');
      expect(currentView(early).self.stage).toBe('agreement');

      await acknowledge(early, version);
      expect(await viewWhere(early, (v) => v.self.stage === 'waiting')).toStrictEqual(memberAt(early, 'waiting', false));
      expectError(await request(early.socket, 'media:join', {}), 'FORBIDDEN');
      facView = await viewWhere(fac, (v) => v.facilitation?.everyone[1]?.stage === 'waiting');
      expect(facView.facilitation?.everyone[1]?.acknowledgedVersion).toBe(version);
      expect(facView.facilitation?.acknowledgements).toEqual([{ memberId: early.id, displayName: EARLY, version, at: expect.any(Number) }]);
      expect(facView.members?.map((m) => m.displayName)).toEqual([FAC]);

      const late = await enter(t.server, room.roomId, room.inviteToken, LATE);
      expect(late.entered).toStrictEqual(memberAt(late, 'agreement', true));
      await acknowledge(late);
      await viewWhere(late, (v) => v.self.stage === 'waiting');

      // The facilitator admits the early member; the late one is still waiting and sees it only as a new view of nothing.
      const earlyBefore = eventCount(early.socket);
      const viewsBefore = eventsOf(late.socket, 'room:view').length;
      await command(fac, { type: 'member.admit', memberId: early.id });
      const admitted = await viewWhere(early, (v) => v.self.stage === 'admitted');
      expect(admitted.self).toEqual({
        id: early.id,
        displayName: EARLY,
        role: 'member',
        stage: 'admitted',
        inviteId: (room as typeof room & { inviteId: string }).inviteId,
        mustAcknowledge: false,
        media: true,
        held: { mic: null, camera: null },
        asked: [],
        share: { may: false, asking: false },
        checkedOut: false,
      });
      expect(admitted.members?.map((m) => m.displayName)).toEqual([FAC, EARLY]);
      expect(admitted.facilitation).toBeUndefined();
      await vi.waitFor(() => expect(eventsOf(late.socket, 'room:view').length).toBeGreaterThan(viewsBefore), WAIT);
      expect(currentView(late)).toStrictEqual(memberAt(late, 'waiting', false));
      expectError(await request(late.socket, 'media:join', {}), 'FORBIDDEN');
      expect((await mediaJoin(early)).codecs?.length).toBeGreaterThan(0);
      expect(currentView(fac).facilitation?.everyone.map((m) => [m.displayName, m.stage])).toEqual([
        [FAC, 'admitted'],
        [EARLY, 'admitted'],
        [LATE, 'waiting'],
      ]);

      // Until then, neither member was sent anyone else's name, in any event.
      for (const name of [FAC, LATE]) expect(wireText(early.socket, 0, earlyBefore)).not.toContain(name);
      for (const name of [FAC, EARLY]) expect(wireText(late.socket)).not.toContain(name);
      expect(wireText(early.socket, earlyBefore)).toContain(FAC); // the check can see a name when one is sent

      await command(fac, { type: 'member.admitAll' });
      const lateIn = await viewWhere(late, (v) => v.self.stage === 'admitted');
      expect(lateIn.members?.map((m) => m.displayName)).toEqual([FAC, EARLY, LATE]);
      await viewWhere(early, (v) => v.members?.length === 3);
      await mediaJoin(late);
    });

    it("refuses a member's facilitator commands with FORBIDDEN at every stage, changing nothing", async () => {
      const room = await openRoom(t.server);
      const fac = room.facilitator;
      const atAgreement = await enter(t.server, room.roomId, room.inviteToken, 'Agnes');
      const waiting = await waitingMember(t.server, room, 'Wes');
      const admitted = await admittedMember(t.server, room, fac, 'Adam');
      const everyone = [fac, atAgreement, waiting, admitted];

      const state = await t.server.store.get(room.roomId);
      const counts = everyone.map((p) => eventCount(p.socket));
      for (const [member, other] of [
        [atAgreement, waiting],
        [waiting, atAgreement],
        [admitted, waiting],
      ] as const) {
        for (const cmd of facilitatorOnlyCommands(member, fac, other)) {
          expect(expectError(await tryCommand(member, cmd), 'FORBIDDEN').message, cmd.type).toMatch(/may not/);
        }
        expectError(await request(member.socket, 'invite:create', {}), 'FORBIDDEN');
      }
      // An acknowledgement is a member's own, and only while it is due.
      for (const member of [waiting, admitted]) {
        expectError(await tryCommand(member, { type: 'agreement.acknowledge', version: state!.agreement.version, privateSpace: true }), 'FORBIDDEN');
      }
      expectError(await tryCommand(fac, { type: 'agreement.acknowledge', version: state!.agreement.version, privateSpace: true }), 'FORBIDDEN');

      // Nothing was written and nobody was sent anything (a round trip on each socket flushes what was sent).
      for (const p of everyone) expectError(await rawRequest(p.socket, 'barrier'), 'BAD_REQUEST');
      expect(await t.server.store.get(room.roomId)).toEqual(state);
      expect(everyone.map((p) => eventCount(p.socket))).toEqual(counts);
    });

    it('admitting someone not waiting, or unknown, is refused; an admission raced by two facilitators happens once', async () => {
      const room = await openRoom(t.server);
      const fac = room.facilitator;
      const second = await enter(t.server, room.roomId, room.facilitatorToken, 'Sam');
      const atAgreement = await enter(t.server, room.roomId, room.inviteToken, 'Agnes');
      expectError(await tryCommand(fac, { type: 'member.admit', memberId: atAgreement.id }), 'INVALID_STATE');
      expectError(await tryCommand(fac, { type: 'member.admit', memberId: second.id }), 'INVALID_STATE');
      expectError(await tryCommand(fac, { type: 'member.admit', memberId: randomUUID() }), 'NOT_FOUND');

      const waiting = await waitingMember(t.server, room, 'Wes');
      const results = await Promise.all([fac, second].map((f) => tryCommand(f, { type: 'member.admit', memberId: waiting.id })));
      expect(results.map((r) => r.ok).sort()).toEqual([false, true]);
      expectError(results.find((r) => !r.ok), 'INVALID_STATE');
      await viewWhere(waiting, (v) => v.self.stage === 'admitted');
    });

    it('auto-admit lets acknowledged members straight in, and admits whoever is waiting when switched on', async () => {
      const room = await openRoom(t.server);
      const fac = room.facilitator;
      const waiting = await waitingMember(t.server, room, 'Wes');
      await command(fac, { type: 'room.setAutoAdmit', enabled: true });
      await viewWhere(waiting, (v) => v.self.stage === 'admitted');
      expect(currentView(fac).facilitation?.autoAdmit).toBe(true);
      const next = await enter(t.server, room.roomId, room.inviteToken, 'Nia');
      await acknowledge(next);
      expect((await viewWhere(next, (v) => v.self.stage === 'admitted')).members?.map((m) => m.displayName)).toEqual(['Fay', 'Wes', 'Nia']);
    });

    it('a locked room refuses new members (the facilitator link still works) and admissions until unlocked', async () => {
      const room = await openRoom(t.server);
      const fac = room.facilitator;
      const waiting = await waitingMember(t.server, room, 'Wes');
      await command(fac, { type: 'room.setLocked', locked: true });
      expect((await viewWhere(waiting, (v) => v.locked)).self.stage).toBe('waiting');
      expect(currentView(fac).locked).toBe(true);

      const outsider = await connect(t.server);
      const refused = expectError(await request(outsider, 'room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Lou' }), 'FORBIDDEN');
      expect(refused.message).toMatch(/locked/);
      const fresh = await ok(fac.socket, 'invite:create', {});
      expectError(await request(outsider, 'room:enter', { roomId: room.roomId, token: fresh.inviteToken, displayName: 'Lou' }), 'FORBIDDEN');

      const cofac = await enter(t.server, room.roomId, room.facilitatorToken, 'Sam');
      expect(cofac.entered.self).toMatchObject({ role: 'facilitator', stage: 'admitted', media: true });

      expectError(await tryCommand(fac, { type: 'member.admit', memberId: waiting.id }), 'INVALID_STATE');
      expectError(await tryCommand(fac, { type: 'member.admitAll' }), 'INVALID_STATE');
      await command(fac, { type: 'room.setAutoAdmit', enabled: true }); // does not open a locked room
      expect((await t.server.store.get(room.roomId))?.members[waiting.id]?.stage).toBe('waiting');
      await command(fac, { type: 'room.setLocked', locked: true }); // already locked: no change, no new version
      const version = (await t.server.store.get(room.roomId))?.version;
      await command(fac, { type: 'room.setLocked', locked: true });
      expect((await t.server.store.get(room.roomId))?.version).toBe(version);

      // Unlocking lets in whoever auto-admit was holding back.
      await command(fac, { type: 'room.setLocked', locked: false });
      await viewWhere(waiting, (v) => !v.locked && v.self.stage === 'admitted');
      const lou = await ok(outsider, 'room:enter', { roomId: room.roomId, token: fresh.inviteToken, displayName: 'Lou' });
      expect(lou.view.self.stage).toBe('agreement');
    });

    it('removes a member with a block: they are told, their link stops working, a fresh invite works', async () => {
      const room = await openRoom(t.server);
      const fac = room.facilitator;
      const own = await ok(fac.socket, 'invite:create', {});
      const links = { ...room, inviteToken: own.inviteToken };
      const rex = await admittedMember(t.server, room, fac, 'Rex'); // came in with the room's shared invite
      const una = await admittedMember(t.server, links, fac, 'Una'); // with an invite of her own
      await mediaJoin(una);
      expect(t.server.rooms.media(room.roomId)?.has(una.id)).toBe(true);

      expectError(await tryCommand(fac, { type: 'member.remove', memberId: fac.id, block: false }), 'INVALID_STATE');
      expectError(await tryCommand(fac, { type: 'member.remove', memberId: randomUUID(), block: false }), 'NOT_FOUND');

      await command(fac, { type: 'member.remove', memberId: una.id, block: true });
      expect(await waitForEvent(una.socket, 'room:ended')).toEqual({ reason: 'removed' });
      expect(t.server.rooms.media(room.roomId)?.has(una.id) ?? false).toBe(false); // her media is gone with her
      const facView = await viewWhere(fac, (v) => !v.facilitation?.everyone.some((m) => m.id === una.id));
      expect(facView.members?.map((m) => m.displayName)).toEqual(['Fay', 'Rex']);
      await viewWhere(rex, (v) => v.members?.length === 2);
      expect((await t.server.store.get(room.roomId))?.members[una.id]).toBeUndefined();
      // Her socket is no longer in the room: requests need a room again.
      expectError(await tryCommand(una, { type: 'agreement.acknowledge', version: 'x', privateSpace: true }), 'INVALID_STATE');
      expectError(await request(una.socket, 'media:join', {}), 'INVALID_STATE');

      const again = await connect(t.server);
      const blocked = expectError(await request(again, 'room:enter', { roomId: room.roomId, token: own.inviteToken, displayName: 'Una' }), 'FORBIDDEN');
      expect(blocked.message).toMatch(/no longer/);
      // The room's shared invite was not hers, so it still works; so does a fresh one.
      const other = await connect(t.server);
      expect((await request(other, 'room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Ona' })).ok).toBe(true);
      const fresh = await ok(fac.socket, 'invite:create', {});
      expect((await request(again, 'room:enter', { roomId: room.roomId, token: fresh.inviteToken, displayName: 'Una' })).ok).toBe(true);

      // Removed without a block, a member may come back with the same link.
      await command(fac, { type: 'member.remove', memberId: rex.id, block: false });
      expect(await waitForEvent(rex.socket, 'room:ended')).toEqual({ reason: 'removed' });
      const rexAgain = await connect(t.server);
      expect((await request(rexAgain, 'room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Rex' })).ok).toBe(true);
    });

    it('a co-facilitator made with member.setRole can admit, invite and lock, but not remove or demote the facilitator', async () => {
      const room = await openRoom(t.server);
      const fac = room.facilitator;
      const waiting = await waitingMember(t.server, room, 'Wes');
      expectError(await tryCommand(fac, { type: 'member.setRole', memberId: waiting.id, role: 'cofacilitator' }), 'INVALID_STATE');
      expectError(await tryCommand(fac, { type: 'member.setRole', memberId: fac.id, role: 'member' }), 'FORBIDDEN');

      const cora = await admittedMember(t.server, room, fac, 'Cora');
      expectError(await tryCommand(cora, { type: 'member.admit', memberId: waiting.id }), 'FORBIDDEN');
      await command(fac, { type: 'member.setRole', memberId: cora.id, role: 'cofacilitator' });
      const coView = await viewWhere(cora, (v) => v.self.role === 'cofacilitator');
      expect(coView.facilitation?.everyone.map((m) => m.displayName)).toEqual(['Fay', 'Wes', 'Cora']);

      await command(cora, { type: 'member.admit', memberId: waiting.id });
      await viewWhere(waiting, (v) => v.self.stage === 'admitted');
      const invite = await ok(cora.socket, 'invite:create', {});
      expect(invite.inviteToken.length).toBeGreaterThan(16);
      await command(cora, { type: 'room.setLocked', locked: true });
      await command(cora, { type: 'room.setLocked', locked: false });
      expectError(await tryCommand(cora, { type: 'member.remove', memberId: fac.id, block: true }), 'FORBIDDEN');
      expectError(await tryCommand(cora, { type: 'member.setRole', memberId: fac.id, role: 'member' }), 'FORBIDDEN');

      // Back to member: the facilitation view and the powers go.
      await command(fac, { type: 'member.setRole', memberId: cora.id, role: 'member' });
      const back = await viewWhere(cora, (v) => v.self.role === 'member');
      expect(back.facilitation).toBeUndefined();
      expectError(await tryCommand(cora, { type: 'room.setLocked', locked: true }), 'FORBIDDEN');
    });

    it("a new agreement mid-session takes the admitted member's names and media away until they acknowledge it", async () => {
      const FAC = 'Zenobia';
      const room = await openRoom(t.server, FAC);
      const fac = room.facilitator;
      const mo = await admittedMember(t.server, room, fac, 'Mo');
      const capabilities = await mediaJoin(fac);
      await mediaJoin(mo);
      const media = watchMedia(t.server, room.roomId);

      // Both send a microphone and receive each other.
      const moMic = await sendMic(mo, 1111);
      const facMic = await sendMic(fac, 2222);
      await receive(mo, capabilities);
      await receive(fac, capabilities);
      const moGets = await waitForOffer(mo.socket, (e) => e.producerId === facMic);
      const facGets = await waitForOffer(fac.socket, (e) => e.producerId === moMic);
      await ok(mo.socket, 'consumer:resume', { consumerId: moGets.consumerId });
      await ok(fac.socket, 'consumer:resume', { consumerId: facGets.consumerId });
      const paused = () => ({
        moMic: media.producers.get(moMic)?.paused,
        facMic: media.producers.get(facMic)?.paused,
        moReceives: media.consumers.get(moGets.consumerId)?.paused,
        facReceives: media.consumers.get(facGets.consumerId)?.paused,
      });
      // The worker tells a consumer of its producer's pause by a notification, a moment later.
      const facHearsMoPaused = (value: boolean) =>
        vi.waitFor(() => expect(media.consumers.get(facGets.consumerId)?.producerPaused).toBe(value), WAIT);
      expect(paused()).toEqual({ moMic: false, facMic: false, moReceives: false, facReceives: false });
      await facHearsMoPaused(false);

      const from = eventCount(mo.socket);
      await command(fac, { type: 'agreement.set', text: 'A new rule: cameras on.' });
      const moView = await viewWhere(mo, (v) => v.self.mustAcknowledge);
      expect(moView.self).toEqual({
        id: mo.id,
        displayName: 'Mo',
        role: 'member',
        stage: 'admitted',
        inviteId: expect.any(String),
        mustAcknowledge: true,
        media: false,
        held: { mic: null, camera: null },
        asked: [],
        share: { may: false, asking: false },
        checkedOut: false,
      });
      expect(moView.members).toBeUndefined();
      expect(moView.agreement.text).toBe('A new rule: cameras on.');
      // Paused on the server before the command was answered: media follows state.
      expect(paused()).toEqual({ moMic: true, facMic: false, moReceives: true, facReceives: false });
      await facHearsMoPaused(true);
      const facView = currentView(fac);
      expect(facView.self.media).toBe(true); // facilitators do not acknowledge
      expect(facView.facilitation?.everyone.find((m) => m.id === mo.id)).toMatchObject({ stage: 'admitted', acknowledgedVersion: fac.entered.agreement.version });

      // The member cannot undo it from their side.
      await ok(mo.socket, 'media:setProducerPaused', { producerId: moMic, paused: false });
      await ok(mo.socket, 'consumer:resume', { consumerId: moGets.consumerId });
      expect(paused()).toMatchObject({ moMic: true, moReceives: true });
      expectError(await request(mo.socket, 'media:join', {}), 'FORBIDDEN');
      expectError(await tryCommand(mo, { type: 'agreement.acknowledge', version: fac.entered.agreement.version, privateSpace: true }), 'INVALID_STATE');
      expect(wireText(mo.socket, from)).not.toContain(FAC);

      await acknowledge(mo, moView.agreement.version);
      const again = await viewWhere(mo, (v) => v.self.media);
      expect(again.self).toMatchObject({ stage: 'admitted', mustAcknowledge: false });
      expect(again.members?.map((m) => m.displayName)).toEqual([FAC, 'Mo']);
      expect(paused()).toEqual({ moMic: false, facMic: false, moReceives: false, facReceives: false });
      await facHearsMoPaused(false);
      expect(currentView(fac).facilitation?.acknowledgements.map((a) => [a.memberId, a.version])).toEqual([
        [mo.id, fac.entered.agreement.version],
        [mo.id, moView.agreement.version],
      ]);

      // The member's own mute still holds under the policy.
      await ok(mo.socket, 'media:setProducerPaused', { producerId: moMic, paused: true });
      await command(fac, { type: 'agreement.set', text: 'Yet another rule.' });
      await acknowledge(mo, (await viewWhere(mo, (v) => v.self.mustAcknowledge)).agreement.version);
      expect(media.producers.get(moMic)?.paused).toBe(true);
    });

    it('a new agreement sends those waiting back to read it', async () => {
      const room = await openRoom(t.server);
      const waiting = await waitingMember(t.server, room, 'Wes');
      await command(room.facilitator, { type: 'agreement.set', text: 'Changed.' });
      expect((await viewWhere(waiting, (v) => v.self.stage === 'agreement')).self.mustAcknowledge).toBe(true);
      expectError(await tryCommand(room.facilitator, { type: 'member.admit', memberId: waiting.id }), 'INVALID_STATE');
      await acknowledge(waiting);
      await viewWhere(waiting, (v) => v.self.stage === 'waiting');
    });

    it('session.end tells everyone, closes the media and keeps only the acknowledgement record', async () => {
      const room = await openRoom(t.server);
      const fac = room.facilitator;
      const mo = await admittedMember(t.server, room, fac, 'Mo');
      const agnes = await enter(t.server, room.roomId, room.inviteToken, 'Agnes');
      await mediaJoin(fac);
      await mediaJoin(mo);
      const router = t.server.rooms.media(room.roomId)!.router;

      await command(fac, { type: 'session.end' });
      for (const p of [fac, mo, agnes]) expect(await waitForEvent(p.socket, 'room:ended')).toEqual({ reason: 'session-ended' });
      expect(router.closed).toBe(true);
      expect(t.server.rooms.mediaCount).toBe(0);
      expect(await t.server.store.get(room.roomId)).toBeNull();
      expect(await t.server.store.acknowledgementRecord(room.roomId)).toEqual([
        { memberId: mo.id, displayName: 'Mo', version: fac.entered.agreement.version, at: expect.any(Number) },
      ]);
      expectError(await tryCommand(fac, { type: 'room.setLocked', locked: true }), 'INVALID_STATE');
      const late = await connect(t.server);
      expectError(await request(late, 'room:enter', { roomId: room.roomId, token: room.facilitatorToken, displayName: 'Fay' }), 'NOT_FOUND');
    });
  });

  describe('views after a burst of changes', () => {
    it('answers each command of a burst after a view that shows it, and leaves everyone on the last state', async () => {
      const room = await openRoom(t.server);
      const fac = room.facilitator;
      const [ana, bo] = [await admittedMember(t.server, room, fac, 'Ana'), await admittedMember(t.server, room, fac, 'Bo')];
      const heldOff = (view: RoomView, id: string) => view.facilitation?.everyone.find((m) => m.id === id)?.heldOff ?? [];
      // Effects that the later commands of the burst do not undo, so each stays in view once made.
      const burst: [CommandInput, (view: RoomView) => boolean][] = [
        [{ type: 'room.setLocked', locked: true }, (v) => v.locked],
        [{ type: 'room.setAutoAdmit', enabled: true }, (v) => v.facilitation?.autoAdmit === true],
        [{ type: 'floor.setMode', mode: 'hands' }, (v) => v.floor?.mode === 'hands'],
        [{ type: 'member.mute', memberId: ana.id, source: 'camera' }, (v) => heldOff(v, ana.id).includes('camera')],
        [{ type: 'member.mute', memberId: bo.id, source: 'camera' }, (v) => heldOff(v, bo.id).includes('camera')],
        [{ type: 'floor.grant', memberId: bo.id }, (v) => v.floor?.holder === bo.id],
      ];
      // The view this client holds the moment the answer is handled (with a promise, a view
      // arriving in the same read as the answer would be handled before the check).
      const answered = (cmd: CommandInput) =>
        new Promise<RoomView>((resolve, reject) => {
          raw(fac.socket)
            .timeout(ACK_TIMEOUT_MS)
            .emit('room:command', { command: cmd }, (error: Error | null, result: { ok: boolean }) => {
              if (error || !result.ok) reject(error ?? new Error(`${cmd.type}: ${JSON.stringify(result)}`));
              else resolve(currentView(fac));
            });
        });
      const before = eventsOf(fac.socket, 'room:view').length;
      await Promise.all(
        burst.map(async ([cmd, shows]) => {
          expect(shows(await answered(cmd)), `${cmd.type} answered before a view showing it`).toBe(true);
        }),
      );
      // Views of changes made together may be sent as one (the newest), never more than one per change.
      const views = eventsOf(fac.socket, 'room:view').length - before;
      expect(views).toBeGreaterThan(0);
      expect(views).toBeLessThanOrEqual(burst.length);
      const last = currentView(fac);
      expect(burst.every(([, shows]) => shows(last))).toBe(true);
      for (const member of [ana, bo]) {
        await viewWhere(member, (v) => v.locked && v.floor?.holder === bo.id && v.self.held.camera === 'facilitator');
      }
    });
  });
});

describe('signal server with ROOM_CAPACITY=2', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startServer({ ROOM_CAPACITY: '2' });
  });

  afterEach(() => {
    disconnectAll();
  });

  afterAll(async () => {
    await t?.server.close();
    expect(t?.logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('the line on the way in holds as many as the room: a third at the agreement gets ROOM_FULL (seats kept after a drop count), one gets in after a seat was freed', async () => {
    const room = await openRoom(t.server);
    const bo = await enter(t.server, room.roomId, room.inviteToken, 'Bo');
    const di = await enter(t.server, room.roomId, room.inviteToken, 'Di');
    // Waiting: not let go for idling at the agreement by the sweep below, nor when a connection drops.
    await acknowledge(bo);
    await acknowledge(di);
    const third = await connect(t.server);
    const error = expectError(await request(third, 'room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Cy' }), 'ROOM_FULL');
    expect(error.message).toMatch(/on their way in/);
    expect((await viewWhere(room.facilitator, (v) => v.facilitation?.everyone.length === 3)).facilitation?.everyone.map((m) => m.displayName)).toEqual(['Fay', 'Bo', 'Di']);

    // Bo's connection drops: his place in line is kept for him, so the line is still full.
    await drop(t.server, bo);
    await viewWhere(room.facilitator, (v) => v.facilitation?.everyone.find((m) => m.id === bo.id)?.connection === 'reconnecting');
    expectError(await request(third, 'room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Cy' }), 'ROOM_FULL');
    await sweepAt(t.server);
    await viewWhere(room.facilitator, (v) => v.facilitation?.everyone.length === 2);
    const { view, resume } = await ok(third, 'room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Cy' });
    expect(view.self.stage).toBe('agreement');

    // The room itself holds two: the facilitator and Di; then it is full, for facilitators too, and Cy stays waiting.
    await command(room.facilitator, { type: 'member.admit', memberId: di.id });
    expectError(await request(await connect(t.server), 'room:enter', { roomId: room.roomId, token: room.facilitatorToken, displayName: 'Ed' }), 'ROOM_FULL');
    const cy = { socket: third, id: view.self.id, name: 'Cy', entered: view, resume };
    await acknowledge(cy);
    expectError(await tryCommand(room.facilitator, { type: 'member.admit', memberId: cy.id }), 'ROOM_FULL');
  });

  it('lets exactly two of five simultaneous facilitator enters in, and two of five members into the line', async () => {
    const room = await createRoom(t.server);
    const enterAll = async (token: string) => {
      const sockets = await Promise.all(Array.from({ length: 5 }, () => connect(t.server)));
      return Promise.all(sockets.map((s, i) => request(s, 'room:enter', { roomId: room.roomId, token, displayName: `P${i}` })));
    };
    for (const token of [room.facilitatorToken, room.inviteToken]) {
      const results = await enterAll(token);
      expect(results.filter((r) => r.ok)).toHaveLength(2);
      for (const r of results.filter((r) => !r.ok)) expectError(r, 'ROOM_FULL');
    }
    expect(Object.keys((await t.server.store.get(room.roomId))!.members)).toHaveLength(4);
  });

  it('tells connected people the server is going away (not that the room ended) when it shuts down', async () => {
    const room = await openRoom(t.server);
    await mediaJoin(room.facilitator);
    const closed = new Promise<void>((resolve) => room.facilitator.socket.once('disconnect', () => resolve()));
    await t.server.close();
    await closed;
    expect(eventsOf(room.facilitator.socket, 'server:draining')).toEqual([{}]);
    expect(eventsOf(room.facilitator.socket, 'room:ended')).toEqual([]);
    expect(t.server.rooms.mediaCount).toBe(0);
    expect(t.server.pool.healthy).toBe(false);
  });
});

describe('signal server with the Redis store', () => {
  const prefix = `group-room-itest:${process.pid}:${randomBytes(6).toString('hex')}:`;
  const secret = randomBytes(32).toString('hex');
  const redisEnv = { REDIS_URL, REDIS_KEY_PREFIX: prefix, ROOM_GRACE_SECONDS: '600', TOKEN_SECRET: secret };
  let t: TestServer;
  let redis: RedisClientType;
  const others: TestServer[] = [];

  beforeAll(async () => {
    redis = createClient({ url: REDIS_URL });
    redis.on('error', () => undefined);
    await redis.connect();
    t = await startServer(redisEnv);
  });

  afterEach(async () => {
    disconnectAll();
    // Seats kept after the drops are freed before the next test (and before the servers close).
    for (const s of [t, ...others]) await freeSeats(s.server);
  });

  afterAll(async () => {
    await t?.server.close();
    for (const other of others) await other.server.close();
    if (redis) {
      for await (const keys of redis.scanIterator({ MATCH: `${prefix}*` })) {
        if (keys.length) await redis.del(keys);
      }
      await redis.close();
    }
    for (const s of [t, ...others]) expect(s?.logs.filter((l) => l.level !== 'info')).toEqual([]);
  });

  const roomDoc = async (roomId: string, keyPrefix = prefix) => {
    const doc = await redis.hGet(`${keyPrefix}room:${roomId}`, 'doc');
    return doc ? (JSON.parse(doc) as { id: string; version: number; members: Record<string, { displayName: string; stage: string }> }) : null;
  };

  it('creates, enters, admits, keeps a dropped seat and leaves with the room kept in Redis under a TTL tied to the session', async () => {
    const room = await openRoom(t.server, 'Fay', { durationMinutes: 30 });
    const key = `${prefix}room:${room.roomId}`;
    expect(await redis.exists(key)).toBe(1);
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(30 * 60);
    expect(ttl).toBeLessThanOrEqual(30 * 60 + 600);

    const bo = await admittedMember(t.server, room, room.facilitator, 'Bo');
    await viewWhere(room.facilitator, (v) => v.members?.length === 2);
    const doc = await roomDoc(room.roomId);
    expect(doc?.id).toBe(room.roomId);
    expect(Object.values(doc?.members ?? {}).map((m) => [m.displayName, m.stage])).toEqual([
      ['Fay', 'admitted'],
      ['Bo', 'admitted'],
    ]);
    // The home lives in fields of its own beside the document.
    const { home: _home, ...stored } = (await t.server.store.get(room.roomId))!;
    expect(doc).toEqual(stored);

    // A drop keeps Bo's seat in Redis, marked away; the sweep after the grace period frees it.
    await drop(t.server, bo);
    await viewWhere(room.facilitator, (v) => v.members?.find((m) => m.id === bo.id)?.connection === 'reconnecting');
    expect((await roomDoc(room.roomId))?.members[bo.id]).toMatchObject({ connectionId: null, offlineSince: expect.any(Number) });
    await sweepAt(t.server);
    await viewWhere(room.facilitator, (v) => v.members?.length === 1);
    await vi.waitFor(async () => expect(Object.keys((await roomDoc(room.roomId))?.members ?? {})).toEqual([room.facilitator.id]), WAIT);

    // "Leave" frees a seat at once.
    await ok(room.facilitator.socket, 'room:leave', {});
    await vi.waitFor(async () => expect((await roomDoc(room.roomId))?.members).toEqual({}), WAIT);
    expect(t.server.rooms.mediaCount).toBe(0);
  });

  it('lets a room made on one node be entered on another with the same secret, and not with another secret', async () => {
    const second = await startServer(redisEnv);
    const stranger = await startServer({ ...redisEnv, TOKEN_SECRET: randomBytes(32).toString('hex') });
    others.push(second, stranger);
    const room = await createRoom(t.server);
    const there = await enter(second.server, room.roomId, room.facilitatorToken, 'Fay');
    expect(there.entered.self.role).toBe('facilitator');
    expect(Object.keys((await roomDoc(room.roomId))?.members ?? {})).toEqual([there.id]);
    const socket = await connect(stranger.server);
    expect(expectError(await request(socket, 'room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Eve' }), 'FORBIDDEN').message).toMatch(
      /not valid/,
    );
  });

  it('reports the store in /readyz', async () => {
    const ready = await fetch(`${t.server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { workers: true, lease: true } });
  });

  it('session.end leaves only the acknowledgement record in Redis, under its own TTL', async () => {
    // A node of its own, so that its prefix holds nothing but this room.
    const ownPrefix = `${prefix}end:${randomBytes(6).toString('hex')}:`;
    const node = await startServer({ ...redisEnv, REDIS_KEY_PREFIX: ownPrefix, ACK_RETENTION_SECONDS: '120' });
    others.push(node);
    const room = await openRoom(node.server);
    const fac = room.facilitator;
    const mo = await admittedMember(node.server, room, fac, 'Mo');
    const wes = await waitingMember(node.server, room, 'Wes');
    const agnes = await enter(node.server, room.roomId, room.inviteToken, 'Agnes');
    await mediaJoin(mo);
    // The room, the index of live rooms (ids only, for MAX_ROOMS), this node's lease and its
    // place in the list of nodes (which keep its rooms its own), the rooms it is home to, and
    // the count of rooms created from this address this hour, keyed by a digest of the
    // address, never the address itself.
    const nodeKey = `${ownPrefix}node:${node.server.nodeId}`;
    const nodesKey = `${ownPrefix}nodes`;
    const homedKey = `${ownPrefix}homed:${node.server.nodeId}`;
    const indexKey = `${ownPrefix}rooms`;
    // The node's name, held by its lease (its process id: two live nodes never share a name).
    const nameKeys = await redis.keys(`${ownPrefix}name:*`);
    expect(nameKeys).toHaveLength(1);
    const nameKey = nameKeys[0]!;
    expect(await redis.get(nameKey)).toBe(node.server.nodeId);
    const creationKeys = await redis.keys(`${ownPrefix}limit:room-creations:*`);
    expect(creationKeys).toHaveLength(1);
    const creationKey = creationKeys[0]!;
    expect(creationKey).not.toContain('127.0.0.1');
    expect(await redis.get(creationKey)).toBe('1');
    expect(await redis.ttl(creationKey)).toBeLessThanOrEqual(3600);
    expect((await redis.keys(`${ownPrefix}*`)).sort()).toEqual([nodeKey, nodesKey, nameKey, homedKey, `${ownPrefix}room:${room.roomId}`, indexKey, creationKey].sort());
    expect(await redis.zRange(indexKey, 0, -1)).toEqual([room.roomId]);

    await command(fac, { type: 'session.end' });
    for (const p of [fac, mo, wes, agnes]) expect(await waitForEvent(p.socket, 'room:ended')).toEqual({ reason: 'session-ended' });
    const recordKey = `${ownPrefix}acknowledgements:${room.roomId}`;
    expect((await redis.keys(`${ownPrefix}*`)).sort()).toEqual([recordKey, nodeKey, nodesKey, nameKey, creationKey].sort());
    const ttl = await redis.ttl(recordKey);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120);
    const version = fac.entered.agreement.version;
    // Which facilitator link generation may take it (see ack-record.test.ts), and nothing but the acknowledgements.
    expect(JSON.parse((await redis.get(recordKey))!)).toEqual({
      acknowledgements: [
        { memberId: mo.id, displayName: 'Mo', version, at: expect.any(Number) },
        { memberId: wes.id, displayName: 'Wes', version, at: expect.any(Number) },
      ],
      facilitatorLinkGeneration: 0,
    });
    expect(node.server.rooms.mediaCount).toBe(0);
    const late = await connect(node.server);
    expectError(await request(late, 'room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Lou' }), 'NOT_FOUND');
    expect((await redis.keys(`${ownPrefix}*`)).sort()).toEqual([recordKey, nodeKey, nodesKey, nameKey, creationKey].sort());
  });
});

describe('races and client mistakes (on their own server, since a failure would leak state)', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startServer();
  });

  afterEach(() => {
    disconnectAll();
  });

  afterAll(async () => {
    await t?.server.close();
  });

  const serverSocketOf = (socket: Client) => t.server.io.sockets.sockets.get(socket.id!);

  it('two enters sent at once from one socket make one member, whose seat is kept after it disconnects (but at the agreement) and then freed', async () => {
    const room = await createRoom(t.server);
    const socket = await connect(t.server);
    const [first, second] = await Promise.all([
      request(socket, 'room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Ada' }),
      request(socket, 'room:enter', { roomId: room.roomId, token: room.facilitatorToken, displayName: 'Ada' }),
    ]);
    const members = Object.keys((await t.server.store.get(room.roomId))?.members ?? {});
    // A facilitator's seat is kept, away; a member's at the agreement goes with the connection.
    const kept = Object.values((await t.server.store.get(room.roomId))?.members ?? {}).filter((m) => m.stage !== 'agreement').map((m) => m.id);
    socket.disconnect();
    await vi.waitFor(() => expect(t.server.io.sockets.sockets.size).toBe(0), WAIT);
    await t.server.rooms.get(room.roomId)?.queue.run(async () => undefined); // the seat has been marked away
    const away = Object.values((await t.server.store.get(room.roomId))?.members ?? {}).filter((m) => m.connectionId === null);
    await sweepAt(t.server);
    const left = Object.keys((await t.server.store.get(room.roomId))?.members ?? {});
    expect({ oks: [first.ok, second.ok].sort(), members: members.length, away: away.map((m) => m.id), left }).toEqual({
      oks: [false, true],
      members: 1,
      away: kept,
      left: [],
    });
    expectError(first.ok ? second : first, 'INVALID_STATE');
  });

  it('a client that disconnects before its enter reaches the room is not let in', async () => {
    const room = await openRoom(t.server);
    const socket = await connect(t.server);
    const queue = t.server.rooms.get(room.roomId)!.queue;
    const run = queue.run.bind(queue);
    queue.run = <T>(task: () => Promise<T>, options?: RunOptions): Promise<T> => {
      queue.run = run;
      serverSocketOf(socket)?.disconnect(true); // the connection drops while the link is checked
      return run(task, options);
    };
    raw(socket).emit('room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Ghost' }, () => undefined);
    await vi.waitFor(() => expect(socket.connected).toBe(false), WAIT);
    await vi.waitFor(() => expect(queue.run).toBe(run), WAIT);
    await queue.run(async () => undefined); // the enter has finished
    await queue.run(async () => undefined); // and anything it queued
    expect(Object.keys((await t.server.store.get(room.roomId))?.members ?? {})).toEqual([room.facilitator.id]);
    expect(JSON.stringify(currentView(room.facilitator))).not.toContain('Ghost');
  });

  it('a client that disconnects while its enter is being stored leaves no seat behind (nobody got its credential)', async () => {
    const room = await openRoom(t.server);
    const socket = await connect(t.server);
    const store = t.server.store;
    const update = store.update.bind(store);
    store.update = async (roomId, change) => {
      store.update = update;
      serverSocketOf(socket)?.disconnect(true); // the connection drops mid-enter
      return update(roomId, change);
    };
    raw(socket).emit('room:enter', { roomId: room.roomId, token: room.inviteToken, displayName: 'Ghost' }, () => undefined);
    await vi.waitFor(() => expect(socket.connected).toBe(false), WAIT);
    await vi.waitFor(() => expect(store.update).toBe(update), WAIT);
    await t.server.rooms.get(room.roomId)?.queue.run(async () => undefined); // the enter has finished
    await t.server.rooms.get(room.roomId)?.queue.run(async () => undefined); // and the leave it queued
    expect(Object.keys((await t.server.store.get(room.roomId))?.members ?? {})).toEqual([room.facilitator.id]);
    const view = await viewWhere(room.facilitator, (v) => v.facilitation?.everyone.length === 1);
    expect(view.facilitation?.everyone.map((m) => m.id)).toEqual([room.facilitator.id]);
  });

  it('two acknowledgements sent at once are recorded once', async () => {
    const room = await openRoom(t.server);
    const member = await enter(t.server, room.roomId, room.inviteToken, 'Ada');
    const version = member.entered.agreement.version;
    const results = await Promise.all([0, 1].map(() => tryCommand(member, { type: 'agreement.acknowledge', version, privateSpace: true })));
    expect(results.map((r) => r.ok).sort()).toEqual([false, true]);
    expectError(results.find((r) => !r.ok), 'FORBIDDEN');
    expect((await t.server.store.get(room.roomId))?.acknowledgements).toHaveLength(1);
  });

  it('connecting a transport twice is INVALID_STATE, not INTERNAL', async () => {
    const { facilitator } = await openRoom(t.server);
    await mediaJoin(facilitator);
    const send = await ok(facilitator.socket, 'transport:create', { direction: 'send' });
    await ok(facilitator.socket, 'transport:connect', { transportId: send.id, dtlsParameters });
    expectError(await request(facilitator.socket, 'transport:connect', { transportId: send.id, dtlsParameters }), 'INVALID_STATE');
  });

  it("media:ready with capabilities that match none of the router's codecs is BAD_REQUEST, and a good retry works", async () => {
    const { roomId, facilitator } = await openRoom(t.server);
    const capabilities = await mediaJoin(facilitator);
    await ok(facilitator.socket, 'transport:create', { direction: 'recv' });
    const junk = { codecs: [{ kind: 'audio' as const, mimeType: 'audio/nonsense', clockRate: 8000 }] };
    expectError(await request(facilitator.socket, 'media:ready', { rtpCapabilities: junk }), 'BAD_REQUEST');
    expectError(await request(facilitator.socket, 'media:ready', { rtpCapabilities: {} }), 'BAD_REQUEST');
    expect(t.server.rooms.media(roomId)?.router.rtpCapabilities.codecs?.length).toBe(capabilities.codecs?.length);
    await ok(facilitator.socket, 'media:ready', { rtpCapabilities: capabilities });
  });

  it('a mic producer with a video codec is BAD_REQUEST', async () => {
    const { facilitator } = await openRoom(t.server);
    await mediaJoin(facilitator);
    const send = await ok(facilitator.socket, 'transport:create', { direction: 'send' });
    const rtpParameters = { ...opusRtpParameters, codecs: [{ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96 }] };
    expectError(await request(facilitator.socket, 'media:produce', { transportId: send.id, kind: 'audio', source: 'mic', rtpParameters }), 'BAD_REQUEST');
  });

  /* Regressions: bugs found in review, each reproduced deterministically. */

  it('a socket that leaves one room and enters another is sent the new room\'s views', async () => {
    const busy = await openRoom(t.server);
    for (let i = 0; i < 6; i++) await command(busy.facilitator, { type: 'room.setLocked', locked: i % 2 === 0 });
    const quiet = await createRoom(t.server);
    const fay = busy.facilitator;
    await ok(fay.socket, 'room:leave', {});
    const { view } = await ok(fay.socket, 'room:enter', { roomId: quiet.roomId, token: quiet.facilitatorToken, displayName: 'Fay' });
    const moved: Person = { ...fay, id: view.self.id, entered: view };
    await enter(t.server, quiet.roomId, quiet.inviteToken, 'Bo');
    // The facilitator's view of the new room must show Bo arriving.
    await viewWhere(moved, (v) => v.roomId === quiet.roomId && v.facilitation?.everyone.length === 2, { timeout: 2000, interval: 20 });
  });

  it('a consumer:resume racing a policy change does not leave media flowing to a member who may not receive', async () => {
    const room = await openRoom(t.server);
    const fac = room.facilitator;
    const mo = await admittedMember(t.server, room, fac, 'Mo');
    const capabilities = await mediaJoin(fac);
    await mediaJoin(mo);
    const media = watchMedia(t.server, room.roomId);
    await sendMic(fac, 5555);
    const [{ consumerId }] = (await receive(mo, capabilities)) as [ConsumerOffer];
    const consumer = media.consumers.get(consumerId)!;
    // Hold the worker's answer to the resume (as a busy worker would) until the policy has changed.
    const resume = consumer.resume.bind(consumer);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const inResume = new Promise<void>((resolve) => (started = resolve));
    consumer.resume = async () => {
      started();
      await held;
      return resume();
    };
    const resuming = ok(mo.socket, 'consumer:resume', { consumerId });
    await inResume;
    await command(fac, { type: 'agreement.set', text: 'Changed while resuming.' });
    await viewWhere(mo, (v) => !v.self.media);
    release();
    await resuming;
    // Mo has not agreed to the new text, so the server must not send Mo the group's audio.
    expect(consumer.paused).toBe(true);
  });
});
