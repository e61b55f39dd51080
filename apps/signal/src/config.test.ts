import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('has defaults for everything', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      HOST: '0.0.0.0',
      MEDIA_LISTEN_IP: '0.0.0.0',
      MEDIA_PORT: 40000,
      MEDIASOUP_WORKERS: Math.min(os.availableParallelism(), 64),
      MEDIASOUP_LOG_LEVEL: 'warn',
      REDIS_KEY_PREFIX: 'group-room:',
      ROOM_CAPACITY: 16,
      ROOM_GRACE_SECONDS: 3600,
      ACK_RETENTION_SECONDS: 7 * 24 * 3600,
      SERVE_WEB: true,
      CORS_ORIGINS: [],
      LOG_LEVEL: 'info',
    });
    expect(config.MEDIA_ANNOUNCED_ADDRESS).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.TOKEN_SECRET).toBeUndefined();
    expect(typeof config.WEB_DIR).toBe('string');
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '', REDIS_URL: '', SERVE_WEB: '' })).toMatchObject({ PORT: 3000, SERVE_WEB: true });
    expect(loadConfig({ REDIS_URL: '' }).REDIS_URL).toBeUndefined();
  });

  it('ignores variables it does not know', () => {
    expect(() => loadConfig({ PATH: '/bin', SOMETHING_ELSE: 'x' })).not.toThrow();
  });

  it('parses and coerces the values it is given', () => {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      MEDIA_LISTEN_IP: '::1',
      MEDIA_ANNOUNCED_ADDRESS: 'media.example.org',
      MEDIA_PORT: '50000',
      MEDIASOUP_WORKERS: '2',
      REDIS_URL: 'rediss://user:pw@redis.example.org:6380/1',
      REDIS_KEY_PREFIX: 'test:',
      ROOM_CAPACITY: '2',
      ROOM_GRACE_SECONDS: '60',
      ACK_RETENTION_SECONDS: '86400',
      TOKEN_SECRET: 's'.repeat(32),
      SERVE_WEB: '0',
      CORS_ORIGINS: ' https://a.example , ,https://b.example',
      LOG_LEVEL: 'warn',
    });
    expect(config).toMatchObject({
      PORT: 0,
      HOST: '127.0.0.1',
      MEDIA_LISTEN_IP: '::1',
      MEDIA_ANNOUNCED_ADDRESS: 'media.example.org',
      MEDIA_PORT: 50000,
      MEDIASOUP_WORKERS: 2,
      REDIS_URL: 'rediss://user:pw@redis.example.org:6380/1',
      REDIS_KEY_PREFIX: 'test:',
      ROOM_CAPACITY: 2,
      ROOM_GRACE_SECONDS: 60,
      ACK_RETENTION_SECONDS: 86400,
      TOKEN_SECRET: 's'.repeat(32),
      SERVE_WEB: false,
      CORS_ORIGINS: ['https://a.example', 'https://b.example'],
      LOG_LEVEL: 'warn',
    });
  });

  it.each([
    ['true', true],
    ['1', true],
    ['false', false],
    ['0', false],
  ])('reads SERVE_WEB=%s as %s', (raw, expected) => {
    expect(loadConfig({ SERVE_WEB: raw }).SERVE_WEB).toBe(expected);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['MEDIA_PORT', 'x'],
    ['REDIS_URL', 'nonsense'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['ROOM_CAPACITY', '1'],
    ['ROOM_CAPACITY', '51'],
    ['ROOM_GRACE_SECONDS', '59'],
    ['ROOM_GRACE_SECONDS', String(7 * 24 * 3600 + 1)],
    ['ACK_RETENTION_SECONDS', '59'],
    ['ACK_RETENTION_SECONDS', String(90 * 24 * 3600 + 1)],
    ['TOKEN_SECRET', 's'.repeat(31)],
    ['MEDIASOUP_WORKERS', '0'],
    ['MEDIA_LISTEN_IP', 'localhost'],
    ['SERVE_WEB', 'yes'],
    ['LOG_LEVEL', 'verbose'],
    ['MEDIASOUP_LOG_LEVEL', 'info'],
    ['REDIS_KEY_PREFIX', 'p'.repeat(65)],
  ])('rejects %s=%s with a ConfigError naming the variable', (name, value) => {
    const error = configError({ [name]: value });
    expect(error.message).toMatch(/^Invalid configuration:\n/);
    expect(error.message).toMatch(new RegExp(`^  ${name}: `, 'm'));
  });

  it('requires TOKEN_SECRET with Redis, so links and seats survive a restart', () => {
    const error = configError({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(error.message).toMatch(/^ {2}TOKEN_SECRET: is required when REDIS_URL is set/m);
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', TOKEN_SECRET: 's'.repeat(32) }).TOKEN_SECRET).toBe('s'.repeat(32));
    expect(loadConfig({}).TOKEN_SECRET).toBeUndefined();
  });

  it('trusts X-Forwarded-* from loopback by default; TRUST_PROXY takes addresses, CIDRs and proxy-addr\'s names, nothing else', () => {
    expect(loadConfig({}).TRUST_PROXY).toEqual(['loopback']);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.5, 2001:db8::/64,uniquelocal' }).TRUST_PROXY).toEqual(['10.0.0.5', '2001:db8::/64', 'uniquelocal']);
    for (const bad of ['caddy.example.org', '10.0.0.0/33', 'everyone']) expect(configError({ TRUST_PROXY: bad }).message).toMatch(/^ {2}TRUST_PROXY: must be addresses/m);
  });

  it('limits wrong access keys, handshakes and idle sockets by default', () => {
    expect(loadConfig({})).toMatchObject({ ACCESS_KEY_GUESSES_PER_HOUR: 300, HANDSHAKE_BURST: 30, HANDSHAKES_PER_SECOND: 10, IDLE_SOCKET_SECONDS: 60 });
    expect(configError({ IDLE_SOCKET_SECONDS: '0' }).message).toMatch(/IDLE_SOCKET_SECONDS/);
  });

  it('keeps a dropped seat 120 s by default, 5 s to an hour when set', () => {
    expect(loadConfig({}).SEAT_GRACE_SECONDS).toBe(120);
    expect(loadConfig({ SEAT_GRACE_SECONDS: '5' }).SEAT_GRACE_SECONDS).toBe(5);
    expect(configError({ SEAT_GRACE_SECONDS: '4' }).message).toMatch(/SEAT_GRACE_SECONDS/);
    expect(configError({ SEAT_GRACE_SECONDS: '3601' }).message).toMatch(/SEAT_GRACE_SECONDS/);
  });

  it('room creation: open by default on one\'s own machine, by key when a key is set, a choice in production', () => {
    expect(loadConfig({}).ROOM_CREATION).toBe('open');
    expect(loadConfig({ ROOM_CREATION_KEY: 'k'.repeat(12) }).ROOM_CREATION).toBe('key');
    expect(configError({ NODE_ENV: 'production' }).message).toMatch(/^ {2}ROOM_CREATION: must be set in production/m);
    expect(loadConfig({ NODE_ENV: 'production', ROOM_CREATION: 'open' }).ROOM_CREATION).toBe('open');
    expect(loadConfig({ NODE_ENV: 'production', ROOM_CREATION_KEY: 'k'.repeat(12) }).ROOM_CREATION).toBe('key');
    expect(configError({ ROOM_CREATION: 'key' }).message).toMatch(/ROOM_CREATION_KEY: is required/);
    expect(configError({ ROOM_CREATION_KEY: 'short' }).message).toMatch(/ROOM_CREATION_KEY/);
    expect(loadConfig({}).ROOM_HORIZON_DAYS).toBe(30);
  });

  it('lets a connection make 120 requests a second by default, never fewer than a full room\'s media set-up needs', () => {
    expect(loadConfig({}).SOCKET_REQUESTS_PER_SECOND).toBe(120);
    expect(loadConfig({ SOCKET_REQUESTS_PER_SECOND: '100000' }).SOCKET_REQUESTS_PER_SECOND).toBe(100_000);
    // 2 × capacity + 16: 48 for 16 people, 20 for 2.
    expect(loadConfig({ SOCKET_REQUESTS_PER_SECOND: '48' }).SOCKET_REQUESTS_PER_SECOND).toBe(48);
    expect(configError({ SOCKET_REQUESTS_PER_SECOND: '47' }).message).toMatch(/^ {2}SOCKET_REQUESTS_PER_SECOND: must be at least 48 with ROOM_CAPACITY=16/m);
    expect(loadConfig({ SOCKET_REQUESTS_PER_SECOND: '20', ROOM_CAPACITY: '2' }).SOCKET_REQUESTS_PER_SECOND).toBe(20);
    // The default fits the largest room.
    expect(loadConfig({ ROOM_CAPACITY: '50' }).SOCKET_REQUESTS_PER_SECOND).toBe(120);
    expect(configError({ SOCKET_REQUESTS_PER_SECOND: '0' }).message).toMatch(/SOCKET_REQUESTS_PER_SECOND/);
    expect(configError({ SOCKET_REQUESTS_PER_SECOND: 'fast' }).message).toMatch(/SOCKET_REQUESTS_PER_SECOND/);
  });

  it('taps media into a file only outside production (tests only)', () => {
    expect(loadConfig({}).MEDIA_TAP_FILE).toBeUndefined();
    expect(loadConfig({ MEDIA_TAP_FILE: '/tmp/tap.jsonl' }).MEDIA_TAP_FILE).toBe('/tmp/tap.jsonl');
    expect(loadConfig({ MEDIA_TAP_FILE: '/tmp/tap.jsonl', NODE_ENV: 'test' }).MEDIA_TAP_FILE).toBe('/tmp/tap.jsonl');
    const refused = configError({ MEDIA_TAP_FILE: '/tmp/tap.jsonl', NODE_ENV: 'production', ROOM_CREATION: 'open' });
    expect(refused.message).toMatch(/^ {2}MEDIA_TAP_FILE: is for tests only and cannot be used in production$/m);
    expect(refused.message.split('\n')).toHaveLength(2);
    expect(loadConfig({ NODE_ENV: 'production', ROOM_CREATION: 'open' }).MEDIA_TAP_FILE).toBeUndefined();
  });

  it('reports every bad variable, one line each', () => {
    const error = configError({ PORT: 'abc', REDIS_URL: 'nonsense', ROOM_CAPACITY: '1', HOST: '127.0.0.1' });
    const lines = error.message.split('\n').slice(1);
    expect(lines).toHaveLength(3);
    expect(lines.map((line) => line.trim().split(':')[0]).sort()).toEqual(['PORT', 'REDIS_URL', 'ROOM_CAPACITY']);
    expect(error.message).not.toContain('HOST');
  });
});
