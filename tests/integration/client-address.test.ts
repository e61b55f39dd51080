import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { disconnectAll, startServer, tryConnect, type TestServer } from '../support/signal-client.js';

/*
 * Whose address a limit counts (#18 item 1): the peer's, or, when the peer is a proxy named
 * in TRUST_PROXY, the address that proxy forwarded, read from the right of X-Forwarded-For
 * (a proxy that appends the real peer leaves whatever the client sent on its left). IPv6
 * addresses count per /64. Security headers (helmet) on every answer, HSTS once a trusted
 * TLS proxy says the request came over HTTPS. Tests connect from 127.0.0.1 and 127.0.0.2
 * (both loopback) to tell an untrusted peer from a trusted proxy.
 */

const REFUSED = 'Too many connections from your network';
let t: TestServer | undefined;

afterEach(async () => {
  disconnectAll();
  await t?.server.close();
  t = undefined;
});

/** socket.io-client in Node hands `localAddress` to its WebSocket; its types do not list it. */
type NodeClientOptions = Partial<ManagerOptions & SocketOptions> & { localAddress?: string };

/** Open a socket from `localAddress` (127.0.0.1 by default), sending `forwardedFor` as X-Forwarded-For. */
async function connectVia(url: string, forwardedFor?: string, localAddress?: string): Promise<boolean> {
  const options: NodeClientOptions = {
    ...(forwardedFor ? { extraHeaders: { 'x-forwarded-for': forwardedFor } } : {}),
    ...(localAddress ? { localAddress } : {}),
  };
  const { refused } = await tryConnect(url, options);
  if (refused && refused.message !== REFUSED) throw refused;
  return !refused;
}

const randomIpv4 = () => [...randomBytes(4)].map((b) => String(b)).join('.');

describe('client addresses behind a proxy (TRUST_PROXY)', () => {
  it('a loopback proxy appending the real peer: the leftmost entries the client wrote are not believed', async () => {
    t = await startServer({ SOCKETS_PER_ADDRESS: '64' });
    // As nginx or HAProxy forward it: whatever the client sent, then the peer they saw.
    const attempts = await Promise.all(Array.from({ length: 80 }, () => connectVia(t!.server.url, `${randomIpv4()}, 198.51.100.7`)));
    expect(attempts.filter(Boolean)).toHaveLength(64);
    // The same real address without any claim is the same address; another one is not.
    expect(await connectVia(t.server.url, '198.51.100.7')).toBe(false);
    expect(await connectVia(t.server.url, '198.51.100.8')).toBe(true);
  });

  it('believes a forwarded address only from a trusted proxy', async () => {
    t = await startServer({ SOCKETS_PER_ADDRESS: '1', TRUST_PROXY: '10.0.0.0/8, 127.0.0.2/32' });
    const { url } = t.server;
    // 127.0.0.1 is not a trusted proxy now: whatever it claims, it is one address.
    expect(await connectVia(url, '198.51.100.30')).toBe(true);
    expect(await connectVia(url, '198.51.100.31')).toBe(false);
    expect(await connectVia(url)).toBe(false);
    // 127.0.0.2 is: each forwarded address is counted for itself.
    expect(await connectVia(url, '198.51.100.30', '127.0.0.2')).toBe(true);
    expect(await connectVia(url, '198.51.100.31', '127.0.0.2')).toBe(true);
    expect(await connectVia(url, '198.51.100.30', '127.0.0.2')).toBe(false);
    // Its right-most untrusted entry, past any other trusted proxy in the chain.
    expect(await connectVia(url, '198.51.100.32, 10.1.2.3', '127.0.0.2')).toBe(true);
    expect(await connectVia(url, '198.51.100.99, 198.51.100.32', '127.0.0.2')).toBe(false);
    // A trusted proxy that forwarded nothing is counted as itself.
    expect(await connectVia(url, undefined, '127.0.0.2')).toBe(true);
    expect(await connectVia(url, undefined, '127.0.0.2')).toBe(false);
  });

  it('counts IPv6 addresses per /64, and an IPv4-mapped address as the IPv4 one', async () => {
    t = await startServer({ SOCKETS_PER_ADDRESS: '1' });
    const { url } = t.server;
    expect(await connectVia(url, '2001:db8:1:2::1')).toBe(true);
    expect(await connectVia(url, '2001:db8:1:2:ffff:ffff:ffff:fffe')).toBe(false);
    expect(await connectVia(url, '2001:DB8:1:2:0:0:0:77')).toBe(false);
    expect(await connectVia(url, '2001:db8:1:3::1')).toBe(true);
    expect(await connectVia(url, '198.51.100.40')).toBe(true);
    expect(await connectVia(url, '::ffff:198.51.100.40')).toBe(false);
  });
});

/** A GET from `localAddress`, with `headers`: its status and headers. */
function get(url: string, headers: Record<string, string> = {}, localAddress = '127.0.0.1'): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, localAddress }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.once('error', reject);
    req.end();
  });
}

describe('security headers on the express side', () => {
  it('every answer (health, readiness, API) carries them; HSTS only once a trusted TLS proxy says HTTPS', async () => {
    t = await startServer({ TRUST_PROXY: '127.0.0.2' });
    const { url } = t.server;
    for (const path of ['/healthz', '/readyz', '/api/room-creation']) {
      const plain = await get(`${url}${path}`);
      expect(plain.headers['x-content-type-options'], path).toBe('nosniff');
      expect(plain.headers['x-frame-options'], path).toBe('DENY');
      expect(plain.headers['referrer-policy'], path).toBe('no-referrer');
      expect(plain.headers['cross-origin-opener-policy'], path).toBe('same-origin');
      expect(plain.headers['cross-origin-resource-policy'], path).toBe('same-origin');
      expect(plain.headers['content-security-policy'], path).toBe("default-src 'none';frame-ancestors 'none'");
      expect(plain.headers['x-powered-by'], path).toBeUndefined();
      // Plain HTTP, or a peer that is not a trusted proxy claiming HTTPS: no HSTS.
      expect(plain.headers['strict-transport-security'], path).toBeUndefined();
      expect((await get(`${url}${path}`, { 'x-forwarded-proto': 'https' })).headers['strict-transport-security'], path).toBeUndefined();
      const proxied = await get(`${url}${path}`, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.50' }, '127.0.0.2');
      expect(proxied.headers['strict-transport-security'], path).toBe('max-age=31536000; includeSubDomains');
      expect(proxied.headers['x-content-type-options'], path).toBe('nosniff');
    }
  });
});
