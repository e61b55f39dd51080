import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startChild, waitForPort, type Child } from './processes.js';

/*
 * coturn (Debian's `turnserver`) as the stack's relay: time-limited credentials from a shared
 * secret (`use-auth-secret`), TURN over UDP and TCP on one port. The signal nodes make each
 * admitted person's credentials from the same secret (TURN_SECRET). Relaying to loopback peers
 * is allowed only because on one machine the media server itself is on 127.0.0.1.
 */

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
  /** Allow relaying to 127.0.0.1 (only for a stack on one machine). */
  allowLoopbackPeers?: boolean;
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
    'no-multicast-peers',
    ...(options.allowLoopbackPeers ? ['allow-loopback-peers'] : []),
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
