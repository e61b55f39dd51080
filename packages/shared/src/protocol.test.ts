import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  AGREEMENT_MAX,
  AgreementText,
  Command,
  commandTypes,
  Floor,
  OPEN_FLOOR,
  PRIVATE_MESSAGE_MAX,
  PrivateMessageText,
  SEALED_BLOB_MAX,
  PrivateSignalRequest,
  TURN_SECONDS_MAX,
  TURN_SECONDS_MIN,
  TurnSeconds,
  DEFAULT_AGREEMENT,
  DisplayName,
  DISPLAY_NAME_MAX,
  ErrorCode,
  events,
  eventNames,
  isFacilitatorRole,
  MAX_CONSUMER_BATCH,
  ProtocolFailure,
  requestNames,
  requests,
  resultSchema,
  Role,
  RoomId,
  RoomView,
  summariseZodError,
  type CommandType,
  type RequestName,
} from './index.js';

const roomId = 'abcDEF123_-xyz';
const token = 'eyJhbGciOiJIUzI1NiJ9.eyJyb29tIjoieCJ9.c2lnbmF0dXJl';
const rtpParameters = {
  mid: '0',
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 } }],
  headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1 }],
  encodings: [{ ssrc: 1111 }],
  rtcp: { cname: 'abc' },
};
const dtlsParameters = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD' }] };
const capCodec = { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100 };
const rtpCapabilities = {
  codecs: [capCodec],
  headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', kind: 'audio', preferredId: 1 }],
};

interface Fixture {
  payload: Record<string, unknown>;
  /** Keys that may be left out (they are optional or have defaults). */
  optional?: string[];
  /** A wrong value per field: wrong types, and values out of the field's enum or range. */
  wrong?: [string, unknown][];
  /** A too-long (or too-large) value per string-bearing field. */
  oversized?: [string, unknown][];
}

/** One valid payload per request, and ways to break each field. */
const valid: { [K in RequestName]: Fixture } = {
  'room:create': {
    payload: { title: 'Tuesday group', durationMinutes: 90, startsAt: 1_700_000_000_000, agreement: 'Be kind.' },
    optional: ['title', 'durationMinutes', 'startsAt', 'agreement'],
    wrong: [
      ['title', 5],
      ['durationMinutes', '90'],
      ['durationMinutes', 14],
      ['durationMinutes', 241],
      ['durationMinutes', 90.5],
      ['startsAt', 'now'],
      ['startsAt', 0],
      ['startsAt', -1],
      ['agreement', 42],
      ['agreement', '   '],
    ],
    oversized: [
      ['title', 'x'.repeat(81)],
      ['agreement', 'x'.repeat(AGREEMENT_MAX + 1)],
    ],
  },
  'room:enter': {
    payload: { roomId, token, displayName: 'Ada' },
    wrong: [
      ['roomId', 1234567890],
      ['roomId', 'short'],
      ['token', 42],
      ['token', 'too-short'],
      ['displayName', 42],
      ['displayName', '\u200b'],
    ],
    oversized: [
      ['roomId', 'x'.repeat(65)],
      ['token', 't'.repeat(2049)],
      ['displayName', 'x'.repeat(201)],
      ['displayName', 'x'.repeat(DISPLAY_NAME_MAX + 1)],
    ],
  },
  'room:resume': {
    payload: { roomId, credential: token },
    wrong: [
      ['roomId', 'short'],
      ['credential', 42],
      ['credential', 'too-short'],
    ],
    oversized: [
      ['roomId', 'x'.repeat(65)],
      ['credential', 't'.repeat(2049)],
    ],
  },
  'room:confirmResume': {
    payload: { credential: token },
    wrong: [
      ['credential', 42],
      ['credential', 'too-short'],
    ],
    oversized: [['credential', 't'.repeat(2049)]],
  },
  'room:leave': { payload: {} },
  'room:command': {
    payload: { command: { type: 'member.admit', memberId: 'm1' } },
    wrong: [
      ['command', 'member.admit'],
      ['command', { type: 'member.kick', memberId: 'm1' }],
      ['command', { memberId: 'm1' }],
      ['command', { type: 'member.admit', memberId: 'm1', extra: 1 }],
    ],
    oversized: [
      ['command', { type: 'member.admit', memberId: 'm'.repeat(65) }],
      ['command', { type: 'agreement.set', text: 'x'.repeat(AGREEMENT_MAX + 1) }],
      ['command', { type: 'agreement.acknowledge', version: 'v'.repeat(129), privateSpace: true }],
      ['command', { type: 'round.start', order: Array.from({ length: 65 }, (_, i) => `m${i}`), turnSeconds: null, onTimeout: 'warn' }],
      ['command', { type: 'hands.move', memberId: 'm1', to: 1001 }],
    ],
  },
  'invite:create': { payload: {} },
  'link:rotateFacilitator': { payload: {} },
  'signal:send': {
    payload: { signal: { kind: 'message', sealed: [{ to: 'facilitator-1', data: 'eyJ0Ijoic2VhbGVkIn0' }] } },
    wrong: [
      ['signal', 'need-moment'],
      ['signal', null],
      ['signal', { kind: 'shout' }],
      ['signal', { text: 'no kind' }],
      ['signal', { kind: 'message' }], // a message carries sealed boxes
      ['signal', { kind: 'message', sealed: [] }],
      // The server never takes a message's text in the clear.
      ['signal', { kind: 'message', text: 'Could we slow down a little?' }],
      ['signal', { kind: 'message', sealed: [{ to: 'f', data: 'not base64url!' }] }],
      ['signal', { kind: 'need-moment', text: 'only messages carry text' }],
      ['signal', { kind: 'back', extra: 1 }],
    ],
    oversized: [
      ['signal', { kind: 'message', sealed: [{ to: 'f', data: 'x'.repeat(SEALED_BLOB_MAX + 1) }] }],
      ['signal', { kind: 'message', sealed: Array.from({ length: 9 }, (_, i) => ({ to: `f${i}`, data: 'abc' })) }],
    ],
  },
  'checkout:answer': {
    payload: { checkoutId: 'co-1', sealed: [{ to: 'facilitator-1', data: 'eyJ0Ijoic2VhbGVkIn0' }] },
    wrong: [
      ['checkoutId', 5],
      ['sealed', []],
      ['sealed', [{ to: 'f', data: 'not base64url!' }]],
      // The server never takes an answer in the clear.
      ['sealed', [{ to: 'f', rating: 1 }]],
    ],
    oversized: [
      ['checkoutId', 'c'.repeat(65)],
      ['sealed', [{ to: 'f', data: 'x'.repeat(SEALED_BLOB_MAX + 1) }]],
      ['sealed', Array.from({ length: 9 }, (_, i) => ({ to: `f${i}`, data: 'abc' }))],
    ],
  },
  'e2ee:relay': {
    payload: { to: 'member-1', data: 'eyJ0IjoiaGVsbG8ifQ' },
    wrong: [
      ['to', ''],
      ['to', 42],
      ['data', ''],
      ['data', 'has spaces and +/='],
      ['data', 42],
    ],
    oversized: [
      ['to', 'x'.repeat(65)],
      ['data', 'x'.repeat(SEALED_BLOB_MAX + 1)],
    ],
  },
  'media:keysReady': { payload: {} },
  'media:join': { payload: {} },
  'transport:create': { payload: { direction: 'send' }, wrong: [['direction', 'sideways']] },
  'transport:createPlain': { payload: { direction: 'recv' }, wrong: [['direction', 'sideways']] },
  'transport:connectPlain': {
    payload: { transportId: 't1', ip: '127.0.0.1', port: 40000 },
    wrong: [
      ['ip', 'not an address'],
      ['port', 0],
      ['port', 70000],
      ['transportId', 7],
    ],
    oversized: [['transportId', 'x'.repeat(65)]],
  },
  'transport:restartIce': { payload: { transportId: 't1' }, wrong: [['transportId', 42]], oversized: [['transportId', 't'.repeat(65)]] },
  'media:resync': { payload: {} },
  'media:receiveVideo': { payload: { video: false }, wrong: [['video', 'no']] },
  'transport:connect': {
    payload: { transportId: 't1', dtlsParameters },
    wrong: [
      ['dtlsParameters', 'x'],
      ['transportId', 7],
    ],
    oversized: [
      ['transportId', 'x'.repeat(65)],
      ['dtlsParameters', { fingerprints: [{ algorithm: 'sha-256', value: 'v'.repeat(257) }] }],
    ],
  },
  'media:produce': {
    payload: { transportId: 't1', kind: 'audio', source: 'mic', rtpParameters, paused: false },
    optional: ['paused'],
    wrong: [
      ['paused', 'yes'],
      ['kind', 'data'],
      ['source', 'speaker'],
      ['rtpParameters', []],
    ],
    oversized: [
      ['transportId', 'x'.repeat(65)],
      ['rtpParameters', { ...rtpParameters, mid: 'm'.repeat(33) }],
    ],
  },
  'media:setProducerPaused': {
    payload: { producerId: 'p1', paused: true },
    wrong: [
      ['paused', 1],
      ['producerId', ''],
    ],
    oversized: [['producerId', 'p'.repeat(65)]],
  },
  'media:closeProducer': { payload: { producerId: 'p1' }, wrong: [['producerId', 7]], oversized: [['producerId', 'p'.repeat(65)]] },
  'media:ready': {
    payload: { rtpCapabilities, tileHeight: 360 },
    optional: ['tileHeight'],
    wrong: [
      ['rtpCapabilities', []],
      ['tileHeight', -1],
      ['tileHeight', 180.5],
      ['tileHeight', '360'],
    ],
    oversized: [
      ['rtpCapabilities', { codecs: [{ ...capCodec, mimeType: 'a'.repeat(257) }] }],
      ['tileHeight', 4321],
    ],
  },
  'consumer:resume': { payload: { consumerId: 'c1' }, wrong: [['consumerId', null]], oversized: [['consumerId', 'c'.repeat(65)]] },
  'consumers:resume': {
    payload: { consumers: [{ consumerId: 'c1', preference: { visible: true, height: 180 } }, { consumerId: 'c2' }] },
    wrong: [
      ['consumers', []],
      ['consumers', [{ consumerId: '' }]],
      ['consumers', [{ consumerId: 'c1', preference: { visible: true } }]],
      ['consumers', [{ consumerId: 'c1', preference: { visible: true, height: -1 } }]],
      ['consumers', [{ consumerId: 'c1', preference: { visible: 'yes', height: 180 } }]],
      ['consumers', [{ consumerId: 'c1', extra: 1 }]],
      ['consumers', [{ consumerId: 'c1', preference: { visible: true, height: 180, extra: 1 } }]],
      ['consumers', 'c1'],
    ],
    oversized: [
      ['consumers', Array.from({ length: 129 }, (_, i) => ({ consumerId: `c${i}` }))],
      ['consumers', [{ consumerId: 'c'.repeat(65) }]],
      ['consumers', [{ consumerId: 'c1', preference: { visible: true, height: 4321 } }]],
    ],
  },
  'consumer:prefer': {
    payload: { consumerId: 'c1', visible: true, height: 360 },
    wrong: [
      ['visible', 'yes'],
      ['height', -1],
      ['height', 1.5],
      ['height', '360'],
      ['height', Number.NaN],
      ['consumerId', ''],
    ],
    oversized: [
      ['consumerId', 'c'.repeat(65)],
      ['height', 4321],
      ['height', Number.POSITIVE_INFINITY],
    ],
  },
};

