import { z } from 'zod';
import { RoomId } from './domain.js';
import { resultSchema } from './errors.js';
import { LinkToken } from './domain.js';

/*
 * An ended session's acknowledgement record (who accepted which version of the group agreement,
 * when), which the server keeps only so that the facilitator can take it away once: asked for
 * over HTTP (POST, the token in the body, never in a URL a proxy would log), answered once,
 * then deleted; never listed.
 */

/** Where the facilitator's page asks for the record. */
export const ACK_RECORD_PATH = '/api/acknowledgements';

/**
 * The room and the facilitator link's token (of the link's current generation: a replaced
 * link does not fetch it), or the owner key of the session's creator.
 */
export const AckRecordRequest = z
  .object({ roomId: RoomId, token: LinkToken.optional(), ownerKey: LinkToken.optional() })
  .strict()
  .refine((request) => (request.token === undefined) !== (request.ownerKey === undefined), 'give either the facilitator link token or the owner key');
export type AckRecordRequest = z.infer<typeof AckRecordRequest>;

/** One acknowledgement: the name the person chose for the session, the agreement version, and when (epoch ms). */
export const AckRecordEntry = z.object({ displayName: z.string().max(200), version: z.string().max(128), at: z.number() }).strict();
export type AckRecordEntry = z.infer<typeof AckRecordEntry>;

export const AckRecord = z.object({ acknowledgements: z.array(AckRecordEntry) }).strict();
export type AckRecord = z.infer<typeof AckRecord>;

/** The answer's body, as every request's: the record, or a typed error (NOT_FOUND once it was taken or has expired). */
export const AckRecordResult = resultSchema(AckRecord);
export type AckRecordResult = z.infer<typeof AckRecordResult>;
