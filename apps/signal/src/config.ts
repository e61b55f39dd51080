import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeName } from '@group-room/shared';
import { z } from 'zod';
import { trustProxyProblem } from './http/client-address.js';
import { mediaSetUpBurst } from './signaling/request-limits.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The host name, as a routing name (lower case, letters, digits and dashes). */
function defaultNodeName(): string {
  const name = os.hostname().toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+/, '').slice(0, 32);
  return NodeName.safeParse(name).success ? name : 'node';
}

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const port = z.coerce.number().int().min(0).max(65535);

/** Environment variables the signal server reads; every one is validated at start-up. */
export const ConfigSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** The address media is sent to, as browsers must reach it (public IP or hostname). */
  MEDIA_ANNOUNCED_ADDRESS: z.string().min(1).optional(),
  MEDIA_LISTEN_IP: z.ipv4().or(z.ipv6()).default('0.0.0.0'),
  /** Worker i listens for WebRTC (UDP and TCP) on MEDIA_PORT + i; 0 picks free ports. */
  MEDIA_PORT: port.default(40000),
  MEDIASOUP_WORKERS: z.coerce.number().int().min(1).max(64).default(Math.min(os.availableParallelism(), 64)),
  MEDIASOUP_LOG_LEVEL: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  REDIS_KEY_PREFIX: z.string().max(64).default('group-room:'),
  ROOM_CAPACITY: z.coerce.number().int().min(2).max(50).default(16),
  /** Live sessions held at once: by this process in memory, by all nodes together with Redis. */
  MAX_ROOMS: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  /** Rooms with media running in this process at once (one mediasoup router each). */
  MAX_MEDIA_ROOMS: z.coerce.number().int().min(1).max(100_000).default(200),
  /** Sockets one address may hold open on this node at once; a clinic or a family behind one router shares it. */
  SOCKETS_PER_ADDRESS: z.coerce.number().int().min(1).max(100_000).default(64),
  /** Sessions one address may create per hour (across all nodes with Redis). */
  ROOMS_PER_ADDRESS_PER_HOUR: z.coerce.number().int().min(1).max(100_000).default(20),
  /**
   * The TLS proxies in front of this node (comma-separated addresses or CIDRs, or `loopback`,
   * `linklocal`, `uniquelocal`): only their X-Forwarded-For and X-Forwarded-Proto are believed,
   * read from the right (see http/client-address.ts). Every per-address limit counts by it.
   */
  TRUST_PROXY: z
    .string()
    .default('loopback')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .superRefine((entries, ctx) => {
      const problem = trustProxyProblem(entries);
      if (problem) ctx.addIssue({ code: 'custom', message: `must be addresses, CIDRs, loopback, linklocal or uniquelocal (${problem})` });
    }),
  /** Wrong facilitator access keys the whole deployment takes per hour; past it only addresses that created sessions lately may try. */
  ACCESS_KEY_GUESSES_PER_HOUR: z.coerce.number().int().min(1).max(1_000_000).default(300),
  /** New sockets one address may open per second on this node, after a burst of HANDSHAKE_BURST. */
  HANDSHAKES_PER_SECOND: z.coerce.number().int().min(1).max(1_000_000).default(10),
  HANDSHAKE_BURST: z.coerce.number().int().min(1).max(1_000_000).default(30),
  /** A socket that has not entered a room this long after connecting (or after leaving one) is closed. */
  IDLE_SOCKET_SECONDS: z.coerce.number().int().min(1).max(24 * 3600).default(60),
  /** Room state expires this long after its session's scheduled end: nothing outlives a session for long. */
  ROOM_GRACE_SECONDS: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(3600),
  /** How long an ended session's acknowledgement record (who agreed to which text, when) is kept. */
  ACK_RETENTION_SECONDS: z.coerce.number().int().min(60).max(90 * 24 * 3600).default(7 * 24 * 3600),
  /** `production` refuses to start with room creation open unless ROOM_CREATION says so. */
  NODE_ENV: z.string().optional(),
  /**
   * Who may create rooms: `open` (anyone who reaches the start page) or `key` (whoever has
   * ROOM_CREATION_KEY). Unset: `key` when a key is set, else `open` (but not in production).
   */
  ROOM_CREATION: z.enum(['open', 'key']).optional(),
  /** The facilitator access key the start page asks for (a passphrase the operator hands out). */
  ROOM_CREATION_KEY: z.string().min(12, 'must be at least 12 characters').optional(),
  /** How far ahead a session may be scheduled; links live until its end (plus the grace). */
  ROOM_HORIZON_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  /** How long a seat is kept after its connection drops, for the person to come back to it. */
  SEAT_GRACE_SECONDS: z.coerce.number().int().min(5).max(3600).default(120),
  /** Someone who has not accepted the entry agreement this long after arriving is let go (they hold a place in the line). */
  AGREEMENT_IDLE_SECONDS: z.coerce.number().int().min(30).max(24 * 3600).default(600),
  /*
   * The way in (the agreement and the waiting room) holds as many as the room; these keep one
   * holder of a link from filling it (see room/capacity.ts, checkWayIn).
   */
  /** People on their way in to one session from one address at once: a family or a clinic behind one router. */
  ENTRY_PER_ADDRESS: z.coerce.number().int().min(1).max(100_000).default(4),
  /** People on their way in with one personal invite link at once: it is one person's (two: a second tab or device). */
  ENTRY_PER_INVITE: z.coerce.number().int().min(1).max(50).default(2),
  /** Places on the way in the shared invite link leaves to personal links (at most a quarter of the room's). */
  ENTRY_RESERVED: z.coerce.number().int().min(0).max(50).default(2),
  /** Requests one connection may make per second (a burst of this many, then RATE_LIMITED until the second is over). */
  SOCKET_REQUESTS_PER_SECOND: z.coerce.number().int().min(1).max(1_000_000).default(120),
  /**
   * This node's routing name: with several nodes behind one proxy, a client is handed over to
   * a room's home node by this name, and the proxy routes `?node=<name>` to it.
   */
  NODE_NAME: NodeName.default(defaultNodeName()),
  /** Signs links and resume credentials; required with Redis (the same on every node, kept across restarts). */
  TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SERVE_WEB: bool.default(true),
  WEB_DIR: z.string().default(path.resolve(here, '../../web')),
  /** Extra origins allowed to open a socket (comma-separated); the same origin always may. */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Load tests only: let synthetic members use plain RTP transports (refused in production). */
  SYNTHETIC_MEDIA: bool.default(false),
  /**
   * Tests only (refused in production): append every RTP packet every producer sends to this
   * file, one JSON line each (see media/media-tap.ts), to check the server sees only ciphertext.
   */
  MEDIA_TAP_FILE: z.string().min(1).max(4096).optional(),
  /** Serve Prometheus metrics on this port (its own listener, never the public one); unset: off. */
  METRICS_PORT: port.optional(),
  /** Address the metrics listener binds to: loopback unless Prometheus scrapes from elsewhere. */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** If set, a scrape must send `Authorization: Bearer <token>`. */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /**
   * TURN relays handed to browsers with `media:join` (comma-separated), e.g.
   * `turn:turn.example.org:3478?transport=udp,turn:turn.example.org:3478?transport=tcp,turns:turn.example.org:443?transport=tcp`.
   */
  TURN_URLS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^turns?:\S+$/, 'each must start with turn: or turns:')).max(8)),
  /**
   * coturn's `static-auth-secret`: each admitted person's credentials are made from it (their
   * own opaque label, derived from it too), never the secret itself.
   */
  TURN_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /**
   * The most a TURN credential can last from when it is handed out. It ends with the session
   * (when its room expires: its scheduled end plus ROOM_GRACE_SECONDS), so this only caps it; the default covers the longest
   * session (4 h), as a relay's refreshes need it to the end.
   */
  TURN_CREDENTIAL_SECONDS: z.coerce.number().int().min(60).max(24 * 3600).default(4 * 3600),
});

