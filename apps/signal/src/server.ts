import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectQuery, MAX_MESSAGE_BYTES, type ConnectRefusal, type RoomCreationInfo } from '@group-room/shared';
import express from 'express';
import { Server } from 'socket.io';
import { detectAnnouncedAddress, type Config } from './config.js';
import { healthRoutes } from './http/health.js';
import { socketOriginCheck, strictTransport } from './http/security.js';
import { mountWeb } from './http/web.js';
import { createLogger, type Logger } from './logger.js';
import { RoomRegistry } from './media/room-registry.js';
import { Metrics } from './metrics/metrics.js';
import { startMetricsServer } from './metrics/metrics-server.js';
import { WorkerPool } from './media/worker-pool.js';
import { PeerSession, type SignalIo } from './signaling/peer-session.js';
import { LinkTokens } from './auth/link-tokens.js';
import { clientAddress, RoomCreationGate } from './auth/room-creation.js';
import { LimitBackend, SocketsPerAddress } from './signaling/address-limits.js';
import { RoomHub } from './signaling/room-hub.js';
import { RoomHomes } from './signaling/room-homes.js';
import { SeatSweeper } from './signaling/seat-sweeper.js';
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
  /** The port of the Prometheus listener (METRICS_PORT), if it runs. */
  readonly metricsPort: number | undefined;
  readonly metrics: Metrics;
  /** This process's id as a signalling node (seats record it). */
  readonly nodeId: string;
  readonly sweeper: SeatSweeper;
  /**
   * Stop: readiness goes false, new connections are refused, connected clients are told the
   * server is going away (not that anything ended), and room state is left as it is for the
   * next process (or another node) to pick up; their seats wait for them there.
   */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
}

