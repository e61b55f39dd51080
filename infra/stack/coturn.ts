import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startChild, waitForPort, type Child } from './processes.js';

/*
 * coturn (Debian's `turnserver`) as the stack's relay: time-limited credentials from a shared
 * secret (`use-auth-secret`), TURN over UDP and TCP on one port. The signal nodes make each
 * admitted person's credentials from the same secret (TURN_SECRET). As coturn's own security
 * guidance says: it relays only to the media servers (every other peer address is denied, so
 * a credential cannot reach the machine's neighbours, 169.254.169.254 or the internet), only
 * over UDP (no RFC 6062 TCP relays: media servers take UDP), and with quotas per person and in
 * all. Loopback peers are allowed only when a media server is on loopback (a stack on one machine).
 */

/** Allocations one credential may hold at once: two transports × up to three relay URLs × two network paths. */
export const USER_QUOTA = 12;

export interface CoturnOptions {
  /** Where its config goes. */
  dir: string;
  port: number;
  /** Address(es) it listens on and relays from. */
  listenIp: string;
  /** The address browsers are told to reach it on. */
  publicHost: string;
  /** Relay ports (a small range on a test machine). */
  minPort: number;
  maxPort: number;
  secret?: string;
  /** The media servers' addresses (each node's MEDIA_ANNOUNCED_ADDRESS): the only peers it relays to. */
  mediaPeers: string[];
  /** Allocations held at once by everyone together (default: one per relay port). */
  totalQuota?: number;
  /** TURN over TLS (`turns:`) on this port, with this certificate and key (PEM files). */
  tls?: { port: number; cert: string; key: string };
}

export interface Coturn {
  readonly child: Child;
  readonly secret: string;
  /** TURN_URLS for the signal nodes: UDP and TCP, and TLS when it has a certificate. */
  readonly urls: string[];
  stop(): Promise<void>;
}

/** Deny every peer, then allow the media servers (an allowed address wins over a denied range). */
function peerPolicy(mediaPeers: string[]): string[] {
  if (mediaPeers.length === 0) throw new Error('coturn needs the media servers\' addresses: it relays to nothing else');
  return [
    'no-multicast-peers',
    'denied-peer-ip=0.0.0.0-255.255.255.255',
    'denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ...mediaPeers.map((address) => `allowed-peer-ip=${address}`),
    // coturn refuses loopback peers before reading the lists: a media server on loopback needs this.
    ...(mediaPeers.some(isLoopback) ? ['allow-loopback-peers'] : []),
  ];
}

const isLoopback = (address: string) => address.startsWith('127.') || address === '::1';

export function coturnConfig(options: CoturnOptions & { secret: string }): string {
  return [
    `listening-port=${options.port}`,
    `listening-ip=${options.listenIp}`,
    `relay-ip=${options.listenIp}`,
    `min-port=${options.minPort}`,
    `max-port=${options.maxPort}`,
    'use-auth-secret',
    `static-auth-secret=${options.secret}`,
    'realm=group-room',
    'fingerprint',
    ...(options.tls ? [`tls-listening-port=${options.tls.port}`, `cert=${options.tls.cert}`, `pkey=${options.tls.key}`] : ['no-tls']),
    'no-dtls',
    'no-cli',
    ...peerPolicy(options.mediaPeers),
    'no-tcp-relay',
    `user-quota=${USER_QUOTA}`,
    `total-quota=${options.totalQuota ?? options.maxPort - options.minPort + 1}`,
    'log-file=stdout',
    'simple-log',
    '',
  ].join('\n');
}

export async function startCoturn(options: CoturnOptions): Promise<Coturn> {
  const secret = options.secret ?? randomBytes(24).toString('hex');
  const file = path.join(options.dir, 'turnserver.conf');
  await writeFile(file, coturnConfig({ ...options, secret }), { mode: 0o600 });
  const child = startChild('turnserver', ['-c', file]);
  await waitForPort(options.listenIp, options.port, child);
  if (options.tls) await waitForPort(options.listenIp, options.tls.port, child);
  const host = `${options.publicHost}:${options.port}`;
  return {
    child,
    secret,
    urls: [
      `turn:${host}?transport=udp`,
      `turn:${host}?transport=tcp`,
      ...(options.tls ? [`turns:${options.publicHost}:${options.tls.port}?transport=tcp`] : []),
    ],
    stop: () => child.stop(),
  };
}
