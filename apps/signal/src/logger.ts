import { createHmac, randomBytes } from 'node:crypto';
import { pino, type DestinationStream } from 'pino';

/**
 * The server's structured log (pino): one JSON line per event on stderr, with `level` (its
 * name), `t` (the time, ISO 8601), the event's fields and `msg`: the same shape as before pino.
 *
 * Callers pass ids, counts and a digest of the room id (`roomTag`), never display names,
 * texts, tokens or addresses: nothing that identifies a member is logged. Two safety nets
 * hold even when a caller slips:
 * - every key that could carry such data (`displayName`, `text`, `token`, `ip`, …; at the top
 *   level and one level down) is written as `[redacted]` by pino's redaction;
 * - every string value is cut to `FIELD_MAX` characters, and whatever it holds in quotes is
 *   elided (error messages quote the input they choke on, e.g. JSON.parse's).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** Keys whose values are never written, whoever logs them. */
export const REDACTED_KEYS = [
  // who someone is, and what they wrote
  'displayName',
  'name',
  'names',
  'title',
  'text',
  'message',
  'agreement',
  // what browsers send each other through the server (end-to-end encryption: sealed boxes, key handshakes)
  'sealed',
  'data',
  // what lets someone in
  'token',
  'facilitatorToken',
  'inviteToken',
  'credential',
  'resume',
  'secret',
  'passphrase',
  'password',
  'accessKey',
  'ownerKey',
  'authorization',
  'cookie',
  // room ids are access secrets: logs carry `roomTag` under `room`
  'roomId',
  // where someone is
  'ip',
  'ips',
  'address',
  'addressKey',
  'remoteAddress',
  'forwardedFor',
  'headers',
  'handshake',
] as const;

export const REDACTED = '[redacted]';
/** The longest string value a log field keeps. */
export const FIELD_MAX = 300;

const redactPaths = REDACTED_KEYS.flatMap((key) => [key, `*.${key}`]);

/** Quoted runs ("…", '…', `…`) and what they hold: most often the input an error choked on. */
const QUOTED = /"[^"]*"|'[^']*'|`[^`]*`/g;

/** A string as a log field may hold it: quoted parts elided, at most FIELD_MAX characters. */
export function boundedField(value: string): string {
  const elided = value.replace(QUOTED, (quoted) => `${quoted[0]}…${quoted[0]}`);
  return elided.length > FIELD_MAX ? `${elided.slice(0, FIELD_MAX - 1)}…` : elided;
}

function boundFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) out[key] = typeof value === 'string' ? boundedField(value) : value;
  return out;
}

/**
 * A logger at `level`. `write`, when given, receives each line (ending in a newline) instead of
 * stderr: tests capture the log with it.
 */
export function createLogger(level: LogLevel, write?: (line: string) => void): Logger {
  const destination: DestinationStream = write ? { write } : pino.destination({ dest: 2, sync: true });
  const log = pino(
    {
      level,
      base: null,
      // pino.stdTimeFunctions.isoTime under the key the log has always used.
      timestamp: () => `,"t":"${new Date().toISOString()}"`,
      formatters: {
        level: (label) => ({ level: label }),
        log: boundFields,
      },
      redact: { paths: redactPaths, censor: REDACTED },
    },
    destination,
  );
  const at =
    (method: LogLevel) =>
    (msg: string, fields?: LogFields): void => {
      if (fields) log[method](fields, msg);
      else log[method](msg);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The key of room tags: random for this process until the server sets the one derived from TOKEN_SECRET. */
let tagKey: Buffer = randomBytes(32);

/** Key room tags with `key` (auth/keys.ts, purpose `log-tags`): the same on every node with the same secret. */
export function setRoomTagKey(key: Buffer): void {
  tagKey = key;
}

/**
 * Room ids are access secrets (the link admits): logs carry a short keyed digest instead, so
 * whoever reads the logs cannot check a guessed room id against them.
 */
export function roomTag(roomId: string): string {
  return createHmac('sha256', tagKey).update(roomId).digest('hex').slice(0, 8);
}
