import { randomBytes, randomUUID } from 'node:crypto';
import { ProtocolFailure } from '@group-room/shared';
import { errors, jwtVerify, SignJWT } from 'jose';

const AUDIENCE = 'group-room';
const ALGORITHM = 'HS256';

/** What a link grants: a role in one room; invites carry an id so one link can be blocked. */
export type LinkGrant = { roomId: string; role: 'facilitator' } | { roomId: string; role: 'member'; inviteId: string };

/**
 * Signs and checks the tokens inside facilitator and invite links (JWT, HS256 via `jose`).
 * A token names its room and role and expires after the session; a client's own claims
 * about who it is are never trusted.
 */
export class LinkTokens {
  readonly #key: Uint8Array;

  constructor(secret?: string) {
    // Without a configured secret, links are valid for this process only (fine in memory mode).
    this.#key = secret ? new TextEncoder().encode(secret) : randomBytes(32);
  }

  sign(grant: LinkGrant, expiresAt: number): Promise<string> {
    const claims = grant.role === 'member' ? { room: grant.roomId, role: grant.role, inv: grant.inviteId } : { room: grant.roomId, role: grant.role };
    return new SignJWT(claims)
      .setProtectedHeader({ alg: ALGORITHM })
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(this.#key);
  }

  invite(roomId: string, expiresAt: number): Promise<string> {
    return this.sign({ roomId, role: 'member', inviteId: randomUUID() }, expiresAt);
  }

  /** The grant of a valid token for `roomId`; FORBIDDEN for anything else. */
  async verify(token: string, roomId: string): Promise<LinkGrant> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#key, { audience: AUDIENCE, algorithms: [ALGORITHM], requiredClaims: ['exp'] }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new ProtocolFailure('FORBIDDEN', 'This link has expired');
      throw new ProtocolFailure('FORBIDDEN', 'This link is not valid');
    }
    if (payload['room'] !== roomId) throw new ProtocolFailure('FORBIDDEN', 'This link is for another room');
    if (payload['role'] === 'facilitator') return { roomId, role: 'facilitator' };
    if (payload['role'] === 'member' && typeof payload['inv'] === 'string') return { roomId, role: 'member', inviteId: payload['inv'] };
    throw new ProtocolFailure('FORBIDDEN', 'This link is not valid');
  }
}
