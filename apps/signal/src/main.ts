import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startSignalServer } from './server.js';

/** Process entry: read config, start, print the URL, stop cleanly on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.LOG_LEVEL);
  // A media worker that dies is replaced inside the server (see WorkerPool); the process goes on.
  const server = await startSignalServer(config, { log });
  log.info('listening', { url: server.url, store: config.REDIS_URL ? 'redis' : 'memory', workers: config.MEDIASOUP_WORKERS });
  process.stdout.write(`\nGroup room is running: open ${server.url}\n\n`);

  const stop = () => {
    // Room state stays in the store (with Redis): clients resume on the next process or another node.
    log.info('shutting down: clients are told to reconnect');
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
