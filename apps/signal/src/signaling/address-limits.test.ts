import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { KNOWN_FACILITATOR_SECONDS } from '../auth/room-creation.js';
import { LimitBackend } from './address-limits.js';

describe('what the limit backend remembers in this process (no Redis)', () => {
  it('keeps a known facilitator for the whole period, not for a millisecond (a period past the longest timer fires at once)', async () => {
    const limits = await LimitBackend.open({ REDIS_URL: undefined, REDIS_KEY_PREFIX: 'test:', TOKEN_SECRET: undefined });
    const known = limits.memory('known-facilitators', KNOWN_FACILITATOR_SECONDS);
    await known.remember('address-a');
    await sleep(30);
    expect(await known.knows('address-a')).toBe(true);
    expect(await known.knows('address-b')).toBe(false);
    await limits.close();
  });
});
