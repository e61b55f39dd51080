import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/*
 * What keeps other web pages out. CORS does not apply to WebSockets, so any page a member
 * visits could open a socket to us with their cookies-free but same-browser context: the
 * socket server itself checks the Origin. Every HTTP answer carries helmet's headers; HSTS
 * once the request came over HTTPS (the TLS proxy in front says so in X-Forwarded-Proto,
 * believed only from a proxy named in TRUST_PROXY, see express's 'trust proxy').
 */

/**
 * Browsers send Origin on every WebSocket handshake and cross-origin request: it must be this
 * server's own origin (its Host, as the browser reached it) or one of the configured ones.
 * Without an Origin it is not a browser page (a native client or a test) and may connect.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, extra: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (extra.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** Socket.IO's `allowRequest`: refuse handshakes and upgrades from foreign pages. */
export function socketOriginCheck(extra: readonly string[]) {
  return (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    callback(null, originAllowed(req.headers.origin, req.headers.host, extra));
  };
}

const ONE_YEAR = 365 * 24 * 3600;

/**
 * helmet's headers on every answer: no sniffing, no framing, no referrer (room links are
 * secrets), a window and resources of this origin's own. Its Content Security Policy is left
 * to each kind of answer: the pages get theirs from Next (apps/web/proxy.ts, with a fresh
 * nonce each), express's own answers `noContentPolicy`; HSTS to `strictTransport`.
 */
export const securityHeaders: RequestHandler = helmet({
  contentSecurityPolicy: false,
  strictTransportSecurity: false,
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
});

/** For answers that are data (health, readiness, the API): nothing in them may load, run or be framed. */
export const noContentPolicy: RequestHandler = helmet.contentSecurityPolicy({
  useDefaults: false,
  directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
});

const hsts = helmet.strictTransportSecurity({ maxAge: ONE_YEAR, includeSubDomains: true });

/** HSTS over HTTPS; never over plain HTTP (it would be ignored, and localhost must stay reachable). */
export const strictTransport: RequestHandler = (req, res, next) => {
  if (req.secure) hsts(req, res, next);
  else next();
};
