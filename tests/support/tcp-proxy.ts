import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback TCP proxy in front of a server, so a test can cut every connection through it
 * at once, as a network switch or a dead Wi-Fi does, while the server itself stays up.
 * Media does not go through it (browsers send media straight to the announced media ports).
 */
export interface TcpProxy {
  /** http://127.0.0.1:<port> of the proxy. */
  url: string;
  port: number;
  /** Destroy every connection through the proxy now (new ones are still let through). */
  cut(): number;
  /** Refuse new connections until `resume()` (a network that stays down for a while). */
  hold(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let holding = false;
  const server: Server = createServer((client) => {
    if (holding) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const cut = () => {
    const count = pairs.size;
    for (const [client, upstream] of [...pairs]) {
      // A reset, not a polite close: what a dropped network looks like to both ends.
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    pairs.clear();
    return count;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    cut,
    hold: () => {
      holding = true;
    },
    resume: () => {
      holding = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        cut();
        server.close(() => resolve());
      }),
  };
}
