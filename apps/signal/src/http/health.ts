import { Router } from 'express';
import type { WorkerPool } from '../media/worker-pool.js';
import type { RoomStore } from '../store/room-store.js';

/** /healthz: the process answers. /readyz: not draining, media workers alive and the store reachable. */
export function healthRoutes(pool: WorkerPool, store: RoomStore, draining: () => boolean): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const checks = { draining: draining(), workers: pool.healthy, store: true };
    try {
      await Promise.race([
        store.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000).unref()),
      ]);
    } catch {
      checks.store = false;
    }
    const ready = !checks.draining && checks.workers && checks.store;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  return router;
}
