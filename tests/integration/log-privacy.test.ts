import { randomBytes } from 'node:crypto';
import { createLogger, loadConfig, startSignalServer, type SignalServer } from '@group-room/signal';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  bothStores,
  acknowledge,
  admittedMember,
  baseEnv,
  command,
  connect,
  disconnectAll,
  drop,
  enter,
  expectError,
  freeSeats,
  mediaJoin,
  ok,
  type Person,
  receive,
  REDIS_URL,
  request,
  resume,
  sendMic,
  viewWhere,
  WAIT,
  waitForEvent,
  wireText,
} from '../support/signal-client.js';

/*
 * What the server's log may hold: ids, counts and a digest of the room id, nothing else. A
 * scripted session (a room with a title and its own agreement, a facilitator and two members
 * with distinctive names, media, muting, a raised hand, a private message, a second invite, a
 * dropped connection resumed, a link that does not work, an edited agreement, an unexpected
 * error, leaving and the end of the session) runs at LOG_LEVEL=debug, and every line the
 * server wrote is searched for each name, text, token and address it was given.
 */

const TITLE = 'Zephyrine Tuesday circle';
const AGREEMENT = 'The Quillon pact: what Marrowfield people say stays with Marrowfield people 5521';
const AGREEMENT_EDITED = 'The revised Quillon pact: phones face down on the Tamberlane table 8830';
const FACILITATOR = 'Fenwick Aldermoor';
const ADA = 'Adelheid Vantongeren';
const BEA = 'Berenike Okonkwosallis';
const STRANGER = 'Gaspardine Nullwright';
const MESSAGE = 'I slipped again on Pemberton lane last night 6614';
/** What the server sees of a private message and of a key handshake: opaque boxes (here, readable ones). */
const SEALED_MESSAGE = Buffer.from(MESSAGE).toString('base64url');
const RELAYED_KEY = Buffer.from('epoch key wrapped for Berenike 7781').toString('base64url');
const RELAYED_HELLO = Buffer.from('public key and MAC from Berenike 7782').toString('base64url');
/** An internal error's own wording: may reach the server's log, never a client. */
const INTERNAL_DETAIL = 'store-exploded-Zq81';

const prefix = `group-room-itest-logs:${process.pid}:${randomBytes(6).toString('hex')}:`;
const stores = bothStores(prefix);

type LogLine = { level: string; msg: string; t: string } & Record<string, unknown>;

/** A token, and the parts of it that would give it away if logged on their own (a JWT's payload and signature). */
const tokenParts = (token: string) => [token, ...token.split('.').slice(1).filter((part) => part.length >= 16)];

