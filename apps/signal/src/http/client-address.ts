import type { IncomingMessage } from 'node:http';
import ipaddr from 'ipaddr.js';
import proxyaddr from 'proxy-addr';

/*
 * Whose address a request or a socket comes from. The peer, unless the peer is one of the
 * proxies named in TRUST_PROXY: then X-Forwarded-For is read from the right, past every
 * trusted proxy, to the first address that is not one (proxy-addr, as express's 'trust proxy').
 * Reading from the right matters: a proxy that appends the peer it saw (nginx, HAProxy)
 * leaves on the left whatever the client itself sent.
 */

/** The compiled TRUST_PROXY: whether the address at `hop` (0 = the peer) is a proxy to believe. */
export type TrustProxy = (address: string, hop: number) => boolean;

/** Compile TRUST_PROXY (addresses, CIDRs, `loopback`, `linklocal`, `uniquelocal`); throws TypeError on a bad entry. */
export function compileTrustProxy(entries: readonly string[]): TrustProxy {
  return proxyaddr.compile([...entries]);
}

/** Why a TRUST_PROXY entry is refused, or undefined when every entry is fine. */
export function trustProxyProblem(entries: readonly string[]): string | undefined {
  try {
    compileTrustProxy(entries);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The client's address for a request (an HTTP request, or a socket's handshake request). */
export function clientAddress(req: IncomingMessage, trust: TrustProxy): string {
  return proxyaddr(req, trust);
}

/**
 * What per-address limits count an address as: an IPv4 address as it is (an IPv4-mapped IPv6
 * one too), an IPv6 address by its /64, which is what one household or office is given, so
 * the 2^64 addresses of one network count once. Anything that is not an address (only a
 * trusted proxy could forward one) is counted as it is.
 */
export function addressGroup(address: string): string {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address);
  } catch {
    return address.slice(0, 100);
  }
  if (!(parsed instanceof ipaddr.IPv6)) return parsed.toString();
  return `${parsed.parts.slice(0, 4).map((part) => part.toString(16)).join(':')}::/64`;
}
