import type { Connection, NodeDeps } from '../connection.js';
import type { ServedRequests } from '../request-router.js';
import { checkoutHandlers } from './checkout-handlers.js';
import { e2eeHandlers } from './e2ee-handlers.js';
import { loadTestHandlers } from './load-test-handlers.js';
import { mediaHandlers } from './media-handlers.js';
import { roomHandlers } from './room-handlers.js';
import { seatHandlers } from './seat-handlers.js';

/** The request table of one connection: every handler module, the load-test one only when SYNTHETIC_MEDIA is on. */
export function requestTable(conn: Connection, deps: NodeDeps): ServedRequests {
  return {
    ...seatHandlers(conn, deps),
    ...roomHandlers(conn, deps),
    ...mediaHandlers(conn, deps),
    ...e2eeHandlers(conn),
    ...checkoutHandlers(conn),
    ...(deps.config.SYNTHETIC_MEDIA ? loadTestHandlers(conn) : {}),
  };
}
