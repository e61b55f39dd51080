import { ACK_RECORD_PATH, AckRecordResult, ProtocolFailure, type AckRecordEntry } from '@group-room/shared';

/*
 * The facilitator's copy of an ended session's acknowledgement record: asked for once (the
 * server deletes it as it answers: see apps/signal/src/http/ack-record.ts), turned into a CSV
 * file here and saved by the browser. Nothing of it is kept in the page afterwards.
 */

/** Asked again while the server says it is still writing the record (the page heard of the end first). */
const WRITING_RETRIES = 5;
const WRITING_WAIT_MS = 400;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What takes the record: the facilitator link's token, or the owner key of the session's creator. */
export type RecordCredential = { token: string } | { ownerKey: string };

/** Take the record (POST, the credential in the body, never in the URL). Throws ProtocolFailure. */
export async function takeAckRecord(roomId: string, credential: RecordCredential): Promise<AckRecordEntry[]> {
  for (let attempt = 0; ; attempt++) {
    let result: AckRecordResult;
    try {
      const res = await fetch(ACK_RECORD_PATH, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ roomId, ...credential }),
        cache: 'no-store',
      });
      result = AckRecordResult.parse(await res.json());
    } catch {
      throw new ProtocolFailure('UNAVAILABLE', 'The server could not be reached. Check your connection, then try again.');
    }
    if (result.ok) return result.data.acknowledgements;
    if (result.error.code === 'UNAVAILABLE' && attempt < WRITING_RETRIES) {
      await sleep(WRITING_WAIT_MS * (attempt + 1));
      continue;
    }
    throw new ProtocolFailure(result.error.code, result.error.message);
  }
}

/**
 * One CSV field: quoted when it holds a comma, a quote or a line break; a name a spreadsheet
 * would run as a formula (=, +, -, @ first) is made text with a leading apostrophe.
 */
function field(value: string): string {
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const ACK_CSV_HEADER = ['pseudonym', 'agreement_version', 'acknowledged_at'] as const;

/**
 * The record as CSV (RFC 4180, CRLF lines, UTF-8 with a byte-order mark so spreadsheet programs
 * read accented names right): the name each person chose, the agreement version they
 * accepted, and when (ISO 8601, UTC).
 */
export function acknowledgementCsv(entries: readonly AckRecordEntry[]): string {
  const rows = [ACK_CSV_HEADER, ...entries.map((entry) => [entry.displayName, entry.version, new Date(entry.at).toISOString()])];
  return `\uFEFF${rows.map((row) => row.map(field).join(',')).join('\r\n')}\r\n`;
}

/** The file's name: the day the session ended, nothing about the group. */
export function ackCsvName(now: Date = new Date()): string {
  return `acknowledgements-${now.toISOString().slice(0, 10)}.csv`;
}
