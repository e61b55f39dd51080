import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Express } from 'express';

/** The part of Next's custom-server API we use. */
type CreateNextServer = (options: { dev: boolean; dir: string }) => {
  prepare(): Promise<void>;
  getRequestHandler(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  close(): Promise<void>;
};

/**
 * Serve the web client's production build from this process, so the product is one origin
 * and one port (no CORS, one TLS terminator). `next build` must have run in WEB_DIR.
 */
export async function mountWeb(app: Express, webDir: string): Promise<() => Promise<void>> {
  if (!existsSync(path.join(webDir, '.next', 'BUILD_ID'))) {
    throw new Error(`No production build of the web client in ${webDir}; run \`npm run build\` first`);
  }
  // next is CommonJS whose module.exports is the factory; its types describe an ES default.
  const createNext = (await import('next')).default as unknown as CreateNextServer;
  const web = createNext({ dev: false, dir: webDir });
  await web.prepare();
  const handle = web.getRequestHandler();
  app.use((req, res) => handle(req, res));
  return () => web.close();
}
