import { ProtocolFailure } from '@group-room/shared';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { derivedKey } from './keys.js';
import { LinkTokens } from './link-tokens.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const ROOM = 'room-AAAAAAAAAAAA';
const OTHER_ROOM = 'room-BBBBBBBBBBBB';
const HOUR = 3600_000;

const later = () => Date.now() + HOUR;

async function refusal(promise: Promise<unknown>): Promise<ProtocolFailure> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProtocolFailure);
  expect((error as ProtocolFailure).code).toBe('FORBIDDEN');
  return error as ProtocolFailure;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Replace one character in the middle of a token part (never a final, padding-only one). */
function tamper(token: string, part: 0 | 1 | 2): string {
  const parts = token.split('.');
  const segment = parts[part]!;
  const i = Math.floor(segment.length / 2);
  parts[part] = segment.slice(0, i) + (segment[i] === 'A' ? 'B' : 'A') + segment.slice(i + 1);
  return parts.join('.');
}

/** A token signed with the same key but claims of our choosing. */
function forge(claims: Record<string, unknown>, options: { audience?: string; alg?: string; secret?: string; expiresAt?: number } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .setAudience(options.audience ?? 'group-room')
    .setIssuedAt()
    .setExpirationTime(Math.floor((options.expiresAt ?? later()) / 1000))
    .sign(derivedKey(options.secret ?? SECRET, 'link-tokens'));
}

