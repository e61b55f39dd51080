import {
  ACK_RECORD_PATH,
  AckRecordRequest,
  ProtocolFailure,
  summariseZodError,
  type AckRecord,
  type AckRecordRequest as RecordRequest,
  type ErrorCode,
  type Result,
} from '@group-room/shared';
import express, { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import type { LinkTokens } from '../auth/link-tokens.js';
import { roomTag, type Logger } from '../logger.js';
import { minutesLeft, type LimitBackend } from '../signaling/address-limits.js';
import { consume } from '../signaling/request-limits.js';
import type { RoomStore } from '../store/room-store.js';
import { clientAddress, type TrustProxy } from './client-address.js';
import { originAllowed } from './security.js';

/*
 * The facilitator takes an ended session's acknowledgement record away, once: `POST
 * /api/acknowledgements` with the room and the facilitator link's token (or the creator's
 * owner key) in a JSON body, never in the URL, which proxies log. The record is handed out and
 * deleted in one atomic step (RoomStore.takeAcknowledgements); a record nobody takes expires
 * after ACK_RETENTION_SECONDS. Nothing lists records. Refused tokens count against the
 * address, as wrong access keys do. Nothing from the record (names above all) is logged.
 */

/** Refused tokens one address may send in the window before every try from it is refused. */
export const RECORD_GUESSES = 10;
export const RECORD_GUESS_WINDOW_SECONDS = 600;
/** A request is a room id and a token: anything bigger is not one. */
const BODY_LIMIT = '8kb';

const STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ROOM_FULL: 409,
  INVALID_STATE: 409,
  TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};

const NO_RECORD =
  'There is no acknowledgement record to download for this session: it was downloaded already, it has expired, or the session has not ended.';

export interface AckRecordDeps {
  store: RoomStore;
  tokens: LinkTokens;
  limits: LimitBackend;
  trustProxy: TrustProxy;
  log: Logger;
}

export function ackRecordRoutes({ store, tokens, limits, trustProxy, log }: AckRecordDeps): Router {
  const router = Router();
  const guesses = limits.limiter('record-guesses', RECORD_GUESSES, RECORD_GUESS_WINDOW_SECONDS);

  const send = (res: Response, result: Result<AckRecord>) => {
    res.status(result.ok ? 200 : STATUS[result.error.code]).set('Cache-Control', 'no-store').json(result);
  };

  /** The facilitator link generation the asker may take the record of (null: any, the owner's key); FORBIDDEN otherwise. */
  const generationOf = async (request: RecordRequest): Promise<number | null> => {
    if (request.ownerKey !== undefined) {
      await tokens.verifyOwner(request.ownerKey, request.roomId);
      return null;
    }
    const grant = await tokens.verify(request.token ?? '', request.roomId);
    if (grant.role !== 'facilitator') throw new ProtocolFailure('FORBIDDEN', 'Only the facilitator link downloads the acknowledgement record');
    return grant.generation;
  };

  const take = async (req: Request): Promise<AckRecord> => {
    // A page of another site could post here with its visitor's browser: only ours may (the
    // route sends no CORS headers, so no other origin could read the answer anyway).
    if (!originAllowed(req.headers.origin, req.headers.host, [])) throw new ProtocolFailure('FORBIDDEN', 'Not from this site');
    const parsed = AckRecordRequest.safeParse(req.body);
    if (!parsed.success) throw new ProtocolFailure('BAD_REQUEST', summariseZodError(parsed.error));
    const request = parsed.data;
    const who = limits.addressKey(clientAddress(req, trustProxy));
    const spent = await guesses.get(who);
    if (spent && spent.consumedPoints >= RECORD_GUESSES) {
      throw new ProtocolFailure('RATE_LIMITED', `Too many refused links from here: try again in ${minutesLeft(spent)}`);
    }
    let generation: number | null;
    try {
      generation = await generationOf(request);
    } catch (error) {
      if (error instanceof ProtocolFailure && error.code === 'FORBIDDEN') {
        await consume(guesses, who, (res) => `Too many refused links from here: try again in ${minutesLeft(res)}`);
      }
      throw error;
    }
    const record = await store.takeAcknowledgements(request.roomId, generation);
    if (!record) {
      // Ended a moment ago: the page heard of the end before the record was written.
      const state = await store.get(request.roomId);
      if (state?.ended) throw new ProtocolFailure('UNAVAILABLE', 'The record is being written: try again in a moment');
      throw new ProtocolFailure('NOT_FOUND', NO_RECORD);
    }
    log.info('acknowledgement record handed out', { room: roomTag(request.roomId), entries: record.length });
    return { acknowledgements: record.map(({ displayName, version, at }) => ({ displayName, version, at })) };
  };

  router.post(ACK_RECORD_PATH, express.json({ limit: BODY_LIMIT }), (req, res) => {
    take(req).then(
      (data) => send(res, { ok: true, data }),
      (error: unknown) => {
        if (error instanceof ProtocolFailure) return send(res, { ok: false, error: error.toJSON() });
        log.warn('acknowledgement record request failed', { error: error instanceof Error ? error.message : String(error) });
        send(res, { ok: false, error: { code: 'INTERNAL', message: 'Something went wrong on the server' } });
      },
    );
  });

  // A body that is not JSON, or too big: the same typed answer as any other bad request.
  const malformed: ErrorRequestHandler = (error: unknown, _req, res, next) => {
    const status = (error as { status?: unknown }).status;
    if (typeof status !== 'number' || status >= 500) return next(error);
    const code: ErrorCode = status === 413 ? 'TOO_LARGE' : 'BAD_REQUEST';
    send(res, { ok: false, error: { code, message: code === 'TOO_LARGE' ? 'The request is too large' : 'The request is not valid JSON' } });
  };
  router.use(ACK_RECORD_PATH, malformed);
  return router;
}
