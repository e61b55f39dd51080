import { startStack } from './stack.js';

/*
 * `npm run stack`: the deployment on this machine (Caddy with TLS, two signalling nodes on
 * Redis, coturn), until Ctrl-C. STACK_HTTPS_PORT sets the public port (default 8443).
 */
const httpsPort = Number(process.env['STACK_HTTPS_PORT'] ?? 8443);
const stack = await startStack({ httpsPort, httpPort: httpsPort + 1 });
process.stdout.write(
  [
    '',
    `Group room (stack) is running: open ${stack.url}`,
    `  proxy: Caddy, TLS from its local CA (${stack.caRoot}); browsers will warn until it is trusted`,
    `  nodes: ${stack.nodes.map((n) => `${n.name} on 127.0.0.1:${n.port}`).join(', ')}; Redis prefix ${stack.prefix}`,
    `  TURN:  ${stack.coturn.urls.join(', ')}`,
    'Ctrl-C stops everything.',
    '',
  ].join('\n'),
);
const stop = () => {
  void stack.stop().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
