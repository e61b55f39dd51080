import { describe, expect, it } from 'vitest';
import { derivedKey } from './keys.js';
import { LinkTokens } from './link-tokens.js';
import { SignJWT } from 'jose';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';

describe('derivedKey', () => {
  it('gives each purpose its own key, the same for the same secret', () => {
    const keys = (['link-tokens', 'address-digests', 'log-tags'] as const).map((purpose) => derivedKey(SECRET, purpose).toString('hex'));
    expect(new Set(keys).size).toBe(3);
    for (const key of keys) expect(key).toHaveLength(64);
    expect(derivedKey(SECRET, 'link-tokens').toString('hex')).toBe(keys[0]);
    expect(derivedKey(`${SECRET}!`, 'link-tokens').toString('hex')).not.toBe(keys[0]);
  });

  it('without a secret, a random key each time', () => {
    expect(derivedKey(undefined, 'log-tags').equals(derivedKey(undefined, 'log-tags'))).toBe(false);
  });

  it('a link signed with the secret itself, or with another purpose\'s key, is not a link', async () => {
    const tokens = new LinkTokens(SECRET);
    const sign = (key: Uint8Array) =>
      new SignJWT({ room: 'room-A', role: 'facilitator', gen: 0 })
        .setProtectedHeader({ alg: 'HS256' })
        .setAudience('group-room')
        .setExpirationTime(Math.floor(Date.now() / 1000) + 60)
        .sign(key);
    expect(await tokens.verify(await sign(derivedKey(SECRET, 'link-tokens')), 'room-A')).toMatchObject({ role: 'facilitator' });
    await expect(tokens.verify(await sign(new TextEncoder().encode(SECRET)), 'room-A')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(tokens.verify(await sign(derivedKey(SECRET, 'address-digests')), 'room-A')).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
