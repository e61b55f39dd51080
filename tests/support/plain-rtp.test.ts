import { describe, expect, it } from 'vitest';
import { senderReport } from './plain-rtp.js';

/*
 * The RTCP sender report the test senders send (RFC 3550 6.4.1): mediasoup lines simulcast
 * layers up with the NTP time and RTP timestamp it carries, so its bytes must be exact.
 */

describe('senderReport', () => {
  it('is a 28-byte SR: version 2, no report blocks, the SSRC, NTP time of the wall clock given, RTP time, packet and octet counts', () => {
    // 2026-01-01T00:00:00.250Z: 250 ms is a quarter of a second, 0x40000000 in NTP's fraction.
    const wallMs = Date.UTC(2026, 0, 1) + 250;
    const report = senderReport(0xdeadbeef, 0x12345678, { packets: 1500, octets: 0x1_0000_0005 }, wallMs);

    expect(report.length).toBe(28);
    expect(report[0]).toBe(0x80); // V=2, no padding, RC=0
    expect(report[1]).toBe(200); // SR
    expect(report.readUInt16BE(2)).toBe(6); // 28 bytes: 7 words, minus one
    expect(report.readUInt32BE(4)).toBe(0xdeadbeef);
    expect(report.readUInt32BE(8)).toBe(Date.UTC(2026, 0, 1) / 1000 + 2_208_988_800); // seconds since 1900
    expect(report.readUInt32BE(12)).toBe(0x40000000);
    expect(report.readUInt32BE(16)).toBe(0x12345678);
    expect(report.readUInt32BE(20)).toBe(1500);
    expect(report.readUInt32BE(24)).toBe(5); // the octet count wraps at 2^32
  });

  it('takes its NTP time from the wall clock by default, and writes a negative or too-large RTP time modulo 2^32', () => {
    const before = Date.now();
    const report = senderReport(1, 2 ** 32 + 7);
    const after = Date.now();
    const ntpSeconds = report.readUInt32BE(8) + report.readUInt32BE(12) / 2 ** 32;
    const wallMs = (ntpSeconds - 2_208_988_800) * 1000;
    expect(wallMs).toBeGreaterThanOrEqual(before - 1);
    expect(wallMs).toBeLessThanOrEqual(after + 1);
    expect(report.readUInt32BE(16)).toBe(7);
    expect(senderReport(1, -1).readUInt32BE(16)).toBe(0xffffffff);
    expect(report.readUInt32BE(20)).toBe(0);
    expect(report.readUInt32BE(24)).toBe(0);
  });
});
