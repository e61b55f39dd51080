import { Router } from 'express';

export interface Readiness {
  draining: boolean;
  /** The media workers can give routers (a worker being replaced does not count against it). */
  workers: boolean;
  /** This node's lease is live: it can serve its rooms (a store blip shorter than the lease does not count). */
  lease: boolean;
}

/**
 * /healthz: the process answers. /readyz: this node can serve its rooms, which is what the
 * proxy needs to know: not draining, media workers serving, and its lease live. Deliberately
 * not "the store answered this very request": a one-second Redis blip would otherwise make
 * every node refuse the start page at once.
 */
export function healthRoutes(readiness: () => Readiness): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    const checks = readiness();
    const ready = !checks.draining && checks.workers && checks.lease;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  return router;
}