/** Start HTTP, Socket.IO and the mediasoup workers (and the web client when SERVE_WEB). */
export async function startSignalServer(config: Config, options: StartOptions = {}): Promise<SignalServer> {
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  const metrics = new Metrics();
  const store = await createRoomStore(config, log, () => metrics.redisFailed());
  const pool = await WorkerPool.create({
    count: config.MEDIASOUP_WORKERS,
    logLevel: config.MEDIASOUP_LOG_LEVEL,
    listenIp: config.MEDIA_LISTEN_IP,
    announcedAddress: config.MEDIA_ANNOUNCED_ADDRESS ?? detectAnnouncedAddress(),
    basePort: config.MEDIA_PORT,
    maxRouters: config.MAX_MEDIA_ROOMS,
    log,
  }).catch(async (error: unknown) => {
    await store.close();
    throw error;
  });
  const nodeId = randomUUID();
  let draining = false;
  const rooms = new RoomRegistry(pool, (roomId) => store.loadTalk(roomId));
  const hub = new RoomHub(store, rooms, config, log, nodeId);
  /** Every socket open on this node now, by the connection id seats record. */
  const connections = new Set<string>();
  const homes = new RoomHomes(store, { id: nodeId, name: config.NODE_NAME });
  const sweeper = new SeatSweeper({
    store,
    nodeId,
    nodeName: config.NODE_NAME,
    serving: (roomId) => hub.serving(roomId),
    release: (roomId) => hub.release(roomId),
    adopt: (state) => hub.adopt(state),
    graceMs: config.SEAT_GRACE_SECONDS * 1000,
    agreementIdleMs: config.AGREEMENT_IDLE_SECONDS * 1000,
    connections: () => connections,
    apply: (roomId, change) => hub.queued(roomId, change),
    log,
  });
  await sweeper.start().catch(async (error: unknown) => {
    pool.close();
    await store.close();
    throw error;
  });
  // Facilitators' talk-time bars are live: about once a second is enough to read them.
  const talkTimer = setInterval(() => hub.reportTalkTime(), TALK_REPORT_MS);
  talkTimer.unref();
  metrics.watch({
    people: () => hub.people(),
    media: () => pool.loads,
    workerUsage: () => pool.usage(),
    draining: () => draining,
  });
  const metricsServer =
    config.METRICS_PORT === undefined
      ? undefined
      : await startMetricsServer(metrics.registry, { port: config.METRICS_PORT, host: config.METRICS_HOST, token: config.METRICS_TOKEN });
  const tokens = new LinkTokens(config.TOKEN_SECRET);
  const limits = await LimitBackend.open(config);
  const roomCreation = new RoomCreationGate(config, limits);
  const socketsPerAddress = new SocketsPerAddress(config.SOCKETS_PER_ADDRESS);

  const app = express();
  app.disable('x-powered-by');
  // X-Forwarded-* (HTTPS, the client's address) are believed only from a proxy on this machine.
  app.set('trust proxy', 'loopback');
  app.use(strictTransport);
  app.use(healthRoutes(pool, store, () => draining));
  // The start page asks whether to show the access-key field.
  app.get('/api/room-creation', (_req, res) => {
    const info: RoomCreationInfo = { mode: roomCreation.mode };
    res.json(info);
  });
  const closeWeb = config.SERVE_WEB ? await mountWeb(app, config.WEB_DIR) : async () => undefined;

  const httpServer = createServer(app);
  const io: SignalIo = new Server(httpServer, {
    serveClient: false,
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    allowRequest: socketOriginCheck(config.CORS_ORIGINS),
    ...(config.CORS_ORIGINS.length ? { cors: { origin: config.CORS_ORIGINS } } : {}),
  });
  // Draining: nobody new connects here; clients reconnect to the next process or another node.
  io.use((_socket, next) => next(draining ? new Error('This server is restarting') : undefined));
  // One address holds at most SOCKETS_PER_ADDRESS sockets here; the place is taken before any
  // await (first, so a flood of handshakes costs no Redis call).
  io.use((socket, next) => {
    const { handshake } = socket;
    if (socket.conn.readyState !== 'open') return next(new Error('Connection closed'));
    const release = socketsPerAddress.take(limits.addressKey(clientAddress(handshake.address, handshake.headers['x-forwarded-for'])));
    if (!release) return next(new Error('Too many connections from your network'));
    // Socket.IO drops a socket whose connection closed between its middleware and its
    // connect without a 'disconnect'; the connection's own close always comes.
    socket.once('disconnect', release);
    socket.conn.once('close', release);
    next();
  });
  // A room's sockets are all served by its home node: a connection for a room another live
  // node serves is refused with that node's name, and the client connects again with it as a
  // hint the proxy routes by (see infra/README.md).
  io.use((socket, next) => {
    const query = ConnectQuery.safeParse(socket.handshake.query);
    const room = query.success ? query.data.room : undefined;
    if (!room) return next();
    homes.claim(room, query.success ? query.data.node : undefined).then(
      (where) => {
        if (typeof where !== 'object') return next();
        const refusal: ConnectRefusal = { code: 'ELSEWHERE', node: where.elsewhere };
        next(Object.assign(new Error('This session is served by another node'), { data: refusal }));
      },
      // The store is unreachable: let the connection in, its requests will say so.
      () => next(),
    );
  });
  io.on('connection', (socket) => {
    const session = new PeerSession(socket, { store, rooms, hub, tokens, roomCreation, config, log, nodeId, draining: () => draining, metrics, homes });
    connections.add(session.connectionId);
    socket.on('disconnect', () => connections.delete(session.connectionId));
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
      draining = true;
      clearInterval(talkTimer);
      hub.close();
      await sweeper.stop({ forget: true });
      io.emit('server:draining', {});
      await io.close(); // also closes httpServer
      rooms.closeAll();
      pool.close();
      await closeWeb();
      await metricsServer?.close();
      await limits.close();
      await store.close();
    })());

  return { url, port, io, store, pool, rooms, httpServer, nodeId, sweeper, metricsPort: metricsServer?.port, metrics, close };
}
