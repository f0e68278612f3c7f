// The client's address: the socket's, unless trusted proxies (a load balancer) stand in front;
// then the X-Forwarded-For entry the nearest untrusted hop was seen from (proxy-addr). A header
// from a client that is not a trusted proxy is never believed.
import type { IncomingMessage } from 'node:http'
import proxyaddr from 'proxy-addr'

export type AddressOf = (req: IncomingMessage) => string

export function clientAddressOf (trusted: number | string[] | undefined): AddressOf {
  if (trusted === undefined || trusted === 0) return req => req.socket.remoteAddress ?? ''
  // A number of hops: the socket's peer and the n-1 entries nearest to it are proxies.
  const trust = typeof trusted === 'number' ? (_a: string, i: number) => i < trusted : proxyaddr.compile(trusted)
  return req => proxyaddr(req, trust)
}

/** Addresses/CIDRs (IPv4, IPv6, IPv4-mapped) → a matcher; throws on a malformed entry. */
export function addressMatcher (list: string[]): (addr: string) => boolean {
  const fn = proxyaddr.compile(list)
  return addr => addr !== '' && fn(addr, 0)
}
