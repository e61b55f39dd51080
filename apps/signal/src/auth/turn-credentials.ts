import { createHmac } from 'node:crypto';
import type { IceServer } from '@group-room/shared';
import type { Config } from '../config.js';

/**
 * Short-lived TURN credentials from the secret shared with coturn (`use-auth-secret`, the
 * "TURN REST API" scheme): the username is the expiry time (Unix seconds) and a label, the
 * password the base64 HMAC-SHA1 of the username under the secret. coturn checks both without
 * asking us; once the time has passed the pair is worthless. The label says nothing about
 * the person (coturn logs usernames).
 */
export function turnCredentials(
  config: Pick<Config, 'TURN_URLS' | 'TURN_SECRET' | 'TURN_CREDENTIAL_SECONDS'>,
  now: number = Date.now(),
): IceServer[] {
  if (config.TURN_URLS.length === 0 || !config.TURN_SECRET) return [];
  const expiry = Math.floor(now / 1000) + config.TURN_CREDENTIAL_SECONDS;
  const username = `${expiry}:group-room`;
  const credential = createHmac('sha1', config.TURN_SECRET).update(username).digest('base64');
  return [{ urls: config.TURN_URLS, username, credential }];
}