const schema = (name: RequestName): z.ZodType => requests[name].request;

describe('request schemas', () => {
  it('has a fixture for every request, and no others', () => {
    expect(Object.keys(valid).sort()).toEqual([...requestNames].sort());
    expect(requestNames).toEqual([
      'room:create',
      'room:enter',
      'room:resume',
      'room:confirmResume',
      'room:leave',
      'room:command',
      'invite:create',
      'link:rotateFacilitator',
      'signal:send',
      'checkout:answer',
      'e2ee:relay',
      'media:keysReady',
      'media:join',
      'transport:create',
      'transport:restartIce',
      'transport:connect',
      'transport:createPlain',
      'transport:connectPlain',
      'media:produce',
      'media:setProducerPaused',
      'media:closeProducer',
      'media:ready',
      'media:resync',
      'media:receiveVideo',
      'consumer:resume',
      'consumers:resume',
      'consumer:prefer',
    ]);
  });

  describe.each(requestNames)('%s', (name) => {
    const { payload, optional = [], wrong = [], oversized = [] } = valid[name];

    it('accepts a valid payload', () => {
      const parsed = schema(name).safeParse(payload);
      expect(parsed.success, parsed.success ? '' : summariseZodError(parsed.error)).toBe(true);
    });

    it('rejects unknown extra keys (strict)', () => {
      const parsed = schema(name).safeParse({ ...payload, extra: 1 });
      expect(parsed.success).toBe(false);
      if (!parsed.success) expect(parsed.error.issues[0]?.code).toBe('unrecognized_keys');
    });

    it.each([null, undefined, 'text', 42, [], true])('rejects a non-object payload %j', (bad) => {
      expect(schema(name).safeParse(bad).success).toBe(false);
    });

    const required = Object.keys(payload).filter((key) => !optional.includes(key));
    if (required.length > 0) {
      it.each(required)('rejects a payload missing %s', (key) => {
        const { [key]: _dropped, ...rest } = payload;
        const parsed = schema(name).safeParse(rest);
        expect(parsed.success).toBe(false);
        if (!parsed.success) expect(parsed.error.issues.some((issue) => issue.path[0] === key)).toBe(true);
      });
    }

    if (optional.length > 0) {
      it(`accepts a payload without ${optional.join(', ')}`, () => {
        const rest = Object.fromEntries(Object.entries(payload).filter(([key]) => !optional.includes(key)));
        expect(schema(name).safeParse(rest).success).toBe(true);
      });
    }

    if (wrong.length > 0) {
      it.each(wrong.map(([key, value]) => [key, JSON.stringify(value), value] as const))('rejects %s = %s', (key, _shown, value) => {
        const parsed = schema(name).safeParse({ ...payload, [key]: value });
        expect(parsed.success).toBe(false);
        if (!parsed.success) expect(parsed.error.issues.some((issue) => issue.path[0] === key)).toBe(true);
      });
    }

    if (oversized.length > 0) {
      it.each(oversized.map(([key, value]) => [key, value] as const))('rejects an oversized %s', (key, value) => {
        const parsed = schema(name).safeParse({ ...payload, [key]: value });
        expect(parsed.success).toBe(false);
        if (!parsed.success) expect(parsed.error.issues.some((issue) => issue.path[0] === key)).toBe(true);
      });
    }
  });

  it('room:create fills in defaults and trims the title', () => {
    expect(requests['room:create'].request.parse({})).toEqual({ title: '', durationMinutes: 90 });
    expect(requests['room:create'].request.parse({ title: '  Tuesday  ' }).title).toBe('Tuesday');
    expect(requests['room:create'].request.parse({ title: 'x'.repeat(80) }).title).toHaveLength(80);
    expect(requests['room:create'].request.safeParse({ durationMinutes: 15 }).success).toBe(true);
    expect(requests['room:create'].request.safeParse({ durationMinutes: 240 }).success).toBe(true);
  });

  it('room:create normalises the agreement', () => {
    expect(requests['room:create'].request.parse({ agreement: '  One\r\nTwo  ' }).agreement).toBe('One\nTwo');
  });

  it('room:enter normalises the display name and bounds the token', () => {
    expect(requests['room:enter'].request.parse({ roomId, token, displayName: '  Ada \u200b ' }).displayName).toBe('Ada');
    expect(requests['room:enter'].request.safeParse({ roomId, token: 't'.repeat(16), displayName: 'Ada' }).success).toBe(true);
    expect(requests['room:enter'].request.safeParse({ roomId, token: 't'.repeat(15), displayName: 'Ada' }).success).toBe(false);
    expect(requests['room:enter'].request.safeParse({ roomId, token: 't'.repeat(2048), displayName: 'Ada' }).success).toBe(true);
  });

  it('signal:send accepts every kind, a message only sealed', () => {
    const send = requests['signal:send'].request;
    for (const kind of ['need-moment', 'stepping-away', 'back'] as const) {
      expect(send.parse({ signal: { kind } })).toEqual({ signal: { kind } });
    }
    const sealed = [{ to: 'f1', data: 'abc' }];
    expect(send.parse({ signal: { kind: 'message', sealed } })).toEqual({ signal: { kind: 'message', sealed } });
  });

  it('a private message text is still normalised where it is written (in the browser)', () => {
    expect(PrivateMessageText.parse('  Too\u200b   fast,\n please ')).toBe('Too fast, please');
    expect(PrivateMessageText.safeParse('x'.repeat(PRIVATE_MESSAGE_MAX + 1)).success).toBe(false);
  });

  it('room:command parses every command', () => {
    for (const type of commandTypes) {
      const parsed = requests['room:command'].request.safeParse({ command: validCommands[type].command });
      expect(parsed.success, type).toBe(true);
    }
  });

  it('media:produce defaults paused to false', () => {
    const { paused: _paused, ...rest } = valid['media:produce'].payload;
    const parsed = requests['media:produce'].request.parse(rest);
    expect(parsed.paused).toBe(false);
  });

  it('lets unknown WebRTC fields pass through the loose media objects', () => {
    const parsed = requests['media:produce'].request.parse({
      ...valid['media:produce'].payload,
      rtpParameters: { ...rtpParameters, codecs: [{ ...rtpParameters.codecs[0], rtcpFeedback: [{ type: 'nack' }], future: 1 }] },
    });
    expect(parsed.rtpParameters.codecs[0]).toMatchObject({ future: 1, rtcpFeedback: [{ type: 'nack' }] });
  });

  it('the responses that carry tokens and views', () => {
    const create = requests['room:create'].response;
    expect(create.safeParse({ roomId, facilitatorToken: token, inviteToken: token, inviteId: 'inv-1', ownerKey: token }).success).toBe(true);
    expect(create.safeParse({ roomId, facilitatorToken: 'short', inviteToken: token, inviteId: 'inv-1', ownerKey: token }).success).toBe(false);
    // The facilitator's browser needs the invite's id to derive the link's secret, and keeps the owner key.
    expect(create.safeParse({ roomId, facilitatorToken: token, inviteToken: token, ownerKey: token }).success).toBe(false);
    expect(create.safeParse({ roomId, facilitatorToken: token, inviteToken: token, inviteId: 'inv-1' }).success).toBe(false);
    expect(create.safeParse({ roomId, facilitatorToken: token, inviteToken: token, inviteId: 'inv-1', ownerKey: 'short' }).success).toBe(false);
    // Entering may carry an owner key (a token like the links), nothing else.
    const enter = requests['room:enter'].request;
    expect(enter.safeParse({ roomId, token, displayName: 'Fran', ownerKey: token }).success).toBe(true);
    expect(enter.safeParse({ roomId, token, displayName: 'Fran' }).success).toBe(true);
    expect(enter.safeParse({ roomId, token, displayName: 'Fran', ownerKey: 'short' }).success).toBe(false);
    expect(enter.safeParse({ roomId, token, displayName: 'Fran', ownerKey: true }).success).toBe(false);
    expect(requests['invite:create'].response.safeParse({ inviteToken: token, inviteId: 'inv-2' }).success).toBe(true);
    expect(requests['invite:create'].response.safeParse({}).success).toBe(false);
    expect(requests['link:rotateFacilitator'].response.safeParse({ facilitatorToken: token }).success).toBe(true);
    expect(requests['link:rotateFacilitator'].response.safeParse({ facilitatorToken: 'short' }).success).toBe(false);
    expect(requests['link:rotateFacilitator'].response.safeParse({}).success).toBe(false);
    const resume = { credential: token, memberId: 'w', graceSeconds: 120 };
    for (const name of ['room:enter', 'room:resume'] as const) {
      expect(requests[name].response.safeParse({ view: views.waiting, resume }).success).toBe(true);
      expect(requests[name].response.safeParse({ view: views.waiting }).success).toBe(false);
      expect(requests[name].response.safeParse({ view: views.waiting, resume: { ...resume, credential: 'short' } }).success).toBe(false);
      expect(requests[name].response.safeParse({}).success).toBe(false);
    }
    for (const name of ['room:confirmResume', 'room:leave', 'room:command'] as const) {
      expect(requests[name].response.safeParse({}).success).toBe(true);
      expect(requests[name].response.safeParse({ extra: 1 }).success).toBe(false);
    }
  });

  describe('bounds', () => {
    const produce = requests['media:produce'].request;
    const base = valid['media:produce'].payload;
    const codec = rtpParameters.codecs[0]!;

    it('rejects ids longer than 64 characters', () => {
      expect(requests['consumer:resume'].request.safeParse({ consumerId: 'c'.repeat(64) }).success).toBe(true);
      expect(requests['consumer:resume'].request.safeParse({ consumerId: 'c'.repeat(65) }).success).toBe(false);
      expect(requests['media:closeProducer'].request.safeParse({ producerId: '' }).success).toBe(false);
      expect(produce.safeParse({ ...base, transportId: 'x'.repeat(65) }).success).toBe(false);
    });

    it('takes 1 to 128 consumers in one consumers:resume', () => {
      const resume = requests['consumers:resume'].request;
      const batch = (n: number) => ({ consumers: Array.from({ length: n }, (_, i) => ({ consumerId: `c${i}` })) });
      expect(MAX_CONSUMER_BATCH).toBe(128);
      expect(resume.safeParse(batch(1)).success).toBe(true);
      expect(resume.safeParse(batch(MAX_CONSUMER_BATCH)).success).toBe(true);
      expect(resume.safeParse(batch(MAX_CONSUMER_BATCH + 1)).success).toBe(false);
      expect(resume.safeParse(batch(0)).success).toBe(false);
      expect(requests['consumers:resume'].response.safeParse({ missing: ['c1'] }).success).toBe(true);
      expect(requests['consumers:resume'].response.safeParse({ missing: Array.from({ length: 129 }, (_, i) => `c${i}`) }).success).toBe(false);
    });

    it('media:ready answers with the consumers made, at most 128', () => {
      const ready = requests['media:ready'].response;
      const offer = { consumerId: 'c1', producerId: 'p1', peerId: 'm1', kind: 'video', source: 'camera', rtpParameters, producerPaused: false };
      expect(ready.safeParse({ consumers: [] }).success).toBe(true);
      expect(ready.safeParse({ consumers: [offer] }).success).toBe(true);
      expect(ready.safeParse({ consumers: Array.from({ length: 129 }, () => offer) }).success).toBe(false);
      expect(ready.safeParse({}).success).toBe(false);
      expect(ready.safeParse({ consumers: [{ ...offer, source: 'desk' }] }).success).toBe(false);
    });

    it('bounds a tile height to 0..4320 device pixels', () => {
      const prefer = requests['consumer:prefer'].request;
      expect(prefer.safeParse({ consumerId: 'c', visible: false, height: 0 }).success).toBe(true);
      expect(prefer.safeParse({ consumerId: 'c', visible: true, height: 4320 }).success).toBe(true);
      expect(prefer.safeParse({ consumerId: 'c', visible: true, height: 4321 }).success).toBe(false);
      expect(prefer.safeParse({ consumerId: 'c', visible: true }).success).toBe(false);
    });

    it('rejects oversized strings inside rtpParameters', () => {
      expect(produce.safeParse({ ...base, rtpParameters: { ...rtpParameters, mid: 'm'.repeat(33) } }).success).toBe(false);
      const longMime = { ...rtpParameters, codecs: [{ ...codec, mimeType: 'a'.repeat(257) }] };
      expect(produce.safeParse({ ...base, rtpParameters: longMime }).success).toBe(false);
      const longParam = { ...rtpParameters, codecs: [{ ...codec, parameters: { x: 'v'.repeat(257) } }] };
      expect(produce.safeParse({ ...base, rtpParameters: longParam }).success).toBe(false);
      const longCname = { ...rtpParameters, rtcp: { cname: 'c'.repeat(257) } };
      expect(produce.safeParse({ ...base, rtpParameters: longCname }).success).toBe(false);
    });

    it('rejects oversized arrays inside rtpParameters', () => {
      const codecs = (n: number) => ({ ...rtpParameters, codecs: Array.from({ length: n }, () => codec) });
      expect(produce.safeParse({ ...base, rtpParameters: codecs(16) }).success).toBe(true);
      expect(produce.safeParse({ ...base, rtpParameters: codecs(17) }).success).toBe(false);
      expect(produce.safeParse({ ...base, rtpParameters: codecs(0) }).success).toBe(false);
      const encodings = { ...rtpParameters, encodings: Array.from({ length: 9 }, () => ({})) };
      expect(produce.safeParse({ ...base, rtpParameters: encodings }).success).toBe(false);
      const extensions = { ...rtpParameters, headerExtensions: Array.from({ length: 33 }, () => ({ uri: 'u' })) };
      expect(produce.safeParse({ ...base, rtpParameters: extensions }).success).toBe(false);
      const feedback = { ...rtpParameters, codecs: [{ ...codec, rtcpFeedback: Array.from({ length: 17 }, () => ({ type: 'nack' })) }] };
      expect(produce.safeParse({ ...base, rtpParameters: feedback }).success).toBe(false);
    });

    it('rejects oversized dtls fingerprints and capability lists', () => {
      const connect = requests['transport:connect'].request;
      const fingerprints = (n: number, value = 'AB') => ({ fingerprints: Array.from({ length: n }, () => ({ algorithm: 'sha-256', value })) });
      expect(connect.safeParse({ transportId: 't', dtlsParameters: fingerprints(8) }).success).toBe(true);
      expect(connect.safeParse({ transportId: 't', dtlsParameters: fingerprints(9) }).success).toBe(false);
      expect(connect.safeParse({ transportId: 't', dtlsParameters: fingerprints(0) }).success).toBe(false);
      expect(connect.safeParse({ transportId: 't', dtlsParameters: fingerprints(1, 'x'.repeat(257)) }).success).toBe(false);
      expect(connect.safeParse({ transportId: 't', dtlsParameters: { ...dtlsParameters, role: 'boss' } }).success).toBe(false);

      const ready = requests['media:ready'].request;
      expect(ready.safeParse({ rtpCapabilities: { codecs: Array.from({ length: 64 }, () => capCodec) } }).success).toBe(true);
      expect(ready.safeParse({ rtpCapabilities: { codecs: Array.from({ length: 65 }, () => capCodec) } }).success).toBe(false);
    });

    it('rejects out-of-range numbers in codecs', () => {
      const bad = (patch: Record<string, unknown>) => ({ ...base, rtpParameters: { ...rtpParameters, codecs: [{ ...codec, ...patch }] } });
      expect(produce.safeParse(bad({ payloadType: 128 })).success).toBe(false);
      expect(produce.safeParse(bad({ clockRate: 0 })).success).toBe(false);
      expect(produce.safeParse(bad({ clockRate: 1.5 })).success).toBe(false);
      expect(produce.safeParse(bad({ channels: 9 })).success).toBe(false);
    });

    it('rejects an oversized display name before normalising it', () => {
      const parsed = requests['room:enter'].request.safeParse({ roomId, token, displayName: ' '.repeat(201) });
      expect(parsed.success).toBe(false);
      if (!parsed.success) expect(summariseZodError(parsed.error)).toContain('displayName: is too long');
    });
  });
});