describe('LinkTokens', () => {
  const tokens = new LinkTokens(SECRET);

  afterEach(() => {
    vi.useRealTimers();
  });

  describe('round trip', () => {
    it('signs and verifies a facilitator link', async () => {
      const token = await tokens.sign({ roomId: ROOM, role: 'facilitator' }, later());
      expect(await tokens.verify(token, ROOM)).toEqual({ roomId: ROOM, role: 'facilitator', generation: 0 });
    });

    it('signs and verifies an invite with its id', async () => {
      const token = await tokens.sign({ roomId: ROOM, role: 'member', inviteId: 'invite-1' }, later());
      expect(await tokens.verify(token, ROOM)).toEqual({ roomId: ROOM, role: 'member', inviteId: 'invite-1' });
    });

    it('makes each invite with a new id', async () => {
      const [a, b] = await Promise.all([tokens.invite(ROOM, later()), tokens.invite(ROOM, later())]);
      const [ga, gb] = await Promise.all([tokens.verify(a.token, ROOM), tokens.verify(b.token, ROOM)]);
      expect(ga.role).toBe('member');
      expect(gb.role).toBe('member');
      if (ga.role === 'member' && gb.role === 'member') {
        // The id answered with the link is the one the link carries.
        expect(ga.inviteId).toBe(a.inviteId);
        expect(gb.inviteId).toBe(b.inviteId);
        expect(ga.inviteId).toMatch(/^[0-9a-f-]{36}$/);
        expect(ga.inviteId).not.toBe(gb.inviteId);
      }
    });

    it('is a compact HS256 JWT for our audience that expires when asked, and fits the protocol', async () => {
      const expiresAt = Date.now() + 2 * HOUR;
      const token = await tokens.sign({ roomId: ROOM, role: 'member', inviteId: 'i' }, expiresAt);
      expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256' });
      expect(decodeJwt(token)).toMatchObject({ aud: 'group-room', room: ROOM, role: 'member', inv: 'i', exp: Math.floor(expiresAt / 1000) });
      expect(token.length).toBeGreaterThanOrEqual(16);
      expect(token.length).toBeLessThanOrEqual(2048);
    });

    it('is accepted by another instance with the same secret (another node)', async () => {
      const token = await tokens.sign({ roomId: ROOM, role: 'facilitator' }, later());
      expect(await new LinkTokens(SECRET).verify(token, ROOM)).toEqual({ roomId: ROOM, role: 'facilitator', generation: 0 });
    });

    it('without a secret, works within the instance only', async () => {
      const own = new LinkTokens();
      const token = await own.sign({ roomId: ROOM, role: 'facilitator' }, later());
      expect(await own.verify(token, ROOM)).toEqual({ roomId: ROOM, role: 'facilitator', generation: 0 });
      await refusal(new LinkTokens().verify(token, ROOM));
      await refusal(tokens.verify(token, ROOM));
    });
  });

  describe('refusals, all FORBIDDEN', () => {
    it('a link for another room', async () => {
      const token = await tokens.sign({ roomId: OTHER_ROOM, role: 'facilitator' }, later());
      expect((await refusal(tokens.verify(token, ROOM))).message).toMatch(/another room/);
      const invite = await tokens.invite(OTHER_ROOM, later());
      await refusal(tokens.verify(invite.token, ROOM));
    });

    it('an expired link, saying so', async () => {
      const token = await tokens.sign({ roomId: ROOM, role: 'facilitator' }, Date.now() - 1000);
      expect((await refusal(tokens.verify(token, ROOM))).message).toMatch(/expired/);
    });

    it('a link that expires while in use', async () => {
      vi.useFakeTimers({ now: 1_700_000_000_000 });
      const token = await tokens.sign({ roomId: ROOM, role: 'member', inviteId: 'i' }, 1_700_000_000_000 + HOUR);
      vi.setSystemTime(1_700_000_000_000 + HOUR - 1000);
      await expect(tokens.verify(token, ROOM)).resolves.toMatchObject({ role: 'member' });
      vi.setSystemTime(1_700_000_000_000 + HOUR + 1000);
      expect((await refusal(tokens.verify(token, ROOM))).message).toMatch(/expired/);
    });

    it('an expired link for another room says expired, not another room', async () => {
      const token = await tokens.sign({ roomId: OTHER_ROOM, role: 'facilitator' }, Date.now() - 1000);
      expect((await refusal(tokens.verify(token, ROOM))).message).toMatch(/expired/);
    });

    it('a tampered signature', async () => {
      const token = await tokens.sign({ roomId: ROOM, role: 'facilitator' }, later());
      expect((await refusal(tokens.verify(tamper(token, 2), ROOM))).message).toMatch(/not valid/);
    });

    it('tampered claims: an invite turned into a facilitator link, or moved to another room', async () => {
      const token = await tokens.sign({ roomId: ROOM, role: 'member', inviteId: 'i' }, later());
      const [header, , signature] = token.split('.');
      const claims = decodeJwt(token);
      await refusal(tokens.verify(`${header}.${b64({ ...claims, role: 'facilitator' })}.${signature}`, ROOM));
      await refusal(tokens.verify(`${header}.${b64({ ...claims, room: OTHER_ROOM })}.${signature}`, OTHER_ROOM));
      await refusal(tokens.verify(tamper(token, 1), ROOM));
    });

    it('a link signed with another secret', async () => {
      const token = await new LinkTokens('another-secret-entirely-of-some-length').sign({ roomId: ROOM, role: 'facilitator' }, later());
      await refusal(tokens.verify(token, ROOM));
      await refusal(tokens.verify(await forge({ room: ROOM, role: 'facilitator' }, { secret: 'wrong' }), ROOM));
    });

    it('garbage', async () => {
      for (const garbage of ['', 'x', 'not.a.jwt', 'a'.repeat(100), '...', 'eyJhbGciOiJIUzI1NiJ9.e30.', `${b64({ alg: 'HS256' })}.%%%.###`]) {
        expect((await refusal(tokens.verify(garbage, ROOM))).message).toMatch(/not valid/);
      }
    });

    it('alg "none", with or without a signature', async () => {
      const claims = { room: ROOM, role: 'facilitator', aud: 'group-room', exp: Math.floor(later() / 1000) };
      const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
      await refusal(tokens.verify(unsigned, ROOM));
      const real = await tokens.sign({ roomId: ROOM, role: 'facilitator' }, later());
      await refusal(tokens.verify(`${b64({ alg: 'none' })}.${b64(claims)}.${real.split('.')[2]}`, ROOM));
    });

    it('another algorithm with the same secret', async () => {
      await refusal(tokens.verify(await forge({ room: ROOM, role: 'facilitator' }, { alg: 'HS512' }), ROOM));
    });

    it('a token without an expiry', async () => {
      const noExpiry = await new SignJWT({ room: ROOM, role: 'facilitator' })
        .setProtectedHeader({ alg: 'HS256' })
        .setAudience('group-room')
        .sign(derivedKey(SECRET, 'link-tokens'));
      await refusal(tokens.verify(noExpiry, ROOM));
    });

    it('another audience', async () => {
      await refusal(tokens.verify(await forge({ room: ROOM, role: 'facilitator' }, { audience: 'someone-else' }), ROOM));
    });

    it('a correctly signed token without a usable grant', async () => {
      const forged = [
        { room: ROOM, role: 'member' }, // an invite without its id
        { room: ROOM, role: 'member', inv: 7 },
        { room: ROOM, role: 'cofacilitator' }, // never granted by a link
        { room: ROOM, role: 'admin' },
        { room: ROOM },
        { role: 'facilitator' },
      ];
      for (const claims of forged) {
        await refusal(tokens.verify(await forge(claims), ROOM));
      }
      // The same forging, with a usable grant, is accepted: the refusals are about the claims.
      expect(await tokens.verify(await forge({ room: ROOM, role: 'facilitator' }), ROOM)).toEqual({ roomId: ROOM, role: 'facilitator', generation: 0 });
    });
  });
});

