import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RoomCreationInfo } from '@group-room/shared';
import express from 'express';
import { Server } from 'socket.io';
import { derivedKey } from './auth/keys.js';
import { LinkTokens } from './auth/link-tokens.js';
import { RoomCreationGate } from './auth/room-creation.js';
import { Closers } from './closers.js';
import { detectAnnouncedAddress, type Config } from './config.js';
import { ackRecordRoutes } from './http/ack-record.js';
import { clientAddress, compileTrustProxy } from './http/client-address.js';
import { healthRoutes } from './http/health.js';
import { noContentPolicy, securityHeaders, socketOriginCheck, strictTransport } from './http/security.js';
import { mountWeb } from './http/web.js';
import { LiveRooms } from './live/live-rooms.js';
import { NodeLease } from './live/node-lease.js';
import { SeatSweeper } from './live/seat-sweeper.js';
import { ViewBatcher } from './live/view-batcher.js';
import { createLogger, setRoomTagKey, type Logger } from './logger.js';
import { MediaTap } from './media/media-tap.js';
import { WorkerPool } from './media/worker-pool.js';
import { Metrics } from './metrics/metrics.js';
import { startMetricsServer } from './metrics/metrics-server.js';
import { LimitBackend, SocketsPerAddress } from './signaling/address-limits.js';
import { Connection, type SignalIo } from './signaling/connection.js';
import { requestTable } from './signaling/handlers/index.js';
import { homeHandshake } from './signaling/home-handshake.js';
import { closeWhenIdle } from './signaling/idle-sockets.js';
import { bareHandshakeCheck, countBareConnections, JOIN_TIMEOUT_MS, type BareLimits } from './signaling/bare-connections.js';
import { HandshakeLimit, mediaSetUpBurst, RequestLimits } from './signaling/request-limits.js';
import { bindRequests, MESSAGE_HARD_CAP } from './signaling/request-router.js';
import { createRoomStore } from './store/create-room-store.js';
import type { RoomStore } from './store/room-store.js';

const TALK_REPORT_MS = 1000;

export interface SignalServer {
  readonly url: string;
  readonly port: number;
  readonly io: SignalIo;
  readonly store: RoomStore;
  readonly pool: WorkerPool;
  /** The rooms this node is home to now. */
  readonly rooms: LiveRooms;
  readonly httpServer: HttpServer;
  /** The port of the Prometheus listener (METRICS_PORT), if it runs. */
  readonly metricsPort: number | undefined;
  readonly metrics: Metrics;
  /** This process's id as a signalling node (seats and room homes record it). */
  readonly nodeId: string;
  readonly lease: NodeLease;
  readonly sweeper: SeatSweeper;
  /**
   * Stop: readiness goes false, new connections are refused, this node's rooms are released
   * in the store (any other node takes them at once), connected clients are told the server
   * is going away (not that anything ended), and room state is left for the next process or
   * another node; their seats wait for them there.
   */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Called after each start-up step (tests make one fail, to check nothing is left open). */
  onStep?: (step: string) => void | Promise<void>;
}

/** Start HTTP, Socket.IO and the mediasoup workers (and the web client when SERVE_WEB). */
export async function startSignalServer(config: Config, options: StartOptions = {}): Promise<SignalServer> {
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  // Everything opened is pushed here as it opens; a start-up that fails half way closes what it
  // opened (in reverse), and so does `close()` once started.
  const closers = new Closers(log);
  const step = async (name: string) => options.onStep?.(name);
  try {
    return await start(config, log, closers, step);
  } catch (error) {
    await closers.closeAll();
    throw error;
  }
}

