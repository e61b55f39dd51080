import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { turnCredentials } from './turn-credentials.js';

const config = {
  TURN_URLS: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:443?transport=tcp'],
  TURN_SECRET: 'a secret shared with coturn',
  TURN_CREDENTIAL_SECONDS: 3600,
};

describe('turnCredentials', () => {
  it('is none without TURN configured', () => {
    expect(turnCredentials({ ...config, TURN_URLS: [] })).toEqual([]);
    expect(turnCredentials({ ...config, TURN_SECRET: undefined })).toEqual([]);
  });

  it("makes coturn's use-auth-secret pair: the expiry as the username, its HMAC-SHA1 under the secret as the password", () => {
    const now = Date.UTC(2026, 10, 30, 12, 0, 0);
    const [server] = turnCredentials(config, now);
    expect(server!.urls).toEqual(config.TURN_URLS);
    const [expiry, label] = server!.username.split(':');
    expect(Number(expiry)).toBe(now / 1000 + 3600);
    // Nothing about the person in the username (coturn logs it).
    expect(label).toBe('group-room');
    expect(server!.credential).toBe(createHmac('sha1', config.TURN_SECRET).update(server!.username).digest('base64'));
    // Another secret gives another password: the pair proves knowledge of the secret.
    expect(turnCredentials({ ...config, TURN_SECRET: 'another secret, not coturn' }, now)[0]!.credential).not.toBe(server!.credential);
  });

  it('expires TURN_CREDENTIAL_SECONDS after it was made', () => {
    const [early] = turnCredentials(config, 1_000_000_000_000);
    const [later] = turnCredentials({ ...config, TURN_CREDENTIAL_SECONDS: 60 }, 1_000_000_000_000);
    expect(Number(early!.username.split(':')[0])).toBe(1_000_000_000 + 3600);
    expect(Number(later!.username.split(':')[0])).toBe(1_000_000_000 + 60);
  });
});
