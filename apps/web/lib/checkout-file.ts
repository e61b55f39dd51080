import { checkoutRows, ratingWords, type CheckoutRecord } from './checkout-answers';

/*
 * The facilitator's copy of a check-out, made in their browser and saved as a file (nothing of
 * it is on the server): one CSV line per member asked, in the order the page shows them.
 */

export const CHECKOUT_CSV_HEADER = ['name', 'rating', 'rating_words', 'words', 'follow_up', 'flagged', 'answered_at'] as const;

/**
 * One CSV field: quoted when it holds a comma, a quote or a line break; text a spreadsheet would
 * run as a formula (=, +, -, @ first) is made text with a leading apostrophe.
 */
function field(value: string): string {
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 (CRLF lines), UTF-8 with a byte-order mark so spreadsheet programs read accents right. */
export function checkoutCsv(record: CheckoutRecord): string {
  const lines = checkoutRows(record).map((row): string[] => {
    if (row.kind !== 'answer') return [row.displayName, '', row.kind === 'unread' ? 'answered, not received on this device' : 'no answer', '', '', '', ''];
    const { entry } = row;
    return [
      row.displayName,
      String(entry.rating),
      ratingWords(entry.rating),
      entry.words ?? '',
      entry.followUp ? 'yes' : 'no',
      row.flagged ? 'yes' : 'no',
      new Date(entry.at).toISOString(),
    ];
  });
  return `\uFEFF${[[...CHECKOUT_CSV_HEADER], ...lines].map((line) => line.map(field).join(',')).join('\r\n')}\r\n`;
}

/** The file's name: the check-out's day, nothing about the group. */
export function checkoutFileName(record: Pick<CheckoutRecord, 'startedAt'>): string {
  return `check-out-${new Date(record.startedAt).toISOString().slice(0, 10)}.csv`;
}
