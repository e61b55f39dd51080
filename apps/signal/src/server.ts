import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_MESSAGE_BYTES } from '@group-room/shared';
import express from 'express';
import { Server } from 'socket.io';
import { detectAnnouncedAddress, type Config } from './config.js';
import { healthRoutes } from './http/health.js';
import { mountWeb } from './http/web.js';
import { createLogger, type Logger } from './logger.js';
import { RoomRegistry } from './media/room-registry.js';
import { WorkerPool } from './media/worker-pool.js';
import { PeerSession, type SignalIo } from './signaling/peer-session.js';
import { LinkTokens } from './auth/link-tokens.js';
import { RoomHub } from './signaling/room-hub.js';
import { createRoomStore } from './store/create-room-store.js';
import type { RoomStore } from './store/room-store.js';

const TALK_REPORT_MS = 1000;

export interface SignalServer {
  readonly url: string;
  readonly port: number;
  readonly io: SignalIo;
  readonly store: RoomStore;
  readonly pool: WorkerPool;
  readonly rooms: RoomRegistry;
  readonly httpServer: HttpServer;
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Called when a media worker dies; by default the server logs it and /readyz fails. */
  onFatal?: (error: Error) => void;
}

/** Start HTTP, Socket.IO and the mediasoup workers (and the web client when SERVE_WEB). */
export async function startSignalServer(config: Config, options: StartOptions = {}): Promise<SignalServer> {
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  const store = await createRoomStore(config);
  const pool = await WorkerPool.create({
    count: config.MEDIASOUP_WORKERS,
    logLevel: config.MEDIASOUP_LOG_LEVEL,
    listenIp: config.MEDIA_LISTEN_IP,
    announcedAddress: config.MEDIA_ANNOUNCED_ADDRESS ?? detectAnnouncedAddress(),
    basePort: config.MEDIA_PORT,
    log,
    onWorkerDied: (error) => options.onFatal?.(error),
  }).catch(async (error: unknown) => {
    await store.close();
    throw error;
  });
  const rooms = new RoomRegistry(pool);
  const hub = new RoomHub(store, rooms, config, log);
  // Facilitators' talk-time bars are live: about once a second is enough to read them.
  const talkTimer = setInterval(() => hub.reportTalkTime(), TALK_REPORT_MS);
  talkTimer.unref();
  const tokens = new LinkTokens(config.TOKEN_SECRET);
  if (config.REDIS_URL && !config.TOKEN_SECRET) log.warn('TOKEN_SECRET is not set: links work only on this node and until it restarts');

  const app = express();
  app.disable('x-powered-by');
  app.use(healthRoutes(pool, store));
  const closeWeb = config.SERVE_WEB ? await mountWeb(app, config.WEB_DIR) : async () => undefined;

  const httpServer = createServer(app);
  const io: SignalIo = new Server(httpServer, {
    serveClient: false,
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    ...(config.CORS_ORIGINS.length ? { cors: { origin: config.CORS_ORIGINS } } : {}),
  });
  io.on('connection', (socket) => {
    new PeerSession(socket, { store, rooms, hub, tokens, config, log });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.PORT, config.HOST, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST;
  const url = `http://${host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(talkTimer);
      hub.close();
      io.emit('room:ended', { reason: 'server-shutdown' });
      await io.close(); // also closes httpServer
      rooms.closeAll();
      pool.close();
      await closeWeb();
      await store.close();
    })());

  return { url, port, io, store, pool, rooms, httpServer, close };
}