/*
 * With Redis, rooms outlive this process, so their links and resume credentials must too: a
 * random per-process secret would lock everyone out after a restart.
 */
const CheckedConfig = ConfigSchema.superRefine((config, ctx) => {
  if (config.REDIS_URL && !config.TOKEN_SECRET) {
    ctx.addIssue({ code: 'custom', path: ['TOKEN_SECRET'], message: 'is required when REDIS_URL is set (the same on every node), so links survive a restart' });
  }
  // A client starting media in a full room resumes two consumers per other person at once.
  const burst = mediaSetUpBurst(config.ROOM_CAPACITY);
  if (config.SOCKET_REQUESTS_PER_SECOND < burst) {
    ctx.addIssue({
      code: 'custom',
      path: ['SOCKET_REQUESTS_PER_SECOND'],
      message: `must be at least ${burst} with ROOM_CAPACITY=${config.ROOM_CAPACITY} (2 × capacity + 16), so a client's media set-up in a full room fits`,
    });
  }
  if (config.SYNTHETIC_MEDIA && config.NODE_ENV === 'production') {
    ctx.addIssue({ code: 'custom', path: ['SYNTHETIC_MEDIA'], message: 'is for load tests only and cannot be used in production' });
  }
  if (config.MEDIA_TAP_FILE && config.NODE_ENV === 'production') {
    ctx.addIssue({ code: 'custom', path: ['MEDIA_TAP_FILE'], message: 'is for tests only and cannot be used in production' });
  }
  if (config.TURN_URLS.length > 0 && !config.TURN_SECRET) {
    ctx.addIssue({ code: 'custom', path: ['TURN_SECRET'], message: 'is required with TURN_URLS (the static-auth-secret coturn is started with)' });
  }
  if (config.ROOM_CREATION === 'key' && !config.ROOM_CREATION_KEY) {
    ctx.addIssue({ code: 'custom', path: ['ROOM_CREATION_KEY'], message: 'is required when ROOM_CREATION=key' });
  }
  // Anyone on the internet creating rooms is a choice an operator makes, never a default.
  if (config.NODE_ENV === 'production' && !config.ROOM_CREATION && !config.ROOM_CREATION_KEY) {
    ctx.addIssue({
      code: 'custom',
      path: ['ROOM_CREATION'],
      message: 'must be set in production: set ROOM_CREATION_KEY (facilitators need it to create rooms), or ROOM_CREATION=open to let anyone create rooms',
    });
  }
}).transform((config) => ({ ...config, ROOM_CREATION: config.ROOM_CREATION ?? (config.ROOM_CREATION_KEY ? ('key' as const) : ('open' as const)) }));

export type Config = z.output<typeof CheckedConfig>;

export class ConfigError extends Error {}

/** Parse the environment; a bad value ends start-up with one line per problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(ConfigSchema.shape)
      .filter((key) => env[key] !== undefined && env[key] !== '')
      .map((key) => [key, env[key]]),
  );
  const parsed = CheckedConfig.safeParse(known);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** The address to announce when none is configured: the first external IPv4, else loopback. */
export function detectAnnouncedAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return '127.0.0.1';
}
