import { randomUUID } from 'node:crypto';
import { ProtocolFailure } from '@group-room/shared';
import { decodeJwt, errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { SEAT_GONE } from '../room/seats.js';
import { derivedKey } from './keys.js';

const AUDIENCE = 'group-room';
const SEAT_AUDIENCE = 'group-room:seat';
const OWNER_AUDIENCE = 'group-room:owner';
const ALGORITHM = 'HS256';

/**
 * What a link grants: a role in one room; invites carry an id so one link can be blocked, and
 * facilitator links the generation they were made for (see RoomState.facilitatorLinkGeneration).
 */
export type LinkGrant = { roomId: string; role: 'facilitator'; generation: number } | { roomId: string; role: 'member'; inviteId: string };

/** What a link is signed for: a facilitator link without a generation is of generation 0. */
export type LinkRequest = { roomId: string; role: 'facilitator'; generation?: number } | { roomId: string; role: 'member'; inviteId: string };

/** The refusal of an owner key that is not this room's (or not valid at all). */
export const OWNER_KEY_INVALID = 'This browser’s key to the session it created is not valid for this session';

/** What a resume credential names: a seat and the nonce it must still have. */
export interface SeatGrant {
  roomId: string;
  memberId: string;
  nonce: string;
}

/**
 * Signs and checks the tokens inside facilitator and invite links (JWT, HS256 via `jose`).
 * A token names its room and role and expires after the session; a client's own claims
 * about who it is are never trusted.
 */
export class LinkTokens {
  readonly #key: Uint8Array;
  /**
   * Without a configured secret, this process's own id, written into the seat credentials it
   * signs: one carrying another id was signed by an earlier process, whose rooms went with it.
   * (An id rather than the time it started: a restart within the same second must tell too.)
   */
  readonly #process: string | null;

  constructor(secret?: string) {
    // Its own key, derived from the secret (see keys.ts). Without a configured secret, links
    // are valid for this process only (fine in memory mode).
    this.#key = derivedKey(secret, 'link-tokens');
    this.#process = secret ? null : randomUUID();
  }

  sign(grant: LinkRequest, expiresAt: number): Promise<string> {
    const claims =
      grant.role === 'member' ? { room: grant.roomId, role: grant.role, inv: grant.inviteId } : { room: grant.roomId, role: grant.role, gen: grant.generation ?? 0 };
    return new SignJWT(claims)
      .setProtectedHeader({ alg: ALGORITHM })
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(this.#key);
  }

  /** A new invite link for `roomId`, with the id it carries (a facilitator's browser derives the link's secret from it). */
  async invite(roomId: string, expiresAt: number): Promise<{ token: string; inviteId: string }> {
    const inviteId = randomUUID();
    return { token: await this.sign({ roomId, role: 'member', inviteId }, expiresAt), inviteId };
  }

  /**
   * A seat's resume credential: one person in one room, with the seat's current nonce (so it
   * works for one resume only). Its own audience, so it is never taken for a link, nor a link for it.
   */
  seat(grant: SeatGrant, expiresAt: number): Promise<string> {
    return new SignJWT({ room: grant.roomId, sub: grant.memberId, nonce: grant.nonce, ...(this.#process ? { proc: this.#process } : {}) })
      .setProtectedHeader({ alg: ALGORITHM })
      .setAudience(SEAT_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(this.#key);
  }

  /**
   * The owner key `room:create` answers its creator with: names the room only, and expires with
   * the session's links. Its own audience, so it is never taken for a link or a seat, nor they for it.
   */
  owner(roomId: string, expiresAt: number): Promise<string> {
    return new SignJWT({ room: roomId })
      .setProtectedHeader({ alg: ALGORITHM })
      .setAudience(OWNER_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(this.#key);
  }

  /** Whether `token` is a valid owner key of `roomId`: FORBIDDEN otherwise (never silently ignored). */
  async verifyOwner(token: string, roomId: string): Promise<void> {
    const payload = await this.#verified(token, OWNER_AUDIENCE, OWNER_KEY_INVALID);
    if (payload['room'] !== roomId) throw new ProtocolFailure('FORBIDDEN', OWNER_KEY_INVALID);
  }

  /** The seat a valid resume credential names in `roomId`; FORBIDDEN for anything else. */
  async verifySeat(token: string, roomId: string): Promise<SeatGrant> {
    const payload = await this.#verified(token, SEAT_AUDIENCE, SEAT_GONE).catch((error: unknown) => {
      throw this.#fromEarlierProcess(token, roomId) ? new ProtocolFailure('NOT_FOUND', 'This session has ended') : error;
    });
    const { sub, nonce } = payload;
    if (payload['room'] !== roomId || typeof sub !== 'string' || typeof nonce !== 'string') throw new ProtocolFailure('FORBIDDEN', SEAT_GONE);
    return { roomId, memberId: sub, nonce };
  }

  /**
   * A seat credential for `roomId` that this process cannot check because an earlier one signed
   * it (no configured secret, and signed by another process): the room went with that
   * process, so the person hears the session has ended rather than that their seat was lost.
   * Says nothing a forger could use: no room is read.
   */
  #fromEarlierProcess(token: string, roomId: string): boolean {
    if (this.#process === null) return false;
    try {
      const claims = decodeJwt(token);
      return claims.aud === SEAT_AUDIENCE && claims['room'] === roomId && typeof claims['proc'] === 'string' && claims['proc'] !== this.#process;
    } catch {
      return false;
    }
  }

  async #verified(token: string, audience: string, invalid: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, this.#key, { audience, algorithms: [ALGORITHM], requiredClaims: ['exp'] });
      return payload;
    } catch (error) {
      if (error instanceof errors.JWTExpired && audience === AUDIENCE) throw new ProtocolFailure('FORBIDDEN', 'This link has expired');
      throw new ProtocolFailure('FORBIDDEN', invalid);
    }
  }

  /** The grant of a valid token for `roomId`; FORBIDDEN for anything else. */
  async verify(token: string, roomId: string): Promise<LinkGrant> {
    const payload = await this.#verified(token, AUDIENCE, 'This link is not valid');
    if (payload['room'] !== roomId) throw new ProtocolFailure('FORBIDDEN', 'This link is for another room');
    if (payload['role'] === 'facilitator') {
      const gen = payload['gen'] ?? 0;
      if (typeof gen !== 'number' || !Number.isSafeInteger(gen) || gen < 0) throw new ProtocolFailure('FORBIDDEN', 'This link is not valid');
      return { roomId, role: 'facilitator', generation: gen };
    }
    if (payload['role'] === 'member' && typeof payload['inv'] === 'string') return { roomId, role: 'member', inviteId: payload['inv'] };
    throw new ProtocolFailure('FORBIDDEN', 'This link is not valid');
  }
}
