import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startChild, waitForPort, type Child } from './processes.js';

/*
 * Caddy (Debian's package) as the one public HTTPS address in front of the signalling nodes:
 * it terminates TLS for the pages and the sockets, and routes. A request naming a node
 * (`?node=<name>`, which a client adds once a node told it that is where its room lives) goes
 * to that node first and to the others only if it is down; anything else goes to the node with
 * the fewest connections. Active health checks on /readyz take a dead or draining node out
 * within about a second. With `localCerts` Caddy signs the certificate with its own local CA
 * (no ACME, nothing installed in the system's trust store); in production it gets a public
 * certificate for the site's name by itself (see infra/README.md).
 */

export interface CaddyNode {
  name: string;
  port: number;
}

export interface CaddyOptions {
  dir: string;
  /** The site's name, as browsers reach it (`localhost`, or the clinic's domain). */
  site: string;
  httpsPort: number;
  httpPort: number;
  nodes: CaddyNode[];
  /** Sign with Caddy's local CA instead of getting a public certificate. */
  localCerts: boolean;
}

export function caddyfile(options: Omit<CaddyOptions, 'dir'>): string {
  const upstreams = (first?: CaddyNode) => [first, ...options.nodes.filter((n) => n !== first)].filter(Boolean).map((n) => `127.0.0.1:${n!.port}`).join(' ');
  const proxy = (policy: string, first?: CaddyNode) => `reverse_proxy ${upstreams(first)} {
      lb_policy ${policy}
      lb_try_duration 3s
      health_uri /readyz
      health_interval 1s
      health_timeout 1s
      fail_duration 5s
    }`;
  const global = [
    'admin off',
    ...(options.localCerts ? ['local_certs', 'skip_install_trust'] : []),
    `http_port ${options.httpPort}`,
    `https_port ${options.httpsPort}`,
  ];
  const hinted = options.nodes.map(
    (node) => `  @node-${node.name} query node=${node.name}
  handle @node-${node.name} {
    ${proxy('first', node)}
  }`,
  );
  return `{
${global.map((line) => `  ${line}`).join('\n')}
}

${options.site}:${options.httpsPort} {
${hinted.join('\n')}
  handle {
    ${proxy('least_conn')}
  }
}
`;
}

export async function startCaddy(options: CaddyOptions): Promise<Child> {
  await mkdir(path.join(options.dir, 'data'), { recursive: true });
  const file = path.join(options.dir, 'Caddyfile');
  await writeFile(file, caddyfile(options));
  // Its local CA and certificates go in the stack's own folder, not the user's home.
  const env = { ...process.env, XDG_DATA_HOME: path.join(options.dir, 'data'), XDG_CONFIG_HOME: path.join(options.dir, 'config') };
  const child = startChild('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], env);
  await waitForPort('127.0.0.1', options.httpsPort, child);
  return child;
}