/** One valid command per type, and ways to break its fields. */
const validCommands: { [T in CommandType]: Omit<Fixture, 'payload'> & { command: Record<string, unknown> } } = {
  'agreement.acknowledge': {
    command: { type: 'agreement.acknowledge', version: '0123456789abcdef', privateSpace: true },
    wrong: [
      ['version', 5],
      ['privateSpace', false],
      ['privateSpace', 'true'],
    ],
    oversized: [['version', 'v'.repeat(129)]],
  },
  'agreement.set': {
    command: { type: 'agreement.set', text: 'Be kind.' },
    wrong: [
      ['text', 5],
      ['text', ' \r\n '],
    ],
    oversized: [['text', 'x'.repeat(AGREEMENT_MAX + 1)]],
  },
  'member.admit': {
    command: { type: 'member.admit', memberId: 'm1' },
    wrong: [
      ['memberId', 5],
      ['memberId', ''],
    ],
    oversized: [['memberId', 'm'.repeat(65)]],
  },
  'member.admitAll': { command: { type: 'member.admitAll' } },
  'member.remove': {
    command: { type: 'member.remove', memberId: 'm1', block: true },
    wrong: [
      ['block', 'yes'],
      ['memberId', null],
    ],
    oversized: [['memberId', 'm'.repeat(65)]],
  },
  'member.setRole': {
    command: { type: 'member.setRole', memberId: 'm1', role: 'cofacilitator' },
    wrong: [
      ['role', 'facilitator'], // nobody can be made the facilitator
      ['role', 'admin'],
      ['memberId', 1],
    ],
    oversized: [['memberId', 'm'.repeat(65)]],
  },
  'room.setAutoAdmit': { command: { type: 'room.setAutoAdmit', enabled: true }, wrong: [['enabled', 1]] },
  'room.setLocked': { command: { type: 'room.setLocked', locked: false }, wrong: [['locked', 'true']] },
  'lobby.clear': { command: { type: 'lobby.clear', waiting: false }, wrong: [['waiting', 'true']] },
  'session.end': { command: { type: 'session.end' } },
  'floor.setMode': {
    command: { type: 'floor.setMode', mode: 'hands' },
    wrong: [
      ['mode', 'round'], // a round is started with round.start, which sets its order
      ['mode', 'closed'],
      ['mode', 1],
    ],
  },
  'floor.grant': {
    command: { type: 'floor.grant', memberId: 'm1' },
    wrong: [
      ['memberId', 5],
      ['memberId', ''],
      ['memberId', null],
    ],
    oversized: [['memberId', 'm'.repeat(65)]],
  },
  'floor.release': { command: { type: 'floor.release' } },
  'hand.raise': { command: { type: 'hand.raise' } },
  'hand.lower': {
    command: { type: 'hand.lower', memberId: 'm1' },
    optional: ['memberId'],
    wrong: [
      ['memberId', 5],
      ['memberId', ''],
      ['memberId', null],
    ],
    oversized: [['memberId', 'm'.repeat(65)]],
  },
  'hands.move': {
    command: { type: 'hands.move', memberId: 'm1', to: 0 },
    wrong: [
      ['to', -1],
      ['to', 1.5],
      ['to', '0'],
      ['to', 1001],
      ['memberId', ''],
    ],
    oversized: [['memberId', 'm'.repeat(65)]],
  },
  'hands.clear': { command: { type: 'hands.clear' } },
  'round.start': {
    command: { type: 'round.start', order: ['m1', 'm2'], turnSeconds: 120, onTimeout: 'pass' },
    wrong: [
      ['order', []],
      ['order', 'm1'],
      ['order', [5]],
      ['order', ['']],
      ['turnSeconds', TURN_SECONDS_MIN - 1],
      ['turnSeconds', TURN_SECONDS_MAX + 1],
      ['turnSeconds', 60.5],
      ['turnSeconds', '60'],
      ['turnSeconds', 0],
      ['onTimeout', 'skip'],
      ['onTimeout', null],
    ],
    oversized: [
      ['order', Array.from({ length: 65 }, (_, i) => `m${i}`)],
      ['order', ['m'.repeat(65)]],
    ],
  },
  'round.pass': { command: { type: 'round.pass' } },
  'round.end': { command: { type: 'round.end' } },
  'member.mute': {
    command: { type: 'member.mute', memberId: 'm1', source: 'mic' },
    wrong: [
      ['source', 'screen'],
      ['source', null],
      ['memberId', 5],
    ],
    oversized: [['memberId', 'm'.repeat(65)]],
  },
  'member.muteAll': {
    command: { type: 'member.muteAll', except: 'm1' },
    wrong: [
      ['except', true],
      ['except', 5],
      ['except', ''],
    ],
    oversized: [['except', 'm'.repeat(65)]],
  },
  'member.ask': {
    command: { type: 'member.ask', memberId: 'm1', source: 'camera' },
    wrong: [
      ['source', 'speaker'],
      ['memberId', null],
    ],
    oversized: [['memberId', 'm'.repeat(65)]],
  },
  'ask.answer': {
    command: { type: 'ask.answer', source: 'mic', accept: true },
    wrong: [
      ['accept', 'yes'],
      ['accept', null],
      ['source', 'screen'],
    ],
  },
  'share.ask': { command: { type: 'share.ask', asking: true }, wrong: [['asking', 'yes']] },
  'share.grant': { command: { type: 'share.grant', memberId: 'm1' }, wrong: [['memberId', 5]], oversized: [['memberId', 'm'.repeat(65)]] },
  'share.revoke': { command: { type: 'share.revoke', memberId: 'm1' }, wrong: [['memberId', null]], oversized: [['memberId', 'm'.repeat(65)]] },
  'share.stop': { command: { type: 'share.stop', memberId: 'm1' }, wrong: [['memberId', '']], oversized: [['memberId', 'm'.repeat(65)]] },
  'share.setPolicy': {
    command: { type: 'share.setPolicy', maxShares: 2, allowWholeScreen: false },
    wrong: [
      ['maxShares', 3],
      ['maxShares', 0],
      ['maxShares', '1'],
      ['allowWholeScreen', 'no'],
    ],
  },
  'checkout.start': { command: { type: 'checkout.start' } },
  'checkout.end': { command: { type: 'checkout.end' } },
  'aside.start': { command: { type: 'aside.start', memberId: 'm1' }, wrong: [['memberId', 5]], oversized: [['memberId', 'm'.repeat(65)]] },
  'aside.end': { command: { type: 'aside.end' } },
};

