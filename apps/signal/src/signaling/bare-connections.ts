import type { IncomingMessage } from 'node:http';
import type { SignalIo } from './connection.js';
import { SocketsPerAddress } from './address-limits.js';
import { HandshakeLimit } from './request-limits.js';

/*
 * Limits on the Engine.IO connections under the sockets. The per-address limits in server.ts
 * run as Socket.IO middleware, which only a connection that joins the namespace reaches; a
 * bare connection that never joins would pass them by. So the connections themselves are
 * counted too, per address, with a little more room than the sockets (a client's connection
 * is counted here before its socket is counted there, so an ordinary client is refused by the
 * socket limit first, with its message), and one that has not joined within JOIN_TIMEOUT_MS is
 * closed by Socket.IO (`connectTimeout`).
 */

/** How many more bare connections than sockets an address may hold open. */
export const BARE_MARGIN = 8;
/** A connection that has not joined the namespace by then is closed (Socket.IO's `connectTimeout`). */
export const JOIN_TIMEOUT_MS = 5000;

export interface BareLimits {
  /** The key per-address limits count by, for a connection's request. */
  addressOf: (req: IncomingMessage) => string;
  socketsPerAddress: number;
  handshakeBurst: number;
  handshakesPerSecond: number;
  /** Counted in the metrics. */
  refused: (why: 'rate' | 'sockets') => void;
}

/** Socket.IO's `allowRequest`, the origin check first, then new connections per address. */
export function bareHandshakeCheck(
  originCheck: (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => void,
  limits: BareLimits,
) {
  // Twice the sockets' rate: an ordinary client meets the sockets' limit, and its message, first.
  const handshakes = new HandshakeLimit({ perSecond: 2 * limits.handshakesPerSecond, burst: 2 * limits.handshakeBurst });
  return (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    originCheck(req, (err, allowed) => {
      if (!allowed) return callback(err, false);
      if (handshakes.take(limits.addressOf(req))) return callback(null, true);
      limits.refused('rate');
      callback('Too many new connections from your network: wait a moment', false);
    });
  };
}

/** Count every Engine.IO connection per address while it is open; past the bound it is closed at once. */
export function countBareConnections(io: SignalIo, limits: BareLimits): void {
  const open = new SocketsPerAddress(limits.socketsPerAddress + BARE_MARGIN);
  io.engine.on('connection', (connection: { request: IncomingMessage; once(event: 'close', listener: () => void): void; close(): void }) => {
    const release = open.take(limits.addressOf(connection.request));
    if (!release) {
      limits.refused('sockets');
      connection.close();
      return;
    }
    connection.once('close', release);
  });
}
