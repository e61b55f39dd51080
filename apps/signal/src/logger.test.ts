import { describe, expect, it } from 'vitest';
import { derivedKey } from './auth/keys.js';
import { createLogger, FIELD_MAX, REDACTED, REDACTED_KEYS, roomTag, setRoomTagKey, type LogFields, type LogLevel } from './logger.js';

/** A logger at `level` whose lines are kept, raw. */
function capture(level: LogLevel) {
  const lines: string[] = [];
  const log = createLogger(level, (line) => lines.push(line));
  const parsed = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { log, lines, parsed };
}

describe('createLogger', () => {
  it('writes one JSON line per event, with the level by name, an ISO time (t) and the message', () => {
    const { log, lines, parsed } = capture('debug');
    const before = Date.now();
    log.info('room created', { room: 'abcd1234', people: 3, locked: false });
    log.warn('redis unavailable');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(line.slice(0, -1)).not.toContain('\n');
    }
    const [first, second] = parsed();
    expect(first).toEqual({ level: 'info', t: expect.any(String), msg: 'room created', room: 'abcd1234', people: 3, locked: false });
    expect(second).toEqual({ level: 'warn', t: expect.any(String), msg: 'redis unavailable' });
    const time = Date.parse(first?.['t'] as string);
    expect(first?.['t']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(time).toBeGreaterThanOrEqual(before - 1);
    expect(time).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('carries no process id or host name', () => {
    const { log, parsed } = capture('info');
    log.info('listening');
    expect(Object.keys(parsed()[0] ?? {}).sort()).toEqual(['level', 'msg', 't']);
  });

  it('leaves out fields that are undefined', () => {
    const { log, parsed } = capture('info');
    log.info('resumed', { room: 'abcd1234', role: undefined });
    expect(parsed()[0]).toEqual({ level: 'info', t: expect.any(String), msg: 'resumed', room: 'abcd1234' });
  });

  it.each<[LogLevel, string[]]>([
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['error', ['error']],
  ])('at %s, writes only that level and above', (level, written) => {
    const { log, parsed } = capture(level);
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(parsed().map((l) => l.level)).toEqual(written);
    expect(parsed().map((l) => l.msg)).toEqual(written.map((w) => w[0]));
  });

  describe('redaction', () => {
    const secret = 'Ada Lovelace 10.1.2.3 eyJhbGciOiJIUzI1NiJ9.secret';

    it.each(REDACTED_KEYS)('%s is never written, at the top level', (key) => {
      const { log, lines, parsed } = capture('debug');
      log.info('event', { [key]: secret, room: 'abcd1234' });
      expect(parsed()[0]).toMatchObject({ [key]: REDACTED, room: 'abcd1234', msg: 'event' });
      expect(lines.join('')).not.toContain('Ada');
    });

    it.each(REDACTED_KEYS)('%s is never written, one level down', (key) => {
      const { log, lines, parsed } = capture('debug');
      // Fields are flat by type; a caller who casts past that is still covered one level down.
      const fields = { member: { [key]: secret, id: 'm-1' }, room: 'abcd1234' } as unknown as LogFields;
      log.warn('event', fields);
      expect(parsed()[0]).toMatchObject({ member: { [key]: REDACTED, id: 'm-1' }, room: 'abcd1234' });
      expect(lines.join('')).not.toContain('Ada');
    });

    it('covers names, texts, the agreement, relayed blobs, tokens, credentials, room ids and addresses', () => {
      for (const key of ['displayName', 'name', 'title', 'text', 'agreement', 'sealed', 'data', 'token', 'facilitatorToken', 'inviteToken', 'credential', 'roomId', 'ip', 'address', 'remoteAddress', 'headers', 'addressKey', 'ownerKey']) {
        expect(REDACTED_KEYS).toContain(key);
      }
    });

    it('censors a whole headers object, whatever it holds', () => {
      const { log, lines, parsed } = capture('info');
      const fields = { headers: { 'x-forwarded-for': '203.0.113.9', cookie: 'sid=1' } } as unknown as LogFields;
      log.info('upgrade refused', fields);
      expect(parsed()[0]).toMatchObject({ headers: REDACTED });
      expect(lines.join('')).not.toContain('203.0.113.9');
    });

    it('leaves the fields it does not know alone, and does not touch the caller’s object', () => {
      const { log, parsed } = capture('info');
      const fields: LogFields = { room: 'abcd1234', role: 'member', people: 4, displayName: 'Bea' };
      log.info('entered', fields);
      expect(parsed()[0]).toMatchObject({ room: 'abcd1234', role: 'member', people: 4, displayName: REDACTED });
      expect(fields['displayName']).toBe('Bea');
    });
  });

  describe('string fields', () => {
    it(`are cut to ${FIELD_MAX} characters`, () => {
      const { log, parsed } = capture('info');
      log.error('request failed', { error: 'y'.repeat(10_000) });
      const error = parsed()[0]?.['error'] as string;
      expect(error.length).toBe(FIELD_MAX);
      expect(error.endsWith('…')).toBe(true);
    });

    it('have what they quote elided (an error message quoting input)', () => {
      const { log, lines, parsed } = capture('info');
      log.error('request failed', { error: `Unexpected token 'I', "I relapsed last night" is not valid JSON; \`Bea\`` });
      expect(parsed()[0]?.['error']).toBe(`Unexpected token '…', "…" is not valid JSON; \`…\``);
      expect(lines.join('')).not.toContain('relapsed');
    });

    it('keep short unquoted values as they are', () => {
      const { log, parsed } = capture('info');
      log.info('listening', { url: 'http://localhost:3000', store: 'memory', workers: 2 });
      expect(parsed()[0]).toMatchObject({ url: 'http://localhost:3000', store: 'memory', workers: 2 });
    });
  });
});

describe('roomTag', () => {
  it('is a stable 8-hex-digit digest that does not contain the room id', () => {
    const id = 'qM3v_Zx8c0-AbCdEfGhIjKl';
    expect(roomTag(id)).toMatch(/^[0-9a-f]{8}$/);
    expect(roomTag(id)).toBe(roomTag(id));
    expect(roomTag(id)).not.toContain(id.slice(0, 4));
  });

  it('is keyed: the same tag for the same key (every node with one TOKEN_SECRET), another for another key', () => {
    const id = 'qM3v_Zx8c0-AbCdEfGhIjKl';
    setRoomTagKey(derivedKey('a-secret-that-is-long-enough-for-the-test', 'log-tags'));
    const first = roomTag(id);
    setRoomTagKey(derivedKey('a-secret-that-is-long-enough-for-the-test', 'log-tags'));
    expect(roomTag(id)).toBe(first);
    setRoomTagKey(derivedKey('another-secret-long-enough-for-the-test', 'log-tags'));
    expect(roomTag(id)).not.toBe(first);
  });

  it('tells rooms apart', () => {
    const tags = new Set(Array.from({ length: 1000 }, (_, i) => roomTag(`room-${i}`)));
    expect(tags.size).toBe(1000);
  });
});
