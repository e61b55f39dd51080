import { createHmac } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ErrorCode, requests, SEALED_BLOB_MAX } from '@group-room/shared';
import { MESSAGE_HARD_CAP, type SignalServer } from '@group-room/signal';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  admittedMember,
  command,
  connect,
  disconnectAll,
  drop,
  eventsOf,
  expectError,
  freeSeats,
  ok,
  openRoom,
  request,
  resume,
  useServer,
  waitingMember,
  WAIT,
  type Client,
  type Person,
} from '../support/signal-client.js';

/*
 * Fuzzing the signal server's handlers: a seeded stream of generated messages (known requests
 * with valid-ish and broken payloads, unknown events, requests without an acknowledgement,
 * forged, expired and replayed tokens, bursts of the same request) from an unauthenticated
 * socket, a waiting member, an admitted member and a facilitator. The server must answer
 * every acknowledged request with a typed result (never INTERNAL), must not let a role change
 * what it may not, must stay up, and must give its memory back once everyone is gone.
 */

const SEED = 20261130;
const SECRET = 'fuzz-secret-0123456789abcdef0123456789abcdef';
const IN_FLIGHT = 64;
/**
 * 1 sends 100,000 messages (plus bursts' copies), in every test run (about a minute on a quiet
 * 2-core machine, two under load); FUZZ_SCALE=0.1 for a quick loop while working.
 */
const SCALE = Number(process.env['FUZZ_SCALE'] ?? 1);
const CODES = new Set<string>(ErrorCode.options);
const REQUEST_NAMES = Object.keys(requests);

