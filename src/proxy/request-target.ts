// Request-targets other than origin-form (RFC 9112 §3.2). Called only when the target does
// not start with "/", so ordinary requests pay one character check for all of this.
//
// - absolute-form (`GET http://pr-1.example/x`): routed by the target's authority, which
//   replaces Host (§3.2.2: a server ignores Host then; a proxy sends a Host made from the
//   target), and sent upstream in origin-form (`GET /x`).
// - asterisk-form (`OPTIONS *`): a question about the server, answered by the gateway.
// - anything else (another scheme, userinfo, an empty or malformed authority, a fragment,
//   `*` with a method other than OPTIONS): 400.
import type { IncomingMessage } from 'node:http'
import type { ErrorCode } from '../errors.js'

/** Rewritten to origin-form with Host set from the authority: route and forward as usual. */
export const TARGET_ORIGIN = 0
/** `OPTIONS *`: the gateway answers. */
export const TARGET_ASTERISK = 1

/** Methods a 405 or an `OPTIONS *` answer lists: what an app behind the gateway may serve. */
export const ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'

// scheme "://" authority [path-abempty] [ "?" query ], scheme case-insensitive (RFC 3986 §3.1).
const ABSOLUTE = /^https?:\/\/([^/?#]*)([^#]*)$/i
// host [":" port]: a DNS-style name, an IPv4 address or a bracketed IPv6 literal.
const AUTHORITY = /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?$/

/**
 * Normalises a request whose target does not start with "/". Returns TARGET_ORIGIN (the
 * request now has an origin-form `url` and one Host), TARGET_ASTERISK, or the error to
 * answer with.
 */
export function normaliseTarget (req: IncomingMessage): typeof TARGET_ORIGIN | typeof TARGET_ASTERISK | ErrorCode {
  const url = req.url ?? ''
  if (url === '*') return req.method === 'OPTIONS' ? TARGET_ASTERISK : 'WAKEGATE_BAD_TARGET'
  const m = ABSOLUTE.exec(url)
  if (m === null) return 'WAKEGATE_BAD_TARGET'
  const authority = m[1]
  if (authority.includes('@')) return 'WAKEGATE_BAD_TARGET' // userinfo (RFC 9110 §4.2.4)
  if (!AUTHORITY.test(authority)) return 'WAKEGATE_BAD_HOST'
  // More than one Host field is a 400 whatever the target says (RFC 9112 §3.2).
  const headers = req.headers // computed from rawHeaders before they are replaced below
  if (duplicateHost(headers.host)) return 'WAKEGATE_BAD_HOST'
  let path = m[2]
  // An empty path is "/" in origin-form, and "*" for OPTIONS (§3.2.1, §3.2.4).
  if (path === '') path = req.method === 'OPTIONS' ? '*' : '/'
  else if (path.charCodeAt(0) === 63 /* ? */) path = '/' + path
  req.url = path
  headers.host = authority
  const raw = req.rawHeaders
  const out: string[] = []
  let set = false
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') {
      if (!set) { out.push(raw[i], authority); set = true }
    } else out.push(raw[i], raw[i + 1])
  }
  if (!set) out.push('Host', authority)
  req.rawHeaders = out
  return path === '*' ? TARGET_ASTERISK : TARGET_ORIGIN
}

/** More than one Host field (joined by the server's joinDuplicateHeaders): a 400. */
export function duplicateHost (host: string | undefined): boolean {
  return host !== undefined && host.includes(',')
}