describe('seat resume credentials', () => {
  const tokens = new LinkTokens(SECRET);

  it('name one seat in one room, with its nonce', async () => {
    const credential = await tokens.seat({ roomId: ROOM, memberId: 'm1', nonce: 'n1' }, later());
    await expect(tokens.verifySeat(credential, ROOM)).resolves.toEqual({ roomId: ROOM, memberId: 'm1', nonce: 'n1' });
    await refusal(tokens.verifySeat(credential, OTHER_ROOM));
    await refusal(tokens.verifySeat(tamper(credential, 1), ROOM));
    await refusal(new LinkTokens('another-secret-that-is-long-enough-too').verifySeat(credential, ROOM));
  });

  it('are never taken for a link, nor a link for them', async () => {
    const credential = await tokens.seat({ roomId: ROOM, memberId: 'm1', nonce: 'n1' }, later());
    await refusal(tokens.verify(credential, ROOM));
    const facilitatorLink = await tokens.sign({ roomId: ROOM, role: 'facilitator' }, later());
    await refusal(tokens.verifySeat(facilitatorLink, ROOM));
    // A forged seat claim in a link's audience is refused too.
    await refusal(tokens.verifySeat(await forge({ room: ROOM, sub: 'm1', nonce: 'n1' }), ROOM));
  });

  it('expire', async () => {
    const credential = await tokens.seat({ roomId: ROOM, memberId: 'm1', nonce: 'n1' }, Date.now() - 1000);
    const error = await refusal(tokens.verifySeat(credential, ROOM));
    expect(error.message).toMatch(/not kept/);
  });
});

describe('owner keys', () => {
  const tokens = new LinkTokens(SECRET);

  it('name one room: valid for it, FORBIDDEN for another room or from another secret', async () => {
    const key = await tokens.owner(ROOM, later());
    await expect(tokens.verifyOwner(key, ROOM)).resolves.toBeUndefined();
    await refusal(tokens.verifyOwner(key, OTHER_ROOM));
    await refusal(new LinkTokens('another-secret-that-is-long-enough-too').verifyOwner(key, ROOM));
    await refusal(tokens.verifyOwner(tamper(key, 2), ROOM));
    await refusal(tokens.verifyOwner('not-a-token-at-all-but-long', ROOM));
  });

  it('are never taken for a link or a seat credential, nor either of them for an owner key', async () => {
    const key = await tokens.owner(ROOM, later());
    await refusal(tokens.verify(key, ROOM));
    await refusal(tokens.verifySeat(key, ROOM));
    const facilitatorLink = await tokens.sign({ roomId: ROOM, role: 'facilitator' }, later());
    await refusal(tokens.verifyOwner(facilitatorLink, ROOM));
    await refusal(tokens.verifyOwner(await tokens.seat({ roomId: ROOM, memberId: 'm1', nonce: 'n1' }, later()), ROOM));
  });

  it('expire (with the session)', async () => {
    await refusal(tokens.verifyOwner(await tokens.owner(ROOM, Date.now() - 1000), ROOM));
  });
});

describe('seat credentials from an earlier process (no TOKEN_SECRET: a restart takes the rooms with it)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("are told the session has ended (NOT_FOUND), without anything being read; a forged or another secret's credential stays FORBIDDEN", async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(2026, 11, 7, 10, 0, 0) });
    const earlier = new LinkTokens();
    const credential = await earlier.seat({ roomId: ROOM, memberId: 'm1', nonce: 'n1' }, later());
    vi.setSystemTime(Date.UTC(2026, 11, 7, 10, 1, 0));
    const restarted = new LinkTokens();
    await expect(restarted.verifySeat(credential, ROOM)).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/ended/) as unknown });
    // Another room's id in the request, something that is no credential, or a node with a
    // configured secret: FORBIDDEN. (A copy with its signature changed cannot be told from an
    // earlier process's either: it too hears the session has ended, which tells a forger nothing.)
    await refusal(restarted.verifySeat(credential, OTHER_ROOM));
    await refusal(restarted.verifySeat('not-a-credential-but-long-enough', ROOM));
    await refusal(new LinkTokens(SECRET).verifySeat(credential, ROOM));
    // A restart within the same second is told apart too (the credential names its process).
    const sameSecond = new LinkTokens();
    await expect(sameSecond.verifySeat(await restarted.seat({ roomId: ROOM, memberId: 'm2', nonce: 'n2' }, later()), ROOM)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // One signed with a configured secret is no earlier default process's: FORBIDDEN, not 'ended'.
    await refusal(restarted.verifySeat(await new LinkTokens(SECRET).seat({ roomId: ROOM, memberId: 'm3', nonce: 'n3' }, later()), ROOM));
    // One this process signed after it started is checked as usual.
    const own = await restarted.seat({ roomId: ROOM, memberId: 'm1', nonce: 'n1' }, later());
    await expect(restarted.verifySeat(own, ROOM)).resolves.toMatchObject({ memberId: 'm1' });
  });
});
