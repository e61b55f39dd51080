import type { Connection } from '../connection.js';
import type { RequestHandlers } from '../request-router.js';

/**
 * Synthetic members for load tests: plain RTP transports (no ICE, no DTLS). Registered only
 * when SYNTHETIC_MEDIA is on, which production refuses to start with: without it these
 * requests have no handler at all.
 */
export function loadTestHandlers(conn: Connection): Pick<RequestHandlers, 'transport:createPlain' | 'transport:connectPlain'> {
  return {
    'transport:createPlain': async ({ direction, srtp }) => {
      const { memberId, media } = conn.requireMedia();
      return media.createPlainTransport(memberId, direction, srtp);
    },

    'transport:connectPlain': async ({ transportId, ip, port }) => {
      const { memberId, media } = conn.requireMedia();
      await media.connectPlain(memberId, transportId, ip, port);
      return {};
    },
  };
}