describe('Command', () => {
  it('has these 33 types, listed by commandTypes', () => {
    expect(commandTypes).toEqual([
      'agreement.acknowledge',
      'agreement.set',
      'member.admit',
      'member.admitAll',
      'member.remove',
      'member.setRole',
      'room.setAutoAdmit',
      'room.setLocked',
      'lobby.clear',
      'session.end',
      'floor.setMode',
      'floor.grant',
      'floor.release',
      'hand.raise',
      'hand.lower',
      'hands.move',
      'hands.clear',
      'round.start',
      'round.pass',
      'round.end',
      'member.mute',
      'member.muteAll',
      'member.ask',
      'ask.answer',
      'share.ask',
      'share.grant',
      'share.revoke',
      'share.stop',
      'share.setPolicy',
      'checkout.start',
      'checkout.end',
      'aside.start',
      'aside.end',
    ]);
    expect(Object.keys(validCommands).sort()).toEqual([...commandTypes].sort());
  });

  describe.each(commandTypes)('%s', (type) => {
    const { command, optional = [], wrong = [], oversized = [] } = validCommands[type];

    it('accepts a valid command, unchanged', () => {
      expect(Command.parse(command)).toEqual(command);
    });

    it('rejects unknown extra keys (strict)', () => {
      expect(Command.safeParse({ ...command, extra: 1 }).success).toBe(false);
    });

    const fields = Object.keys(command).filter((key) => key !== 'type' && !optional.includes(key));
    if (fields.length > 0) {
      it.each(fields)('rejects a command missing %s', (key) => {
        const { [key]: _dropped, ...rest } = command;
        expect(Command.safeParse(rest).success).toBe(false);
      });
    }

    if (optional.length > 0) {
      it(`accepts a command without ${optional.join(', ')}`, () => {
        const rest = Object.fromEntries(Object.entries(command).filter(([key]) => !optional.includes(key)));
        expect(Command.parse(rest)).toEqual(rest);
      });
    }

    if (wrong.length > 0) {
      it.each(wrong.map(([key, value]) => [key, JSON.stringify(value), value] as const))('rejects %s = %s', (key, _shown, value) => {
        const parsed = Command.safeParse({ ...command, [key]: value });
        expect(parsed.success).toBe(false);
        if (!parsed.success) expect(parsed.error.issues.some((issue) => issue.path[0] === key)).toBe(true);
      });
    }

    if (oversized.length > 0) {
      it.each(oversized.map(([key, value]) => [key, value] as const))('rejects an oversized %s', (key, value) => {
        expect(Command.safeParse({ ...command, [key]: value }).success).toBe(false);
      });
    }
  });

  it('rejects an unknown or missing type, and non-objects', () => {
    for (const bad of [{ type: 'member.kick', memberId: 'm1' }, { memberId: 'm1' }, { type: 'ROOM.SETLOCKED', locked: true }, null, 'session.end', []]) {
      expect(Command.safeParse(bad).success).toBe(false);
    }
  });

  it('accepts exactly the limits', () => {
    expect(Command.safeParse({ type: 'agreement.acknowledge', version: 'v'.repeat(128), privateSpace: true }).success).toBe(true);
    expect(Command.safeParse({ type: 'member.admit', memberId: 'm'.repeat(64) }).success).toBe(true);
    expect(Command.safeParse({ type: 'agreement.set', text: 'x'.repeat(AGREEMENT_MAX) }).success).toBe(true);
    expect(Command.safeParse({ type: 'hands.move', memberId: 'm1', to: 1000 }).success).toBe(true);
    const round = { type: 'round.start', order: null, turnSeconds: null, onTimeout: 'warn' };
    expect(Command.parse(round)).toEqual(round); // null order: everyone in the order they came in; no limit
    expect(Command.parse({ type: 'member.muteAll', except: null })).toEqual({ type: 'member.muteAll', except: null }); // null: everyone
    expect(Command.safeParse({ type: 'member.muteAll', except: 'm'.repeat(64) }).success).toBe(true);
    expect(Command.safeParse({ ...round, order: Array.from({ length: 64 }, (_, i) => `m${i}`) }).success).toBe(true);
    expect(Command.safeParse({ ...round, order: ['m'.repeat(64)] }).success).toBe(true);
    expect(Command.safeParse({ ...round, turnSeconds: TURN_SECONDS_MIN }).success).toBe(true);
    expect(Command.safeParse({ ...round, turnSeconds: TURN_SECONDS_MAX }).success).toBe(true);
  });

  it('requires round.start to say its order, limit and time-out, even when null', () => {
    for (const key of ['order', 'turnSeconds', 'onTimeout']) {
      const round: Record<string, unknown> = { type: 'round.start', order: null, turnSeconds: null, onTimeout: 'warn' };
      const { [key]: _dropped, ...rest } = round;
      expect(Command.safeParse(rest).success, key).toBe(false);
    }
  });

  it('normalises agreement.set text like AgreementText', () => {
    expect(Command.parse({ type: 'agreement.set', text: '  Be kind.\r\n\r\nListen.  ' })).toEqual({ type: 'agreement.set', text: 'Be kind.\n\nListen.' });
  });
});