// ---------------------------------------------------------------------------------------------
// Tokens

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
function jwt(payload: Record<string, unknown>, secret = SECRET, header: Record<string, unknown> = { alg: 'HS256' }): string {
  const body = `${b64(header)}.${b64(payload)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}
const past = () => Math.floor(Date.now() / 1000) - 60;
const future = () => Math.floor(Date.now() / 1000) + 3600;

// ---------------------------------------------------------------------------------------------
// Messages

interface Context {
  roomId: string;
  otherRoomId: string;
  ids: string[];
  otherIds: string[];
  otherTokens: string[];
  replayed: string[];
  transportIds: string[];
  /** The check-out open in the room (answers name it), if any. */
  checkoutIds: string[];
}

type Kind = 'valid-ish' | 'broken' | 'unknown-event' | 'no-ack' | 'token' | 'burst';
interface Message {
  kind: Kind;
  name: string;
  payload: unknown[];
  ack: boolean;
  /** For bursts: how many copies to send at once. */
  copies: number;
}

const huge = (n: number) => 'x'.repeat(n);
const HUGE = [huge(63), huge(64), huge(65), huge(2047), huge(2048), huge(2049), huge(16_000), '\u202e'.repeat(100), '\u0000\u200b'.repeat(50)];
function deep(depth: number): unknown {
  let value: unknown = { leaf: 1 };
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { nested: value };
  return value;
}
const DEEP = [deep(50), deep(500), deep(1000)];
const EVIL_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'];
const evilObject = (key: string, value: unknown) => JSON.parse(`{${JSON.stringify(key)}: ${JSON.stringify(value ?? null)}}`) as unknown;
const NUMBERISH = ['NaN', 'Infinity', '-0', '1e309', '0x10', ' 1', '', '-1', '9007199254740993'];

/** The therapist's tools, well-formed and about the people here, so each is tried by everyone often. */
function toolMessages(ctx: Context): fc.Arbitrary<Message> {
  const realId = fc.constantFrom(...ctx.ids);
  const toolCommand = fc.oneof(
    fc.record({ type: fc.constant('share.ask'), asking: fc.boolean() }),
    fc.record({ type: fc.constantFrom('share.grant', 'share.revoke', 'share.stop', 'aside.start'), memberId: realId }),
    fc.record({ type: fc.constant('share.setPolicy'), maxShares: fc.constantFrom(1, 2), allowWholeScreen: fc.boolean() }),
    fc.constantFrom('checkout.start', 'checkout.end', 'aside.end').map((type) => ({ type })),
  );
  const answer = fc.record({
    checkoutId: fc.constantFrom(...ctx.checkoutIds, ...ctx.checkoutIds, 'co-none'),
    sealed: fc.uniqueArray(fc.record({ to: realId, data: fc.stringMatching(/^[A-Za-z0-9_-]{16,80}$/) }), { minLength: 1, maxLength: 3, selector: (box) => box.to }),
  });
  return fc.oneof(
    { weight: 4, arbitrary: toolCommand.map((c): Message => ({ kind: 'valid-ish', name: 'room:command', payload: [{ command: c }], ack: true, copies: 1 })) },
    { weight: 1, arbitrary: answer.map((a): Message => ({ kind: 'valid-ish', name: 'checkout:answer', payload: [a], ack: true, copies: 1 })) },
  );
}

function arbitraries(ctx: Context) {
  const id = fc.oneof(fc.constantFrom(...ctx.ids, ...ctx.otherIds, ctx.otherRoomId), fc.string({ maxLength: 70 }), fc.constantFrom(...HUGE, ...NUMBERISH));
  const source = fc.oneof(fc.constantFrom('mic', 'camera', 'screen'), fc.string({ maxLength: 8 }));
  // The other room's tokens are sent for this room only (they are real: with its own id they would let anyone in there).
  const roomId = fc.oneof(fc.constant(ctx.roomId), fc.string({ maxLength: 40 }), fc.constantFrom(...HUGE));
  const strange = fc.oneof(
    fc.anything({ maxDepth: 3, withNullPrototype: true, withBigInt: false, withMap: true, withSet: true, withDate: true, withTypedArray: true, withSparseArray: true }),
    fc.constantFrom(...HUGE, ...DEEP, ...NUMBERISH, null, undefined, NaN, -0, Infinity, 2 ** 53, [], {}, true),
    fc.tuple(fc.constantFrom(...EVIL_KEYS), fc.anything({ maxDepth: 1 })).map(([k, v]) => evilObject(k, v)),
  );
  const command = fc.oneof(
    fc.record({ type: fc.constantFrom('member.admit', 'floor.grant', 'hand.lower'), memberId: id }),
    fc.record({ type: fc.constant('member.remove'), memberId: id, block: fc.boolean() }),
    fc.record({ type: fc.constant('member.setRole'), memberId: id, role: fc.constantFrom('cofacilitator', 'member', 'facilitator') }),
    fc.record({ type: fc.constantFrom('member.mute', 'member.ask'), memberId: id, source }),
    fc.record({ type: fc.constant('member.muteAll'), except: fc.oneof(fc.constant(null), id) }),
    fc.record({ type: fc.constant('room.setLocked'), locked: fc.oneof(fc.boolean(), strange) }),
    fc.record({ type: fc.constant('room.setAutoAdmit'), enabled: fc.boolean() }),
    fc.record({ type: fc.constant('lobby.clear'), waiting: fc.oneof(fc.boolean(), strange) }),
    fc.record({ type: fc.constant('floor.setMode'), mode: fc.constantFrom('open', 'hands', 'round') }),
    fc.record({ type: fc.constant('hands.move'), memberId: id, to: fc.oneof(fc.integer({ min: -5, max: 2000 }), strange) }),
    fc.record({ type: fc.constant('agreement.set'), text: fc.oneof(fc.string({ maxLength: 50 }), fc.constantFrom(...HUGE)) }),
    fc.record({ type: fc.constant('agreement.acknowledge'), version: fc.string({ maxLength: 20 }), privateSpace: fc.oneof(fc.constant(true), strange) }),
    fc.record({ type: fc.constant('ask.answer'), source, accept: fc.boolean() }),
    // Screen sharing, the check-out and taking aside.
    fc.record({ type: fc.constant('share.ask'), asking: fc.oneof(fc.boolean(), strange) }),
    fc.record({ type: fc.constantFrom('share.grant', 'share.revoke', 'share.stop', 'aside.start'), memberId: id }),
    fc.record({ type: fc.constant('share.setPolicy'), maxShares: fc.oneof(fc.integer({ min: -1, max: 3 }), strange), allowWholeScreen: fc.oneof(fc.boolean(), strange) }),
    fc.record({ type: fc.constant('round.start'), order: fc.array(id, { maxLength: 5 }), seconds: fc.integer({ min: -1, max: 4000 }) }),
    fc
      .constantFrom(
        'member.admitAll',
        'session.end',
        'floor.release',
        'hand.raise',
        'hands.clear',
        'round.pass',
        'round.end',
        'checkout.start',
        'checkout.end',
        'aside.end',
        'unknown.command',
        '__proto__',
        'constructor',
      )
      .map((type) => ({ type })),
    strange,
  );
  // End-to-end encryption's opaque blobs: base64url of any length around the bound, or not base64url.
  const blob = fc.oneof(
    { weight: 6, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,80}$/) },
    { weight: 1, arbitrary: fc.constantFrom('A'.repeat(SEALED_BLOB_MAX), 'A'.repeat(SEALED_BLOB_MAX + 1), '', 'abc+/=', 'a b', '\u0000', ...HUGE) },
    { weight: 1, arbitrary: strange },
  );
  const forgedOwnerKey = fc.constantFrom(
    () => jwt({ room: ctx.roomId, aud: 'group-room:owner', exp: future() }, 'a-different-secret-of-enough-length-000'),
    () => jwt({ room: ctx.roomId, aud: 'group-room:owner', exp: past() }),
    () => jwt({ room: ctx.otherRoomId, aud: 'group-room:owner', exp: future() }),
  ).map((f) => f());
  const sealedFor = fc.oneof(fc.record({ to: id, data: blob }), fc.record({ to: id, data: blob, from: id }), strange);
  const payloadFor = (name: string): fc.Arbitrary<unknown> => {
    switch (name) {
      case 'room:command':
        return fc.record({ command });
      case 'room:create':
        return fc.record(
          { title: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom(...HUGE)), durationMinutes: fc.integer({ min: -10, max: 1000 }), startsAt: fc.oneof(fc.integer(), fc.constant(2 ** 52)) },
          { requiredKeys: [] },
        );
      case 'room:enter':
        return fc.record(
          {
            roomId,
            token: fc.oneof(fc.constantFrom(...ctx.otherTokens), fc.string({ minLength: 16, maxLength: 80 })),
            displayName: fc.oneof(fc.string({ maxLength: 40 }), strange),
            // The creator's owner key: someone else's, forged, or not one at all.
            ownerKey: fc.oneof(fc.constantFrom(...ctx.otherTokens), fc.string({ minLength: 16, maxLength: 80 }), strange, forgedOwnerKey),
          },
          { requiredKeys: ['roomId', 'token', 'displayName'] },
        );
      case 'room:resume':
        return fc.record({ roomId, credential: fc.oneof(fc.constantFrom(...ctx.replayed), fc.string({ minLength: 16, maxLength: 80 })) });
      case 'room:confirmResume':
        return fc.record({ credential: fc.oneof(fc.constantFrom(...ctx.replayed), fc.string({ minLength: 16, maxLength: 80 })) });
      case 'transport:create':
        return fc.record({ direction: fc.oneof(fc.constantFrom('send', 'recv'), strange) });
      case 'transport:connect':
        return fc.record({ transportId: id, dtlsParameters: fc.oneof(strange, fc.constant({ role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD' }] })) });
      case 'transport:restartIce':
        return fc.record({ transportId: id });
      case 'media:produce':
        return fc.record({
          transportId: id,
          kind: fc.constantFrom('audio', 'video', 'data'),
          source,
          rtpParameters: fc.oneof(strange, fc.record({ codecs: fc.array(strange, { maxLength: 3 }), encodings: fc.array(strange, { maxLength: 3 }) })),
        });
      case 'media:setProducerPaused':
        return fc.record({ producerId: id, paused: fc.oneof(fc.boolean(), strange) });
      case 'media:closeProducer':
        return fc.record({ producerId: id });
      case 'consumer:resume':
        return fc.record({ consumerId: id });
      case 'consumer:prefer':
        return fc.record({ consumerId: id, visible: fc.oneof(fc.boolean(), strange), height: fc.oneof(fc.integer({ min: -10, max: 5000 }), strange) });
      case 'consumers:resume': {
        const preference = fc.oneof(strange, fc.record({ visible: fc.oneof(fc.boolean(), strange), height: fc.oneof(fc.integer({ min: -10, max: 5000 }), strange) }));
        const entry = fc.oneof(fc.record({ consumerId: id }), fc.record({ consumerId: id, preference }), strange);
        // A few (the same one several times too), or around the bound of 128 (ids of a plausible
        // length there: 130 huge ones would pass the hard cap, which closes the connection).
        const short = fc.oneof(fc.constantFrom(...ctx.ids, ...ctx.otherIds), fc.string({ maxLength: 70 }));
        return fc.record({
          consumers: fc.oneof(strange, fc.array(entry, { maxLength: 6 }), fc.array(fc.record({ consumerId: short }), { minLength: 126, maxLength: 132 })),
        });
      }
      case 'media:ready':
        return fc.record(
          { rtpCapabilities: fc.oneof(strange, fc.record({ codecs: fc.array(strange, { maxLength: 3 }) })), tileHeight: fc.oneof(fc.integer({ min: -10, max: 5000 }), strange) },
          { requiredKeys: ['rtpCapabilities'] },
        );
      case 'signal:send':
        return fc.record({
          signal: fc.oneof(
            strange,
            fc.record({ type: fc.string({ maxLength: 12 }), text: fc.oneof(fc.string(), fc.constantFrom(...HUGE)) }),
            fc.record(
              {
                kind: fc.oneof(fc.constantFrom('message', 'need-moment', 'stepping-away', 'back'), fc.string({ maxLength: 12 })),
                sealed: fc.oneof(fc.array(sealedFor, { maxLength: 10 }), strange),
                text: fc.string({ maxLength: 20 }),
              },
              { requiredKeys: ['kind'] },
            ),
          ),
        });
      case 'checkout:answer':
        // The open check-out's id (or another), one sealed box per addressee (or broken ones).
        return fc.record(
          { checkoutId: fc.oneof(fc.constantFrom(...ctx.checkoutIds, 'co-none'), id), sealed: fc.oneof(fc.array(sealedFor, { minLength: 0, maxLength: 10 }), strange), extra: strange },
          { requiredKeys: ['checkoutId', 'sealed'] },
        );
      case 'e2ee:relay':
        return fc.oneof(fc.record({ to: id, data: blob }), fc.record({ to: id, data: blob, from: id, extra: strange }, { requiredKeys: [] }));
      case 'media:keysReady':
        return fc.oneof(fc.constant({}), fc.record({ consumerId: id }), strange);
      default:
        return fc.oneof(fc.constant({}), strange);
    }
  };
  const knownName = fc.constantFrom(...REQUEST_NAMES);
  const validish = knownName.chain((name) => payloadFor(name).map((p) => ({ kind: 'valid-ish' as const, name, payload: [p], ack: true, copies: 1 })));
  const broken = fc
    .tuple(knownName, fc.array(strange, { minLength: 0, maxLength: 3 }))
    .map(([name, payload]) => ({ kind: 'broken' as const, name, payload, ack: true, copies: 1 }));
  const unknown = fc
    .tuple(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom(...EVIL_KEYS, 'room:', 'connect', 'disconnecting', 'newListener', huge(5000))), strange)
    .map(([name, p]) => ({ kind: 'unknown-event' as const, name, payload: [p], ack: true, copies: 1 }));
  const noAck = fc
    .tuple(fc.oneof(knownName, fc.string({ maxLength: 20 })), strange)
    .map(([name, p]) => ({ kind: 'no-ack' as const, name, payload: [p], ack: false, copies: 1 }));
  const forged = fc.oneof(
    fc.constantFrom(
      () => jwt({ room: ctx.roomId, role: 'facilitator', aud: 'group-room', exp: past() }),
      () => jwt({ room: ctx.roomId, role: 'facilitator', aud: 'group-room', exp: future() }, 'a-different-secret-of-enough-length-000'),
      () => jwt({ room: ctx.roomId, role: 'facilitator', aud: 'group-room', exp: future() }, SECRET, { alg: 'none' }).split('.').slice(0, 2).join('.') + '.',
      () => jwt({ room: ctx.roomId, role: 'facilitator', aud: 'group-room:seat', exp: future() }, 'wrong-wrong-wrong-wrong-wrong-wrong-1'),
      () => jwt({ room: ctx.roomId, role: 'member', aud: 'group-room', exp: past(), inv: 'x' }),
      () => jwt({ room: ctx.roomId, sub: ctx.ids[0], nonce: 'guess', aud: 'group-room:seat', exp: past() }),
      () => jwt({ room: ctx.roomId, role: 'facilitator' }, SECRET, { alg: 'HS512' }),
    ),
  );
  const token = fc
    .tuple(fc.constantFrom('room:enter', 'room:resume'), fc.oneof(forged.map((f) => f()), fc.constantFrom(...ctx.replayed, ...ctx.otherTokens)), roomId, fc.boolean())
    .map(([name, tok, room, here]) => ({
      kind: 'token' as const,
      name,
      payload: [name === 'room:enter' ? { roomId: here ? ctx.roomId : room, token: tok, displayName: 'Fuzzy' } : { roomId: here ? ctx.roomId : room, credential: tok }],
      ack: true,
      copies: 1,
    }));
  const tools = toolMessages(ctx);
  const burst = fc
    .tuple(validish, fc.integer({ min: 8, max: 64 }))
    .map(([m, copies]) => ({ ...m, kind: 'burst' as const, copies }));
  return fc.oneof(
    { weight: 40, arbitrary: validish },
    { weight: 4, arbitrary: tools },
    { weight: 25, arbitrary: broken },
    { weight: 10, arbitrary: unknown },
    { weight: 8, arbitrary: noAck },
    { weight: 12, arbitrary: token },
    { weight: 1, arbitrary: burst },
  ) as fc.Arbitrary<Message>;
}

// ---------------------------------------------------------------------------------------------
// Sending

interface Tally {
  byKind: Record<string, number>;
  byOutcome: Record<string, number>;
  sent: number;
  untyped: { name: string; answer: unknown }[];
  /** Well-formed commands and answers of the therapist's tools: outcomes by type ('share.grant:ok'). */
  tools: Record<string, number>;
}
const newTally = (): Tally => ({ byKind: {}, byOutcome: {}, sent: 0, untyped: [], tools: {} });

function isTyped(answer: unknown): string | null {
  if (typeof answer !== 'object' || answer === null) return null;
  const a = answer as { ok?: unknown; data?: unknown; error?: { code?: unknown; message?: unknown } };
  if (a.ok === true && 'data' in a) return 'ok';
  if (a.ok === false && a.error && typeof a.error.code === 'string' && CODES.has(a.error.code) && typeof a.error.message === 'string') return a.error.code;
  return null;
}

async function sendOne(socket: Client, m: Message, tally: Tally): Promise<void> {
  const raw = socket as unknown as { emit: (...a: unknown[]) => void; timeout: (ms: number) => { emitWithAck: (...a: unknown[]) => Promise<unknown> } };
  tally.byKind[m.kind] = (tally.byKind[m.kind] ?? 0) + m.copies;
  tally.sent += m.copies;
  if (!m.ack) {
    try {
      raw.emit(m.name, ...m.payload);
    } catch {
      // socket.io-client refuses reserved names ('connect', …) before they reach the wire
    }
    return;
  }
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: m.copies }, () => raw.timeout(15_000).emitWithAck(m.name, ...m.payload).catch((e: unknown) => ({ timeout: String(e) }))),
  );
  const took = performance.now() - started;
  if (took > 2000 && process.env['FUZZ_DEBUG']) console.warn(`slow ${m.name} ${took.toFixed(0)} ms connected=${socket.connected} ${JSON.stringify(answers[0]).slice(0, 200)} ${JSON.stringify(m.payload).slice(0, 300)}`);
  for (const answer of answers) {
    const outcome = isTyped(answer);
    // An unknown event gets no acknowledgement at all: Socket.IO drops it (no handler), so only
    // known names must answer. A timed-out known request is a failure.
    if (!REQUEST_NAMES.includes(m.name) && (answer as { timeout?: string }).timeout) {
      tally.byOutcome['no answer (unknown event)'] = (tally.byOutcome['no answer (unknown event)'] ?? 0) + 1;
      if (process.env['FUZZ_DEBUG']) console.warn(`no answer: ${JSON.stringify(m.name).slice(0, 40)} ${(answer as { timeout?: string }).timeout} ${(performance.now() - started).toFixed(0)} ms`);
      continue;
    }
    tally.byOutcome[outcome ?? 'UNTYPED'] = (tally.byOutcome[outcome ?? 'UNTYPED'] ?? 0) + 1;
    const tool = m.name === 'checkout:answer' ? m.name : (m.payload[0] as { command?: { type?: unknown } } | undefined)?.command?.type;
    if (m.kind === 'valid-ish' && typeof tool === 'string' && /^(share|checkout|aside)[.:]/.test(tool)) tally.tools[`${tool}:${outcome}`] = (tally.tools[`${tool}:${outcome}`] ?? 0) + 1;
    if (!outcome || outcome === 'INTERNAL') tally.untyped.push({ name: m.name, answer });
  }
}

/*
 * Messages stay under MAX_MESSAGE_BYTES (64 KiB): a bigger one is answered TOO_LARGE and its
 * connection closed (check-before-work.test.ts), one past the hard cap closes it at once
 * (Socket.IO's maxHttpBufferSize), which the oversized check below covers.
 */

/** Send `count` generated messages on `socket`, `IN_FLIGHT` at a time, as fast as answers come. */
async function fuzz(socket: Client, arb: fc.Arbitrary<Message>, count: number, seed: number, tally: Tally): Promise<void> {
  const messages = fc.sample(arb, { seed, numRuns: count });
  if (process.env['FUZZ_DEBUG']) {
    let last: Message | undefined;
    socket.on('disconnect', (reason) => console.warn(`disconnect ${reason} after ${tally.sent}; last ${JSON.stringify(last)?.slice(0, 300)}`));
    (socket as unknown as { onAnyOutgoing: (f: (...a: unknown[]) => void) => void }).onAnyOutgoing((...a: unknown[]) => {
      last = { kind: 'broken', name: String(a[0]), payload: a.slice(1), ack: true, copies: 1 };
    });
  }
  let next = 0;
  const worker = async () => {
    while (next < messages.length) {
      const m = messages[next++]!;
      await sendOne(socket, m, tally);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

// ---------------------------------------------------------------------------------------------
// What only a facilitator may change

async function guarded(server: SignalServer, roomId: string, senderId: string | null) {
  const state = await server.store.get(roomId);
  if (!state) return null;
  const members = Object.values(state.members)
    .filter((m) => m.id !== senderId)
    .map((m) => ({ id: m.id, role: m.role, stage: m.stage, heldOff: [...m.heldOff].sort(), asked: [...m.asked].sort() }))
    .sort((a, b) => a.id.localeCompare(b.id));
  return {
    title: state.title,
    locked: state.locked,
    autoAdmit: state.autoAdmit,
    ended: state.ended,
    blockedInvites: state.blockedInvites,
    agreement: state.agreement.version,
    session: state.session,
    floorMode: state.floor.mode,
    round: (state.floor as { round?: unknown }).round ?? null,
    // Only facilitators grant, set the policy, open a check-out and take someone aside; a member
    // asks for themselves and answers the check-out once, for themselves.
    share: state.share && { ...state.share, asking: state.share.asking.filter((id) => id !== senderId) },
    checkout: state.checkout && { ...state.checkout, done: state.checkout.done.filter((id) => id !== senderId) },
    aside: state.aside ?? null,
    members,
    senderRole: senderId ? (state.members[senderId]?.role ?? 'gone') : null,
  };
}

function heapUsed(): number {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const MB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

// ---------------------------------------------------------------------------------------------

describe('fuzzing the handlers (limits lifted)', () => {
  const t = useServer({ SOCKET_REQUESTS_PER_SECOND: '1000000', TOKEN_SECRET: SECRET });

  it('answers generated messages (100,000 × FUZZ_SCALE) with typed results, keeps roles, stays up and gives memory back', { timeout: 400_000 }, async () => {
    const { server } = t;
    const baseline = heapUsed();

    const room = await openRoom(server, 'Fay');
    const other = await openRoom(server, 'Olga');
    const otherMember = await admittedMember(server, other, other.facilitator, 'Oscar');
    const first = await admittedMember(server, room, room.facilitator, 'Mia');
    await drop(server, first);
    const member: Person = await resume(server, first); // `first.resume` is now a used credential
    const waiting = await waitingMember(server, room, 'Wes');
    const stranger = await connect(server);
    // The therapist's tools in use while the others send: the member may share (a grant), a
    // check-out is open, and another member is aside with the facilitator (which the fuzzing
    // member may not end, nor join).
    const aside = await admittedMember(server, room, room.facilitator, 'Nia');
    await command(room.facilitator, { type: 'share.grant', memberId: member.id });
    await command(room.facilitator, { type: 'checkout.start' });
    await command(room.facilitator, { type: 'aside.start', memberId: aside.id });
    const checkoutId = (await server.store.get(room.roomId))?.checkout?.id;
    expect(checkoutId).toBeDefined();

    const ctx: Context = {
      roomId: room.roomId,
      otherRoomId: other.roomId,
      ids: [room.facilitator.id, member.id, waiting.id, aside.id],
      otherIds: [other.facilitator.id, otherMember.id],
      otherTokens: [other.facilitatorToken, other.inviteToken, other.facilitator.resume.credential, otherMember.resume.credential],
      replayed: [first.resume.credential],
      transportIds: [],
      checkoutIds: [checkoutId!],
    };
    const arb = arbitraries(ctx);
    const fuzzStart = performance.now();
    const tallies = { stranger: newTally(), waiting: newTally(), member: newTally(), facilitator: newTally() };
    const senders = [member.id, waiting.id];
    /** What only facilitators change, but for what the senders may do to their own place (leave, a hand, an ask, an answer). */
    const withoutSenders = (g: Awaited<ReturnType<typeof guarded>>) =>
      g && {
        ...g,
        members: g.members.filter((m) => !senders.includes(m.id)),
        share: g.share && { ...g.share, granted: g.share.granted.filter((id) => !senders.includes(id)), asking: g.share.asking.filter((id) => !senders.includes(id)) },
        checkout: g.checkout && { ...g.checkout, done: g.checkout.done.filter((id) => !senders.includes(id)) },
        senderRole: null,
      };

    // The member answers the check-out (a box for the facilitator), once: a second is refused.
    const answer = { checkoutId: checkoutId!, sealed: [{ to: room.facilitator.id, data: 'A'.repeat(32) }] };
    await ok(member.socket, 'checkout:answer', answer);
    expectError(await request(member.socket, 'checkout:answer', answer), 'INVALID_STATE');

    // Then the tools alone, well-formed, from everyone but the facilitators at once: every
    // facilitator's command refused (FORBIDDEN: the member may not end an aside they are not
    // in), no second answer to the check-out, nothing at all from anyone not in the room.
    const toolTallies = { stranger: newTally(), waiting: newTally(), member: newTally() };
    const beforeTools = await guarded(server, room.roomId, null);
    const tools = toolMessages(ctx);
    await Promise.all([
      fuzz(stranger, tools, Math.round(1000 * SCALE), SEED + 20, toolTallies.stranger),
      fuzz(waiting.socket, tools, Math.round(1000 * SCALE), SEED + 21, toolTallies.waiting),
      fuzz(member.socket, tools, Math.round(2000 * SCALE), SEED + 22, toolTallies.member),
    ]);
    const afterTools = await guarded(server, room.roomId, null);
    expect(withoutSenders(afterTools)).toEqual(withoutSenders(beforeTools));
    console.warn(`fuzz: the tools alone, member ${JSON.stringify(toolTallies.member.tools)}; waiting ${JSON.stringify(toolTallies.waiting.tools)}`);
    const outcomes = (t: Tally, type: string) => Object.entries(t.tools).filter(([k]) => k.startsWith(`${type}:`)).map(([k]) => k.slice(type.length + 1));
    for (const type of ['share.grant', 'share.revoke', 'share.stop', 'share.setPolicy', 'checkout.start', 'checkout.end', 'aside.start', 'aside.end']) {
      expect(outcomes(toolTallies.member, type), `${type} by the member`).toContain('FORBIDDEN');
      expect(outcomes(toolTallies.member, type), `${type} by the member`).not.toContain('ok');
    }
    for (const t of [toolTallies.stranger, toolTallies.waiting]) expect(Object.keys(t.tools).filter((k) => k.endsWith(':ok'))).toEqual([]);
    expect(toolTallies.member.tools['share.ask:ok'] ?? 0).toBeGreaterThan(0);
    expect(outcomes(toolTallies.member, 'checkout:answer')).not.toContain('ok');
    expect(afterTools?.checkout?.done).toEqual([member.id]);
    expect(afterTools?.aside).toMatchObject({ facilitatorId: room.facilitator.id, memberId: aside.id });
    for (const t of Object.values(toolTallies)) expect(t.untyped.slice(0, 5)).toEqual([]);

    // Everyone but the facilitator at once; then what only a facilitator may change is compared.
    const before = await guarded(server, room.roomId, null);
    await Promise.all([
      fuzz(stranger, arb, Math.round(25_000 * SCALE), SEED, tallies.stranger),
      fuzz(waiting.socket, arb, Math.round(22_000 * SCALE), SEED + 1, tallies.waiting),
      fuzz(member.socket, arb, Math.round(25_000 * SCALE), SEED + 2, tallies.member),
    ]);
    const after = await guarded(server, room.roomId, null);
    // The member and the waiting member may have left (their own seat, and their grant with it),
    // raised a hand, asked to share or answered the check-out; nothing else.
    expect(withoutSenders(after)).toEqual(withoutSenders(before));
    expect(after?.aside).toMatchObject({ facilitatorId: room.facilitator.id, memberId: aside.id });
    const stateAfter = await server.store.get(room.roomId);
    // Nobody waiting shares, asks to share or answers; the member's grant is the facilitator's alone.
    expect(stateAfter?.share?.granted.includes(waiting.id)).toBe(false);
    expect(stateAfter?.share?.asking.includes(waiting.id)).toBe(false);
    expect(stateAfter?.checkout?.done.includes(waiting.id)).toBe(false);
    expect(Object.values(stateAfter?.members[waiting.id]?.producers ?? {})).toEqual([]);
    if (stateAfter?.members[member.id]) expect(stateAfter.share?.granted).toContain(member.id);
    for (const id of [member.id, waiting.id]) {
      const role = stateAfter?.members[id]?.role;
      if (role !== undefined) expect(role).toBe('member');
    }
    const waitingStage = stateAfter?.members[waiting.id]?.stage;
    if (waitingStage !== undefined) expect(waitingStage).not.toBe('admitted');
    // The other room is untouched by anyone here.
    const otherState = await server.store.get(other.roomId);
    expect(Object.keys(otherState!.members).sort()).toEqual([other.facilitator.id, otherMember.id].sort());

    // Encryption messages went only from the admitted member (until it left) to the
    // facilitator, stamped with the member's seat; nobody waiting (or not in the room) received any.
    for (const { from } of eventsOf(room.facilitator.socket, 'e2ee:relay')) expect(from).toBe(member.id);
    for (const socket of [waiting.socket, member.socket, stranger]) expect(eventsOf(socket, 'e2ee:relay')).toEqual([]);

    // The facilitator last: anything goes, but every answer is typed.
    await fuzz(room.facilitator.socket, arb, Math.round(28_000 * SCALE), SEED + 3, tallies.facilitator);

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);

    const total = Object.values(tallies).reduce((n, x) => n + x.sent, 0);
    const byKind: Record<string, number> = {};
    const byOutcome: Record<string, number> = {};
    for (const x of Object.values(tallies)) {
      for (const [k, v] of Object.entries(x.byKind)) byKind[k] = (byKind[k] ?? 0) + v;
      for (const [k, v] of Object.entries(x.byOutcome)) byOutcome[k] = (byOutcome[k] ?? 0) + v;
    }
    console.warn(`fuzz: ${total} messages in ${((performance.now() - fuzzStart) / 1000).toFixed(1)} s (seed ${SEED}); per sender ${JSON.stringify(Object.fromEntries(Object.entries(tallies).map(([k, v]) => [k, v.sent])))}`);
    console.warn(`fuzz: per kind ${JSON.stringify(byKind)}`);
    console.warn(`fuzz: answers ${JSON.stringify(byOutcome)}`);
    console.warn(`fuzz: the tools, member ${JSON.stringify(tallies.member.tools)}; facilitator ${JSON.stringify(tallies.facilitator.tools)}`);
    const untyped = Object.values(tallies).flatMap((x) => x.untyped);
    expect(untyped.slice(0, 5)).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(100_000 * SCALE);

    disconnectAll();
    await freeSeats(server);
    await vi.waitFor(() => expect(server.rooms.mediaCount).toBe(0), WAIT);
    await vi.waitFor(async () => expect(await server.store.roomIds()).toEqual([]), WAIT).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const end = heapUsed();
    console.warn(`fuzz: heap baseline ${MB(baseline)}, after ${MB(end)} (Δ ${MB(end - baseline)})`);
    expect(end - baseline).toBeLessThan(30 * 1024 * 1024);
  });
});

describe('fuzzing with the default request limit', () => {
  const t = useServer({ TOKEN_SECRET: SECRET });

  it('answers a flood with typed results, RATE_LIMITED among them', { timeout: 60_000 }, async () => {
    const { server } = t;
    const room = await openRoom(server, 'Fay');
    const member = await admittedMember(server, room, room.facilitator, 'Mia');
    const stranger = await connect(server);
    const ctx: Context = { roomId: room.roomId, otherRoomId: room.roomId, ids: [room.facilitator.id, member.id], otherIds: ['x'], otherTokens: ['y'.repeat(16)], replayed: ['z'.repeat(16)], transportIds: [], checkoutIds: [] };
    const arb = arbitraries(ctx);
    const tally = newTally();
    const before = await guarded(server, room.roomId, null);
    await Promise.all([fuzz(stranger, arb, 1000, SEED + 10, tally), fuzz(member.socket, arb, 1000, SEED + 11, tally)]);
    const after = await guarded(server, room.roomId, null);
    const withoutMember = (g: typeof before) => g && { ...g, members: g.members.filter((m) => m.id !== member.id), senderRole: null };
    expect(withoutMember(after)).toEqual(withoutMember(before));
    console.warn(`fuzz (default limit): ${tally.sent} messages, answers ${JSON.stringify(tally.byOutcome)}`);
    expect(tally.untyped.slice(0, 5)).toEqual([]);
    expect(tally.byOutcome['RATE_LIMITED'] ?? 0).toBeGreaterThan(0);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('closes a connection that sends more than the hard cap (MESSAGE_HARD_CAP) and stays up', async () => {
    const { server } = t;
    for (const name of ['room:command', 'room:create', 'no-such-event']) {
      const socket = await connect(server);
      const closed = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
      (socket as unknown as { emit: (...a: unknown[]) => void }).emit(name, { command: { type: 'agreement.set', text: 'x'.repeat(MESSAGE_HARD_CAP + 1) } }, () => undefined);
      expect(await closed).toBe('transport close');
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
