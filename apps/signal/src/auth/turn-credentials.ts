import { createHmac, hkdfSync } from 'node:crypto';
import type { IceServer } from '@group-room/shared';
import type { Config } from '../config.js';

/** Whose credentials: one seat in one room, and until when that session may run. */
export interface TurnSeat {
  roomId: string;
  memberId: string;
  /**
   * When the session's room expires (epoch milliseconds): its scheduled end plus
   * ROOM_GRACE_SECONDS. The server does not cut a session off at its scheduled end (a group
   * may run over until a facilitator ends it), so neither does its relay.
   */
  until: number;
}

/**
 * Short-lived TURN credentials from the secret shared with coturn (`use-auth-secret`, the
 * "TURN REST API" scheme): the username is the expiry time (Unix seconds) and a label, the
 * password the base64 HMAC-SHA1 of the username under the secret. coturn checks both without
 * asking us; once the time has passed the pair is worthless.
 *
 * Each person gets their own (as Jitsi and LiveKit do): the label is an opaque value per seat
 * (`seatLabel`), the same every time that seat asks, so coturn's per-user quota counts people,
 * and it says nothing about the person (coturn logs usernames). The pair expires with the
 * session (when its room expires, `until`), and never later than TURN_CREDENTIAL_SECONDS from
 * now (rounded down to the hour, so the username stays the same); past that there is nothing
 * to hand out.
 */
export function turnCredentials(
  config: Pick<Config, 'TURN_URLS' | 'TURN_SECRET' | 'TURN_CREDENTIAL_SECONDS'>,
  seat: TurnSeat,
  now: number = Date.now(),
): IceServer[] {
  if (config.TURN_URLS.length === 0 || !config.TURN_SECRET) return [];
  const nowSeconds = Math.floor(now / 1000);
  // Capped, the expiry is rounded down to a step (an hour at most), so a seat asking again and
  // again still gets one username per step: coturn counts its quota per username.
  const capped = nowSeconds + config.TURN_CREDENTIAL_SECONDS;
  const step = Math.min(3600, Math.floor(config.TURN_CREDENTIAL_SECONDS / 4));
  const expiry = Math.min(capped - (capped % step), Math.floor(seat.until / 1000));
  if (expiry <= nowSeconds) return [];
  const username = `${expiry}:${seatLabel(config.TURN_SECRET, seat)}`;
  const credential = createHmac('sha1', config.TURN_SECRET).update(username).digest('base64');
  return [{ urls: config.TURN_URLS, username, credential }];
}

const LABEL_KEY_INFO = 'group-room turn seat label';
const labelKeys = new Map<string, Buffer>();

/**
 * A seat's label: HMAC-SHA256 of the room and member ids under a key derived from the TURN
 * secret (HKDF, for this use only), 96 bits in base64url. Without the secret it cannot be
 * linked to a room or a person, and it never contains a name.
 */
export function seatLabel(secret: string, seat: Pick<TurnSeat, 'roomId' | 'memberId'>): string {
  let key = labelKeys.get(secret);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', secret, '', LABEL_KEY_INFO, 32));
    labelKeys.clear();
    labelKeys.set(secret, key);
  }
  return createHmac('sha256', key).update(`${seat.roomId}\n${seat.memberId}`).digest('base64url').slice(0, 16);
}