async function start(config: Config, log: Logger, closers: Closers, step: (name: string) => Promise<void>): Promise<SignalServer> {
  // Room tags in the log are keyed from TOKEN_SECRET: the same room has the same tag on every node.
  setRoomTagKey(derivedKey(config.TOKEN_SECRET, 'log-tags'));
  const metrics = new Metrics();
  const store = await createRoomStore(config, log, () => metrics.redisFailed());
  closers.push('store', () => store.close());
  await step('store');

  const pool = await WorkerPool.create({
    count: config.MEDIASOUP_WORKERS,
    logLevel: config.MEDIASOUP_LOG_LEVEL,
    listenIp: config.MEDIA_LISTEN_IP,
    announcedAddress: config.MEDIA_ANNOUNCED_ADDRESS ?? detectAnnouncedAddress(),
    basePort: config.MEDIA_PORT,
    maxRouters: config.MAX_MEDIA_ROOMS,
    log,
  });
  closers.push('media workers', () => pool.close());
  await step('workers');

  // Tests only (refused in production): closed after the rooms, so it has their last packets.
  const tap = config.MEDIA_TAP_FILE ? await MediaTap.open(config.MEDIA_TAP_FILE, log) : undefined;
  if (tap) {
    log.warn('MEDIA_TAP_FILE is set: every media packet is written to a file (tests only)');
    closers.push('media tap', () => tap.close());
  }

  const node = { id: randomUUID(), name: config.NODE_NAME };
  let draining = false;
  const batcher = new ViewBatcher((error) => log.error('could not send a view', { error: error instanceof Error ? error.message : String(error) }));
  // The lease's loss closes the rooms (called only once both exist), which need the lease to act.
  const lease = new NodeLease(store, node, { log, onLost: () => live.closeAll('released') });
  const live = new LiveRooms(store, node, lease, { store, pool, config, log, batcher, leaseValid: () => lease.valid(), tap });
  await lease.start();
  closers.push('lease', async () => {
    lease.stop();
    // Leaving cleanly: the rooms' homes are released, so any node takes them at once.
    await store.releaseHomes(node).catch(() => undefined);
  });
  closers.push('rooms', async () => {
    batcher.flush();
    await Promise.all([...live.values()].map((room) => room.saveTalk()));
    live.closeAll('stopping');
  });
  await step('lease');

  /** Every socket open on this node now, by the connection id seats record. */
  const connections = new Set<string>();
  const sweeper = new SeatSweeper({
    store,
    rooms: live,
    lease,
    graceMs: config.SEAT_GRACE_SECONDS * 1000,
    agreementIdleMs: config.AGREEMENT_IDLE_SECONDS * 1000,
    connections: () => connections,
    log,
  });
  sweeper.start();
  closers.push('sweeper', () => sweeper.stop());
  // Facilitators' talk-time bars are live: about once a second is enough to read them.
  const talkTimer = setInterval(() => live.reportTalkTime(), TALK_REPORT_MS);
  talkTimer.unref();
  closers.push('talk time', () => clearInterval(talkTimer));
  metrics.watch({
    people: () => live.people(),
    media: () => pool.loads,
    workerUsage: () => pool.usage(),
    draining: () => draining,
    leaseValid: () => lease.valid(),
  });

  const metricsServer =
    config.METRICS_PORT === undefined
      ? undefined
      : await startMetricsServer(metrics.registry, { port: config.METRICS_PORT, host: config.METRICS_HOST, token: config.METRICS_TOKEN });
  if (metricsServer) closers.push('metrics listener', () => metricsServer.close());
  await step('metrics');

  const tokens = new LinkTokens(config.TOKEN_SECRET);
  const limits = await LimitBackend.open(config);
  closers.push('limits', () => limits.close());
  await step('limits');
  const roomCreation = new RoomCreationGate(config, limits, metrics);
  metrics.watchAccessKeys(() => roomCreation.ceilingReached());
  const socketsPerAddress = new SocketsPerAddress(config.SOCKETS_PER_ADDRESS);
  const handshakes = new HandshakeLimit({ perSecond: config.HANDSHAKES_PER_SECOND, burst: config.HANDSHAKE_BURST });
  // Whose X-Forwarded-* are believed (TRUST_PROXY): the same for pages and for sockets.
  const trustProxy = compileTrustProxy(config.TRUST_PROXY);

  const app = express();
  app.disable('x-powered-by');
  // X-Forwarded-* (HTTPS, the client's address) are believed only from the proxies in TRUST_PROXY.
  app.set('trust proxy', trustProxy);
  app.use(securityHeaders, strictTransport);
  app.use(['/healthz', '/readyz', '/api'], noContentPolicy);
  app.use(healthRoutes(() => ({ draining, workers: pool.serving, lease: lease.valid() })));
  // The start page asks whether to show the access-key field.
  app.get('/api/room-creation', (_req, res) => {
    const info: RoomCreationInfo = { mode: roomCreation.mode };
    res.json(info);
  });
  // An ended session's acknowledgement record, handed to its facilitator once (POST, token in the body).
  app.use(ackRecordRoutes({ store, tokens, limits, trustProxy, log }));
  if (config.SERVE_WEB) closers.push('web client', await mountWeb(app, config.WEB_DIR));
  await step('web');

  const httpServer = createServer(app);
  const bare: BareLimits = {
    addressOf: (req) => limits.addressKey(clientAddress(req, trustProxy)),
    socketsPerAddress: config.SOCKETS_PER_ADDRESS,
    handshakeBurst: config.HANDSHAKE_BURST,
    handshakesPerSecond: config.HANDSHAKES_PER_SECOND,
    refused: (why) => metrics.handshakeRefused(why),
  };
  const io: SignalIo = new Server(httpServer, {
    serveClient: false,
    // Every client speaks WebSocket only: no long-polling requests to hold open or parse.
    transports: ['websocket'],
    // A message a little over MAX_MESSAGE_BYTES still arrives, to be answered TOO_LARGE (see
    // request-router.ts); past this hard cap the connection is closed without an answer.
    maxHttpBufferSize: MESSAGE_HARD_CAP,
    allowRequest: bareHandshakeCheck(socketOriginCheck(config.CORS_ORIGINS), bare),
    // A connection that never joins the namespace (so never meets the limits below) goes soon.
    connectTimeout: JOIN_TIMEOUT_MS,
    ...(config.CORS_ORIGINS.length ? { cors: { origin: config.CORS_ORIGINS } } : {}),
  });
  countBareConnections(io, bare);
  // Closed first: clients are told, then their sockets (and the HTTP server) close.
  closers.push('sockets', async () => {
    io.emit('server:draining', {});
    await io.close();
  });
  // Draining: nobody new connects here; clients reconnect to the next process or another node.
  io.use((_socket, next) => next(draining ? new Error('This server is restarting') : undefined));
  // One address opens at most HANDSHAKE_BURST sockets at once here, then HANDSHAKES_PER_SECOND,
  // and holds at most SOCKETS_PER_ADDRESS open; both are taken before any await (first, so a
  // flood of handshakes costs no Redis call).
  io.use((socket, next) => {
    if (socket.conn.readyState !== 'open') return next(new Error('Connection closed'));
    const addressKey = limits.addressKey(clientAddress(socket.request, trustProxy));
    if (!handshakes.take(addressKey)) {
      metrics.handshakeRefused('rate');
      return next(new Error('Too many new connections from your network: wait a moment'));
    }
    const release = socketsPerAddress.take(addressKey);
    if (!release) {
      metrics.handshakeRefused('sockets');
      return next(new Error('Too many connections from your network'));
    }
    socket.data.addressKey = addressKey;
    // Socket.IO drops a socket whose connection closed between its middleware and its
    // connect without a 'disconnect'; the connection's own close always comes.
    socket.once('disconnect', release);
    socket.conn.once('close', release);
    next();
  });
  // A room's sockets are all served by its home node (see home-handshake.ts).
  io.use(homeHandshake(live, lease.leaseMs));
  const deps = { store, rooms: live, tokens, roomCreation, config, log, nodeId: node.id, draining: () => draining, metrics };
  io.on('connection', (socket) => {
    const connection = new Connection(socket, deps);
    const requestLimits = new RequestLimits({ perSecond: config.SOCKET_REQUESTS_PER_SECOND, inFlight: mediaSetUpBurst(config.ROOM_CAPACITY) });
    bindRequests(socket, requestTable(connection, deps), log, requestLimits, metrics, () => batcher.sent());
    connections.add(connection.connectionId);
    socket.on('disconnect', () => connections.delete(connection.connectionId));
    // A socket in no room is closed after IDLE_SOCKET_SECONDS: nobody holds sockets for nothing.
    closeWhenIdle(socket, () => connection.entered !== undefined || connection.entering, config.IDLE_SOCKET_SECONDS * 1000);
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.PORT, config.HOST, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  await step('listening');
  const { port } = httpServer.address() as AddressInfo;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST;
  const url = `http://${host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      draining = true;
      await closers.closeAll();
    })());

  return { url, port, io, store, pool, rooms: live, httpServer, nodeId: node.id, lease, sweeper, metricsPort: metricsServer?.port, metrics, close };
}