describe('AgreementText', () => {
  it('keeps a plain text, paragraphs included', () => {
    expect(AgreementText.parse('One.\n\nTwo.')).toBe('One.\n\nTwo.');
  });

  it('normalises to NFC', () => {
    expect(AgreementText.parse('Zoe\u0301')).toBe('Zo\u00e9');
  });

  it('turns CRLF and lone CR into LF', () => {
    expect(AgreementText.parse('a\r\nb\rc\nd')).toBe('a\nb\nc\nd');
  });

  it('trims, keeping inner whitespace', () => {
    expect(AgreementText.parse(' \n\t Be  kind. \n ')).toBe('Be  kind.');
  });

  it.each(['', '   ', '\r\n\r\n', '\t'])('rejects %j as empty', (raw) => {
    const parsed = AgreementText.safeParse(raw);
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(summariseZodError(parsed.error)).toBe('(payload): must not be empty');
  });

  it(`accepts ${AGREEMENT_MAX} characters and rejects more`, () => {
    expect(AGREEMENT_MAX).toBe(4000);
    expect(AgreementText.parse('x'.repeat(AGREEMENT_MAX))).toHaveLength(AGREEMENT_MAX);
    const parsed = AgreementText.safeParse('x'.repeat(AGREEMENT_MAX + 1));
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(summariseZodError(parsed.error)).toBe(`(payload): must be at most ${AGREEMENT_MAX} characters`);
  });

  it('applies the limit to the text as sent, before trimming', () => {
    expect(AgreementText.safeParse(`${'x'.repeat(AGREEMENT_MAX - 10)}${' '.repeat(20)}`).success).toBe(false);
  });

  it('rejects non-strings', () => {
    for (const bad of [42, null, undefined, ['text'], { text: 'x' }]) expect(AgreementText.safeParse(bad).success).toBe(false);
  });

  it('accepts the default agreement unchanged', () => {
    expect(DEFAULT_AGREEMENT.length).toBeLessThanOrEqual(AGREEMENT_MAX);
    expect(AgreementText.parse(DEFAULT_AGREEMENT)).toBe(DEFAULT_AGREEMENT);
  });
});