describe.each(stores)('the server log ($store store)', ({ env }) => {
  let server: SignalServer;
  /** Every line exactly as the server wrote it. */
  const lines: string[] = [];
  const parsed = () => lines.map((line) => JSON.parse(line) as LogLine);

  beforeAll(async () => {
    const config = loadConfig({ ...baseEnv, ...env, LOG_LEVEL: 'debug' });
    server = await startSignalServer(config, { log: createLogger('debug', (line) => lines.push(line)) });
  });

  afterAll(async () => {
    disconnectAll();
    if (server) {
      await freeSeats(server);
      await server.close();
    }
    if (env['REDIS_URL']) {
      const redis = createClient({ url: REDIS_URL });
      redis.on('error', () => undefined);
      await redis.connect();
      for await (const keys of redis.scanIterator({ MATCH: `${prefix}*` })) {
        if (keys.length) await redis.del(keys);
      }
      await redis.close();
    }
  });

  it('holds no name, title, agreement, message, token, credential, room id or address of a whole session', async () => {
    // The facilitator makes the room (with a title and an agreement of their own) and comes in.
    const creator = await connect(server);
    const links = await ok(creator, 'room:create', { title: TITLE, agreement: AGREEMENT, durationMinutes: 60 });
    creator.disconnect();
    const fac = await enter(server, links.roomId, links.facilitatorToken, FACILITATOR);

    // Two members: one with the shared invite, one with a personal invite made in the room.
    const ada = await admittedMember(server, links, fac, ADA);
    const { inviteToken: personalInvite } = await ok(fac.socket, 'invite:create', {});
    const bea = await admittedMember(server, { ...links, inviteToken: personalInvite }, fac, BEA);

    // Media, and the facilitator mutes Ada's microphone.
    const capabilities = await mediaJoin(fac);
    await mediaJoin(ada);
    await sendMic(ada, 5151);
    await receive(fac, capabilities);
    await command(fac, { type: 'member.mute', memberId: ada.id, source: 'mic' });
    await viewWhere(ada, (v) => v.self.held.mic !== null);

    // Raised hands; Bea raises hers and is given the floor.
    await command(fac, { type: 'floor.setMode', mode: 'hands' });
    await viewWhere(bea, (v) => v.floor?.mode === 'hands');
    await command(bea, { type: 'hand.raise' });
    await command(fac, { type: 'floor.grant', memberId: bea.id });

    // A private message to the facilitators: sealed in Bea's browser, a box the server hands on.
    await ok(bea.socket, 'signal:send', { signal: { kind: 'message', sealed: [{ to: fac.id, data: SEALED_MESSAGE }] } });
    await waitForEvent(fac.socket, 'signal:private', (s) => s.sealed === SEALED_MESSAGE);

    // End-to-end encryption's key handshake, relayed both ways, and one relay refused.
    await ok(fac.socket, 'e2ee:relay', { to: bea.id, data: RELAYED_KEY });
    await waitForEvent(bea.socket, 'e2ee:relay', (r) => r.data === RELAYED_KEY);
    await ok(bea.socket, 'e2ee:relay', { to: fac.id, data: RELAYED_HELLO });
    await waitForEvent(fac.socket, 'e2ee:relay', (r) => r.data === RELAYED_HELLO);
    expectError(await request(bea.socket, 'e2ee:relay', { to: ada.id, data: RELAYED_HELLO }), 'FORBIDDEN');

    // The facilitator edits the agreement; both members accept the new text.
    await command(fac, { type: 'agreement.set', text: AGREEMENT_EDITED });
    for (const member of [ada, bea]) {
      const view = await viewWhere(member, (v) => v.agreement.text === AGREEMENT_EDITED);
      await acknowledge(member, view.agreement.version);
    }

    // Ada's connection drops; she takes her seat back with her credential.
    await drop(server, ada);
    const adaAgain = await resume(server, ada);
    // The spent credential no longer works, and says so.
    const replayer = await connect(server);
    expectError(await request(replayer, 'room:resume', { roomId: links.roomId, credential: ada.resume.credential }), 'FORBIDDEN');

    // Someone tries a link that is not one.
    const garbage = `garbage-token-${randomBytes(16).toString('hex')}`;
    const stranger = await connect(server);
    expectError(await request(stranger, 'room:enter', { roomId: links.roomId, token: garbage, displayName: STRANGER }), 'FORBIDDEN');

    // An unexpected failure, whose message quotes input (as JSON.parse's do) and is long:
    // the client is told INTERNAL and nothing more; the server logs what went wrong.
    // A TypeError of the server's own (a bug, not mediasoup refusing parameters) is the same.
    const failures = [
      new SyntaxError(`${INTERNAL_DETAIL}: Unexpected token 'I', "${MESSAGE} ${FACILITATOR}" is not valid JSON ${'x'.repeat(2000)}`),
      new TypeError(`${INTERNAL_DETAIL}: Cannot read properties of undefined (reading 'members')`),
    ];
    for (const internal of failures) {
      const get = vi.spyOn(server.store, 'get').mockRejectedValue(internal);
      let failed: unknown;
      try {
        failed = await request(fac.socket, 'invite:create', {});
      } finally {
        get.mockRestore();
      }
      expect(failed).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'Something went wrong on the server' } });
    }
    expect(wireText(fac.socket)).not.toContain(INTERNAL_DETAIL);
    expect(wireText(fac.socket)).not.toContain('Unexpected token');
    expect(wireText(fac.socket)).not.toContain('Cannot read');

    // Bea leaves; the facilitator ends the session.
    await ok(bea.socket, 'room:leave', {});
    await command(fac, { type: 'session.end' });
    await vi.waitFor(() => expect(parsed().map((l) => l.msg)).toContain('session ended'), WAIT);

    // The log is there, one JSON object a line, with what an operator needs.
    const logged = parsed();
    for (const line of logged) {
      expect(['debug', 'info', 'warn', 'error']).toContain(line.level);
      expect(typeof line.msg).toBe('string');
      expect(Number.isNaN(Date.parse(line.t))).toBe(false);
    }
    const msgs = logged.map((l) => l.msg);
    expect(msgs).toContain('room created');
    expect(msgs.filter((m) => m === 'entered').length).toBeGreaterThanOrEqual(3);
    expect(msgs).toContain('connection lost; seat kept');
    expect(msgs).toContain('resumed');
    expect(msgs).toContain('left');
    expect(msgs).toContain('session ended');
    // The internal errors' own words are on the server (without what they quote), bounded.
    const failed = logged.filter((l) => l.msg === 'request failed');
    expect(failed).toEqual([
      expect.objectContaining({ level: 'error', request: 'invite:create', errorType: 'SyntaxError', error: expect.stringContaining(INTERNAL_DETAIL) }),
      expect.objectContaining({ level: 'error', request: 'invite:create', errorType: 'TypeError', error: expect.stringContaining(INTERNAL_DETAIL) }),
    ]);
    for (const line of failed) expect(JSON.stringify(line).length).toBeLessThan(800);

    // And nothing that identifies anyone or lets anyone in.
    const secrets = [
      TITLE,
      AGREEMENT,
      AGREEMENT_EDITED,
      FACILITATOR,
      ADA,
      BEA,
      STRANGER,
      MESSAGE,
      SEALED_MESSAGE,
      RELAYED_KEY,
      RELAYED_HELLO,
      links.roomId,
      ...tokenParts(links.facilitatorToken),
      ...tokenParts(links.inviteToken),
      ...tokenParts(personalInvite),
      garbage,
      ...[fac, ada, adaAgain, bea].flatMap((p: Person) => tokenParts(p.resume.credential)),
      '127.0.0.1',
    ];
    // Names and texts also word by word (a log that kept a first name only would still say who).
    const words = [TITLE, AGREEMENT, AGREEMENT_EDITED, FACILITATOR, ADA, BEA, STRANGER, MESSAGE].flatMap((t) =>
      t.split(/\s+/).filter((w) => w.length >= 9),
    );
    const leaks: string[] = [];
    for (const line of lines) {
      for (const secret of [...secrets, ...words]) if (line.includes(secret)) leaks.push(`${secret} in ${line.slice(0, 300)}`);
    }
    expect(leaks).toEqual([]);
  });
});
