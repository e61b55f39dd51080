import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { turnCredentials, type TurnSeat } from './turn-credentials.js';

const config = {
  TURN_URLS: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:443?transport=tcp'],
  TURN_SECRET: 'a secret shared with coturn',
  TURN_CREDENTIAL_SECONDS: 4 * 3600,
};

const now = Date.UTC(2026, 10, 30, 12, 0, 0);
/** Ada's seat in a session that ends in 90 minutes, its room expiring an hour later (ROOM_GRACE_SECONDS). */
const ada: TurnSeat = { roomId: 'room-1a2b3c', memberId: 'member-ada-7f', until: now + 150 * 60_000 };

const usernameOf = (seat: TurnSeat, at = now, c = config) => turnCredentials(c, seat, at)[0]!.username;
const expiryOf = (seat: TurnSeat, at = now, c = config) => Number(usernameOf(seat, at, c).split(':')[0]);
const labelOf = (seat: TurnSeat, at = now, c = config) => usernameOf(seat, at, c).split(':')[1];

describe('turnCredentials', () => {
  it('is none without TURN configured', () => {
    expect(turnCredentials({ ...config, TURN_URLS: [] }, ada, now)).toEqual([]);
    expect(turnCredentials({ ...config, TURN_SECRET: undefined }, ada, now)).toEqual([]);
  });

  it("makes coturn's use-auth-secret pair: `<expiry>:<label>` as the username, its HMAC-SHA1 under the secret as the password", () => {
    const [server] = turnCredentials(config, ada, now);
    expect(server!.urls).toEqual(config.TURN_URLS);
    expect(server!.username).toMatch(/^\d+:[A-Za-z0-9_-]{16}$/);
    expect(server!.credential).toBe(createHmac('sha1', config.TURN_SECRET).update(server!.username).digest('base64'));
    // Another secret gives another password: the pair proves knowledge of the secret.
    expect(turnCredentials({ ...config, TURN_SECRET: 'another secret, not coturn' }, ada, now)[0]!.credential).not.toBe(server!.credential);
  });

  it('gives each person their own label, the same every time their seat asks, and nothing about them in it', () => {
    const bea: TurnSeat = { ...ada, memberId: 'member-bea-3c' };
    const adaElsewhere: TurnSeat = { ...ada, roomId: 'room-9z8y7x' };
    const labels = [labelOf(ada), labelOf(bea), labelOf(adaElsewhere)];
    expect(new Set(labels).size).toBe(3);
    // Asked again later (a reload, a reconnection): the same label, so coturn's quota counts the person.
    expect(labelOf(ada, now + 30 * 60_000)).toBe(labels[0]);
    for (const [seat, label] of [ada, bea, adaElsewhere].map((s, i) => [s, labels[i]!] as const)) {
      for (const part of [seat.roomId, seat.memberId, 'ada', 'bea', 'group-room']) expect(label.toLowerCase()).not.toContain(part.toLowerCase());
    }
    // Under another secret the labels are others: nobody without the secret can link them to a seat.
    expect(labelOf(ada, now, { ...config, TURN_SECRET: 'another secret, not coturn' })).not.toBe(labels[0]);
  });

  it("expires with the session: when its room expires", () => {
    expect(expiryOf(ada)).toBe(ada.until / 1000);
    // Asked during the session (a member arriving late): still the session's end, not later.
    expect(expiryOf(ada, now + 60 * 60_000)).toBe(ada.until / 1000);
  });

  it('never lasts more than TURN_CREDENTIAL_SECONDS from now (a session scheduled far ahead)', () => {
    const later: TurnSeat = { ...ada, until: now + 10 * 24 * 3600_000 };
    expect(expiryOf(later)).toBe(now / 1000 + 4 * 3600);
    expect(expiryOf(later, now, { ...config, TURN_CREDENTIAL_SECONDS: 60 })).toBe(now / 1000 + 60);
    // Capped, a seat asking again within the hour gets the same username (coturn's quota counts it).
    expect(usernameOf(later, now + 20 * 60_000)).toBe(usernameOf(later));
    expect(expiryOf(later, now + 20 * 60_000)).toBeLessThanOrEqual((now + 20 * 60_000) / 1000 + 4 * 3600);
  });

  it("is none once the session's room has expired", () => {
    expect(turnCredentials(config, ada, ada.until - 1000)).toHaveLength(1);
    expect(turnCredentials(config, ada, ada.until)).toEqual([]);
  });
});