describe('Role', () => {
  it('has the facilitator, cofacilitators and members; the first two facilitate', () => {
    expect(Role.options).toEqual(['facilitator', 'cofacilitator', 'member']);
    expect(Role.options.filter(isFacilitatorRole)).toEqual(['facilitator', 'cofacilitator']);
  });
});

const frame = {
  roomId,
  title: 'Tuesday group',
  session: { startsAt: 1_000, endsAt: 5_401_000, warnMinutes: 5 },
  agreement: { text: 'Be kind.', version: '0123456789abcdef', updatedAt: 1_000 },
  locked: false,
};
const mic = { id: 'p1', kind: 'audio', source: 'mic', paused: false };
const notHeld = { mic: null, camera: null };
const silent = { mic: false, camera: false, screen: false };
const noShare = { may: false, asking: false };
const handsFloor = { mode: 'hands', holder: 'a', hands: ['b'], round: null, turn: 3, turnStartedAt: 2_000, turnEndsAt: null, turnPausedMs: null };
const views = {
  waiting: {
    ...frame,
    self: { id: 'w', displayName: 'Wanda', role: 'member', stage: 'waiting', inviteId: 'inv-1', mustAcknowledge: false, media: false, held: notHeld, asked: [], share: noShare, checkedOut: false },
  },
  member: {
    ...frame,
    self: { id: 'a', displayName: 'Ada', role: 'member', stage: 'admitted', inviteId: 'inv-1', mustAcknowledge: false, media: true, held: { mic: null, camera: 'facilitator' }, asked: ['camera'], share: { may: true, asking: false }, checkedOut: true },
    members: [
      { id: 'f', displayName: 'Fran', role: 'facilitator', connection: 'online', producers: [mic], sending: { mic: true, camera: false, screen: false } },
      { id: 'a', displayName: 'Ada', role: 'member', connection: 'online', producers: [], sending: silent },
      { id: 'b', displayName: 'Bo', role: 'member', connection: 'reconnecting', producers: [], sending: silent },
    ],
    floor: handsFloor,
    share: { maxShares: 1, allowWholeScreen: false },
    checkout: { id: 'co-1', startedAt: 4_000, done: 1, of: 2 },
    aside: null,
  },
  facilitator: {
    ...frame,
    self: { id: 'f', displayName: 'Fran', role: 'facilitator', stage: 'admitted', inviteId: null, mustAcknowledge: false, media: true, held: notHeld, asked: [], share: { may: true, asking: false }, checkedOut: false },
    members: [{ id: 'f', displayName: 'Fran', role: 'facilitator', connection: 'online', producers: [mic], sending: { mic: true, camera: false, screen: false } }],
    floor: {
      mode: 'round',
      holder: 'f',
      hands: [],
      round: { order: ['a', 'f'], position: 1, turnSeconds: 60, onTimeout: 'pass' },
      turn: 7,
      turnStartedAt: 3_000,
      turnEndsAt: 63_000,
      turnPausedMs: null,
    },
    facilitation: {
      autoAdmit: false,
      everyone: [
        { id: 'f', displayName: 'Fran', role: 'facilitator', connection: 'online', producers: [mic], sending: { mic: true, camera: false, screen: false }, stage: 'admitted', acknowledgedVersion: null, enteredAt: 1, inviteId: null, heldOff: [], asked: [], share: { granted: true, asking: false }, owner: true },
        { id: 'w', displayName: 'Wanda', role: 'member', connection: 'online', producers: [], sending: silent, stage: 'waiting', acknowledgedVersion: '0123456789abcdef', enteredAt: 2, inviteId: 'inv-1', heldOff: ['mic'], asked: ['mic'], share: { granted: false, asking: true }, owner: false },
      ],
      acknowledgements: [{ memberId: 'w', displayName: 'Wanda', version: '0123456789abcdef', at: 3 }],
      checkedOut: [],
    },
    share: { maxShares: 2, allowWholeScreen: true },
    checkout: null,
    aside: { facilitatorId: 'f', memberId: 'a', startedAt: 9_000 },
  },
};

describe('RoomView', () => {
  // The projection's real output is checked against RoomView in apps/signal/src/room/projection.test.ts.
  it.each(Object.entries(views))('accepts a %s view unchanged', (_label, view) => {
    expect(RoomView.parse(view)).toEqual(view);
  });

  it('rejects a view with an unknown stage or role, or a malformed member', () => {
    const { member } = views;
    expect(RoomView.safeParse({ ...member, self: { ...member.self, stage: 'removed' } }).success).toBe(false);
    expect(RoomView.safeParse({ ...member, self: { ...member.self, role: 'admin' } }).success).toBe(false);
    expect(RoomView.safeParse({ ...member, members: [{ id: 'x', displayName: 'X', role: 'member' }] }).success).toBe(false);
    expect(RoomView.safeParse({ ...member, members: [{ id: 'x', displayName: 'X', role: 'member', producers: [{ ...mic, kind: 'data' }] }] }).success).toBe(false);
  });

  it('rejects a malformed floor, hold or ask', () => {
    const { member } = views;
    expect(RoomView.safeParse({ ...member, floor: { ...handsFloor, mode: 'chaos' } }).success).toBe(false);
    expect(RoomView.safeParse({ ...member, floor: { ...handsFloor, turn: -1 } }).success).toBe(false);
    expect(RoomView.safeParse({ ...member, floor: { ...handsFloor, hands: [''] } }).success).toBe(false);
    expect(RoomView.safeParse({ ...member, floor: { ...handsFloor, round: { order: ['a'], position: 0, turnSeconds: 5, onTimeout: 'pass' } } }).success).toBe(false);
    expect(RoomView.safeParse({ ...member, self: { ...member.self, held: { mic: 'moderator', camera: null } } }).success).toBe(false);
    expect(RoomView.safeParse({ ...member, self: { ...member.self, held: { mic: null } } }).success).toBe(false);
    expect(RoomView.safeParse({ ...member, self: { ...member.self, asked: ['screen'] } }).success).toBe(false);
    expect(RoomView.safeParse({ ...member, members: [{ ...member.members[0], sending: { mic: 'yes', camera: false } }] }).success).toBe(false);
    expect(RoomView.safeParse({ ...member, members: [{ ...member.members[0], sending: undefined }] }).success).toBe(false);
  });

  it('the open floor a room starts with is a valid floor', () => {
    expect(Floor.parse(OPEN_FLOOR)).toEqual(OPEN_FLOOR);
    expect(OPEN_FLOOR).toEqual({ mode: 'open', holder: null, hands: [], round: null, turn: 0, turnStartedAt: null, turnEndsAt: null, turnPausedMs: null });
  });

  it('requires the frame and self', () => {
    for (const key of ['roomId', 'title', 'session', 'agreement', 'locked', 'self']) {
      const { [key]: _dropped, ...rest } = views.waiting as Record<string, unknown>;
      expect(RoomView.safeParse(rest).success, key).toBe(false);
    }
  });
});

