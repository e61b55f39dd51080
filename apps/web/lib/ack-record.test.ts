import { describe, expect, it } from 'vitest';
import { ackCsvName, acknowledgementCsv } from './ack-record';

describe('the acknowledgement record as CSV', () => {
  it('has a header and one line per acknowledgement: name, version, ISO 8601 time', () => {
    const csv = acknowledgementCsv([
      { displayName: 'Mo', version: 'a03001476a34594a', at: Date.UTC(2026, 11, 7, 5, 4, 3, 210) },
      { displayName: 'Ida B', version: 'b1', at: 0 },
    ]);
    expect(csv).toBe('\uFEFFpseudonym,agreement_version,acknowledged_at\r\nMo,a03001476a34594a,2026-12-07T05:04:03.210Z\r\nIda B,b1,1970-01-01T00:00:00.000Z\r\n');
  });

  it('quotes commas and quotes, and never lets a name run as a spreadsheet formula', () => {
    const at = Date.UTC(2026, 0, 1);
    const lines = acknowledgementCsv([
      { displayName: 'Smith, Jo', version: 'v', at },
      { displayName: 'Jo "JJ"', version: 'v', at },
      { displayName: '=HYPERLINK("x")', version: 'v', at },
      { displayName: '+1', version: 'v', at },
      { displayName: '-x', version: 'v', at },
      { displayName: '@me', version: 'v', at },
      { displayName: 'Zoë', version: 'v', at },
    ])
      .split('\r\n')
      .slice(1, -1)
      .map((line) => line.split(',v,')[0]);
    expect(lines).toEqual(['"Smith, Jo"', '"Jo ""JJ"""', `"'=HYPERLINK(""x"")"`, "'+1", "'-x", "'@me", 'Zoë']);
  });

  it('is named by the day only', () => {
    expect(ackCsvName(new Date(Date.UTC(2026, 11, 7, 23, 0)))).toBe('acknowledgements-2026-12-07.csv');
  });
});