describe('DisplayName', () => {
  const parse = (raw: unknown) => DisplayName.safeParse(raw);

  it('keeps a plain name', () => {
    expect(DisplayName.parse('Ada')).toBe('Ada');
  });

  it('normalises to NFC', () => {
    const decomposed = 'Zoe\u0301'; // e + combining acute accent
    expect(decomposed).toHaveLength(4);
    expect(DisplayName.parse(decomposed)).toBe('Zo\u00e9');
    expect(DisplayName.parse(decomposed)).toHaveLength(3);
  });

  it('strips control and format characters', () => {
    expect(DisplayName.parse('A\u0000d\u0007a')).toBe('Ada');
    expect(DisplayName.parse('A\u200bd\u200ea\u202e')).toBe('Ada'); // zero-width space, LRM, RLO
    expect(DisplayName.parse('\ufeffAda\u2066')).toBe('Ada'); // BOM, isolate
    expect(DisplayName.parse('Ada\u007f')).toBe('Ada'); // DEL
  });

  it('collapses whitespace and trims', () => {
    expect(DisplayName.parse('  Ada \u00a0  Lovelace  ')).toBe('Ada Lovelace');
    expect(DisplayName.parse('Ada\u3000\u2003Byron')).toBe('Ada Byron');
  });

  it('leaves no tab or newline in the name', () => {
    // \t, \r and \n are both \p{Cc} and whitespace: they become a space.
    expect(DisplayName.parse('Ada\tLovelace')).toBe('Ada Lovelace');
    expect(DisplayName.parse('Ada\r\nLovelace')).toBe('Ada Lovelace');
  });

  it.each(['', '   ', '\u200b\u200b', '\u0000\t\n', ' \u00a0 '])('rejects %j as empty after trimming', (raw) => {
    const parsed = parse(raw);
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(summariseZodError(parsed.error)).toBe('(payload): must not be empty');
  });

  it(`accepts ${DISPLAY_NAME_MAX} characters and rejects more`, () => {
    expect(DISPLAY_NAME_MAX).toBe(40);
    expect(DisplayName.parse('x'.repeat(40))).toHaveLength(40);
    const parsed = parse('x'.repeat(41));
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(summariseZodError(parsed.error)).toBe('(payload): must be at most 40 characters');
  });

  it('counts the length after normalising', () => {
    expect(DisplayName.parse(`  ${'x'.repeat(40)}  \u200b`)).toHaveLength(40);
    expect(parse('x '.repeat(21)).success).toBe(false); // 41 characters after trimming
  });

  it('rejects non-strings', () => {
    expect(parse(42).success).toBe(false);
    expect(parse(null).success).toBe(false);
    expect(parse(['Ada']).success).toBe(false);
  });
});

describe('RoomId', () => {
  it.each(['abcdefghij', 'A1_-A1_-A1', 'x'.repeat(64), 'Zk3_9-aQ0pLmN8rT2vWx'])('accepts %s', (id) => {
    expect(RoomId.safeParse(id).success).toBe(true);
  });

  it.each([
    ['too short', 'abcdefghi'],
    ['too long', 'x'.repeat(65)],
    ['a space', 'abcde fghij'],
    ['a slash', 'abcde/fghij'],
    ['a dot', 'abcde.fghij'],
    ['non-ASCII', 'abcdéfghijk'],
    ['a newline at the end', 'abcdefghij\n'],
    ['empty', ''],
  ])('rejects %s', (_label, id) => {
    expect(RoomId.safeParse(id).success).toBe(false);
  });

  it('rejects non-strings', () => {
    expect(RoomId.safeParse(1234567890).success).toBe(false);
  });

  it('matches what room:create returns (12 random bytes in base64url)', () => {
    const response = { roomId: 'AAAAAAAAAAAAAAAA', facilitatorToken: 't'.repeat(100), inviteToken: 'i'.repeat(100), inviteId: 'inv-1', ownerKey: 'o'.repeat(100) };
    expect(requests['room:create'].response.safeParse(response).success).toBe(true);
    expect(requests['room:create'].response.safeParse({ ...response, roomId: 'short' }).success).toBe(false);
  });
});

describe('summariseZodError', () => {
  it('gives one line per issue, path first, joined by "; "', () => {
    const parsed = requests['room:enter'].request.safeParse({ roomId: 'short', token, displayName: 3 });
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    const summary = summariseZodError(parsed.error);
    const parts = summary.split('; ');
    expect(parts).toHaveLength(2);
    expect(parts[0]).toBe('roomId: must be 10-64 letters, digits, "-" or "_"');
    expect(parts[1]).toMatch(/^displayName: /);
  });

  it('names the whole payload when the path is empty', () => {
    const parsed = requests['room:create'].request.safeParse('nope');
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(summariseZodError(parsed.error)).toMatch(/^\(payload\): /);
  });

  it('joins nested paths with dots', () => {
    const parsed = requests['transport:connect'].request.safeParse({
      transportId: 't',
      dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 5 }] },
    });
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(summariseZodError(parsed.error)).toMatch(/^dtlsParameters\.fingerprints\.0\.value: /);
  });

  it('keeps at most five issues', () => {
    const schema5 = z.object({ a: z.string(), b: z.string(), c: z.string(), d: z.string(), e: z.string(), f: z.string(), g: z.string() });
    const parsed = schema5.safeParse({});
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(parsed.error.issues).toHaveLength(7);
    const parts = summariseZodError(parsed.error).split('; ');
    expect(parts.map((p) => p.split(':')[0])).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('does not echo the rejected input', () => {
    const secret = 'hunter2-very-secret';
    const parsed = requests['room:enter'].request.safeParse({ roomId: secret, token: secret, displayName: 'Ada', extra: secret });
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(summariseZodError(parsed.error)).not.toContain(secret);
  });
});

describe('resultSchema', () => {
  const schema = resultSchema(z.object({ roomId: RoomId }));

  it('accepts a success with valid data', () => {
    expect(schema.parse({ ok: true, data: { roomId } })).toEqual({ ok: true, data: { roomId } });
  });

  it('rejects a success with invalid data', () => {
    expect(schema.safeParse({ ok: true, data: { roomId: 'bad' } }).success).toBe(false);
    expect(schema.safeParse({ ok: true }).success).toBe(false);
  });

  it.each(ErrorCode.options)('accepts a failure with code %s', (code) => {
    expect(schema.safeParse({ ok: false, error: { code, message: 'm' } }).success).toBe(true);
  });

  it('rejects a failure with an unknown code or no message', () => {
    expect(schema.safeParse({ ok: false, error: { code: 'TEAPOT', message: 'm' } }).success).toBe(false);
    expect(schema.safeParse({ ok: false, error: { code: 'NOT_FOUND' } }).success).toBe(false);
    expect(schema.safeParse({ ok: false }).success).toBe(false);
  });

  it('rejects anything without a boolean ok', () => {
    expect(schema.safeParse({ data: { roomId } }).success).toBe(false);
    expect(schema.safeParse({ ok: 'true', data: { roomId } }).success).toBe(false);
    expect(schema.safeParse(null).success).toBe(false);
  });

  it('accepts what ProtocolFailure serialises to', () => {
    const failure = new ProtocolFailure('ROOM_FULL', 'This room is full');
    expect(failure).toBeInstanceOf(Error);
    expect(failure.name).toBe('ProtocolFailure');
    const wire = JSON.parse(JSON.stringify({ ok: false, error: failure })) as unknown;
    expect(schema.parse(wire)).toEqual({ ok: false, error: { code: 'ROOM_FULL', message: 'This room is full' } });
  });
});

describe('event schemas', () => {
  it('lists every event', () => {
    expect([...eventNames].sort()).toEqual(Object.keys(events).sort());
    expect([...eventNames].sort()).toEqual([
      'checkout:answer',
      'consumer:closed',
      'consumer:new',
      'e2ee:relay',
      'media:reset',
      'room:ended',
      'room:view',
      'server:draining',
      'signal:private',
      'talk:time',
    ]);
  });

  it('validates talk:time', () => {
    const entry = { memberId: 'a', speakingMs: 12_000, lastSpokeAt: 5_000 };
    expect(events['talk:time'].safeParse({ at: 6_000, members: [entry, { memberId: 'b', speakingMs: 0, lastSpokeAt: null }] }).success).toBe(true);
    expect(events['talk:time'].safeParse({ at: 6_000, members: [] }).success).toBe(true);
    expect(events['talk:time'].safeParse({ at: 6_000, members: [{ ...entry, speakingMs: -1 }] }).success).toBe(false);
    expect(events['talk:time'].safeParse({ at: 6_000, members: [{ ...entry, speakingMs: 1.5 }] }).success).toBe(false);
    expect(events['talk:time'].safeParse({ at: 6_000, members: [{ ...entry, lastSpokeAt: undefined }] }).success).toBe(false);
    expect(events['talk:time'].safeParse({ members: [entry] }).success).toBe(false);
  });

  it('validates signal:private', () => {
    const signal = { id: 's1', from: 'a', displayName: 'Ada', kind: 'message', sealed: 'c2VhbGVk', at: 1 };
    expect(events['signal:private'].safeParse(signal).success).toBe(true);
    expect(events['signal:private'].safeParse({ ...signal, kind: 'need-moment', sealed: null }).success).toBe(true);
    expect(events['signal:private'].safeParse({ ...signal, kind: 'shout' }).success).toBe(false);
    expect(events['signal:private'].safeParse({ ...signal, sealed: undefined }).success).toBe(false);
    expect(events['signal:private'].safeParse({ ...signal, from: '' }).success).toBe(false);
  });

  it('validates room:view and rejects a malformed view', () => {
    expect(events['room:view'].safeParse({ view: views.member, serverNow: 1_700_000_000_000 }).success).toBe(true);
    expect(events['room:view'].safeParse({ view: views.member }).success).toBe(false);
    expect(events['room:view'].safeParse({ view: { ...views.member, self: undefined }, serverNow: 1_700_000_000_000 }).success).toBe(false);
    expect(events['room:view'].safeParse({}).success).toBe(false);
  });

  it('validates consumer:new and consumer:closed', () => {
    const consumer = { consumerId: 'c1', producerId: 'p1', peerId: 'a', kind: 'audio', source: 'mic', rtpParameters, producerPaused: false };
    expect(events['consumer:new'].safeParse(consumer).success).toBe(true);
    expect(events['consumer:new'].safeParse({ ...consumer, kind: 'video', source: 'screen' }).success).toBe(true);
    expect(events['consumer:new'].safeParse({ ...consumer, source: 'speaker' }).success).toBe(false);
    expect(events['consumer:new'].safeParse({ ...consumer, producerPaused: undefined }).success).toBe(false);
    expect(events['consumer:closed'].safeParse({ consumerId: 'c1' }).success).toBe(true);
    expect(events['consumer:closed'].safeParse({}).success).toBe(false);
  });

  it('only allows the known room:ended reasons', () => {
    for (const reason of ['session-ended', 'removed', 'replaced']) {
      expect(events['room:ended'].safeParse({ reason }).success).toBe(true);
    }
    // A server going away ends nothing: that is server:draining, not an ending.
    for (const reason of ['kicked', 'server-shutdown']) expect(events['room:ended'].safeParse({ reason }).success).toBe(false);
  });

  it('validates the seat and media recovery events', () => {
    for (const name of ['server:draining', 'media:reset'] as const) {
      expect(events[name].safeParse({}).success).toBe(true);
      expect(events[name].safeParse(null).success).toBe(false);
    }
  });
});

describe('TurnSeconds', () => {
  it(`accepts whole seconds from ${TURN_SECONDS_MIN} to ${TURN_SECONDS_MAX}`, () => {
    expect([TURN_SECONDS_MIN, TURN_SECONDS_MAX]).toEqual([15, 1800]);
    for (const ok of [TURN_SECONDS_MIN, 60, TURN_SECONDS_MAX]) expect(TurnSeconds.safeParse(ok).success, String(ok)).toBe(true);
  });

  it.each([TURN_SECONDS_MIN - 1, TURN_SECONDS_MAX + 1, 0, -15, 30.5, Number.NaN, Number.POSITIVE_INFINITY, '60', null])('rejects %j', (bad) => {
    expect(TurnSeconds.safeParse(bad).success).toBe(false);
  });
});

describe('PrivateMessageText', () => {
  it('keeps a plain message', () => {
    expect(PrivateMessageText.parse('I need a moment.')).toBe('I need a moment.');
  });

  it('normalises to NFC, drops invisible characters, collapses whitespace and trims', () => {
    expect(PrivateMessageText.parse('Zoe\u0301')).toBe('Zo\u00e9');
    expect(PrivateMessageText.parse('A\u200bd\u202ea\u0000')).toBe('Ada');
    expect(PrivateMessageText.parse('  one\n\ntwo\tthree\u00a0 four  ')).toBe('one two three four');
  });

  it.each(['', '   ', '\n\t', '\u200b\ufeff'])('rejects %j as empty', (raw) => {
    const parsed = PrivateMessageText.safeParse(raw);
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(summariseZodError(parsed.error)).toBe('(payload): must not be empty');
  });

  it(`accepts ${PRIVATE_MESSAGE_MAX} characters after normalising and rejects more`, () => {
    expect(PRIVATE_MESSAGE_MAX).toBe(280);
    expect(PrivateMessageText.parse('x'.repeat(PRIVATE_MESSAGE_MAX))).toHaveLength(PRIVATE_MESSAGE_MAX);
    expect(PrivateMessageText.parse(`  ${'x'.repeat(PRIVATE_MESSAGE_MAX)}  \u200b`)).toHaveLength(PRIVATE_MESSAGE_MAX);
    const parsed = PrivateMessageText.safeParse('x'.repeat(PRIVATE_MESSAGE_MAX + 1));
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(summariseZodError(parsed.error)).toBe(`(payload): must be at most ${PRIVATE_MESSAGE_MAX} characters`);
    expect(PrivateMessageText.safeParse('x '.repeat(141)).success).toBe(false); // 281 after trimming
  });

  it('refuses a huge text before normalising it', () => {
    const parsed = PrivateMessageText.safeParse(' '.repeat(2001));
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(summariseZodError(parsed.error)).toBe('(payload): is too long');
    expect(PrivateMessageText.parse(`${' '.repeat(1990)}ok`)).toBe('ok');
  });

  it('rejects non-strings', () => {
    for (const bad of [42, null, undefined, ['text'], { text: 'x' }]) expect(PrivateMessageText.safeParse(bad).success).toBe(false);
  });
});

describe('PrivateSignalRequest', () => {
  it('accepts the three signals without text and a message only as sealed boxes', () => {
    for (const kind of ['need-moment', 'stepping-away', 'back'] as const) expect(PrivateSignalRequest.parse({ kind })).toEqual({ kind });
    expect(PrivateSignalRequest.safeParse({ kind: 'message', text: 'hi' }).success).toBe(false);
    expect(PrivateSignalRequest.parse({ kind: 'message', sealed: [{ to: 'f', data: 'abc' }] })).toEqual({ kind: 'message', sealed: [{ to: 'f', data: 'abc' }] });
  });

  it('rejects text on a signal, a message without text, and unknown kinds', () => {
    expect(PrivateSignalRequest.safeParse({ kind: 'back', text: 'hi' }).success).toBe(false);
    expect(PrivateSignalRequest.safeParse({ kind: 'message' }).success).toBe(false);
    expect(PrivateSignalRequest.safeParse({ kind: 'message', text: null }).success).toBe(false);
    expect(PrivateSignalRequest.safeParse({ kind: 'help' }).success).toBe(false);
    expect(PrivateSignalRequest.safeParse({}).success).toBe(false);
  });
});
