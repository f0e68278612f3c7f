// Header rewriting for forwarded requests. Works on raw header arrays ([name, value, …])
// and writes the upstream request head as one string, so nothing is parsed into objects on
// the hot path. (Response headers are filtered as they are parsed: response-head.ts.)
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, type BodyKind } from './exchange.js'
import { headerShape } from './response-head.js'

// Hop-by-hop headers (RFC 9110 §7.6.1, plus the de-facto ones Caddy and nginx drop).
export const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization'])
// Lengths of the names above, to skip the lower-casing for most headers.
const HOP_LEN = new Set([...HOP].map(h => h.length))
const FWD = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'expect'])
const FWD_LEN = new Set([...FWD].map(h => h.length))

export interface ForwardInfo {
  remoteAddress: string
  proto: 'http' | 'https'
  host: string
  /** append: keep the incoming X-Forwarded-* chain (behind a trusted load balancer). */
  append: boolean
}

/** Extra names the Connection header declares hop-by-hop; usually none. */
function connectionTokens (value: string | undefined, out: Set<string> | null): Set<string> | null {
  if (!value) return out
  if (value.length <= 10 && /^(keep-alive|close|upgrade)$/i.test(value)) return out
  for (const t of value.split(',')) {
    const name = t.trim().toLowerCase()
    if (name && name !== 'close' && name !== 'keep-alive' && name !== 'upgrade') (out ??= new Set()).add(name)
  }
  return out
}

/**
 * Request headers for the upstream: hop-by-hop dropped, Host kept, X-Forwarded-For/Proto/Host
 * and Forwarded set. `keepUpgrade` keeps Connection/Upgrade for WebSocket handshakes.
 */
export function forwardRequestHeaders (raw: string[], info: ForwardInfo, keepUpgrade = false): string[] {
  const out: string[] = []
  let xff: string | undefined
  let xfp: string | undefined
  let xfh: string | undefined
  let fwd: string | undefined
  let extra: Set<string> | null = null
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    const len = name.length
    if (HOP_LEN.has(len) || FWD_LEN.has(len)) {
      const lower = name.toLowerCase()
      if (HOP.has(lower)) {
        if (lower === 'connection') extra = connectionTokens(raw[i + 1], extra)
        if (keepUpgrade && (lower === 'connection' || lower === 'upgrade')) out.push(name, raw[i + 1])
        continue
      }
      if (FWD.has(lower)) {
        if (info.append) {
          if (lower === 'x-forwarded-for') xff = xff ? `${xff}, ${raw[i + 1]}` : raw[i + 1]
          else if (lower === 'x-forwarded-proto') xfp ??= raw[i + 1]
          else if (lower === 'x-forwarded-host') xfh ??= raw[i + 1]
          else if (lower === 'forwarded') fwd = fwd ? `${fwd}, ${raw[i + 1]}` : raw[i + 1]
        }
        continue
      }
    }
    out.push(name, raw[i + 1])
  }
  if (extra) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (extra.has(out[i].toLowerCase())) out.splice(i, 2)
  }
  out.push(
    'x-forwarded-for', forwardedFor(xff, info),
    'x-forwarded-proto', xfp ?? info.proto,
    'x-forwarded-host', xfh ?? info.host,
    'forwarded', forwarded(fwd, info)
  )
  return out
}

/** X-Forwarded-For: the incoming chain (append mode) and the client's address. */
function forwardedFor (prev: string | undefined, info: ForwardInfo): string {
  return prev ? `${prev}, ${info.remoteAddress}` : info.remoteAddress
}

/** Forwarded (RFC 7239): the incoming elements (append mode) and this hop's. */
function forwarded (prev: string | undefined, info: ForwardInfo): string {
  const addr = info.remoteAddress
  return `${prev ? `${prev}, ` : ''}for=${addr.includes(':') ? `"[${addr}]"` : addr};host=${quoteIfNeeded(info.host)};proto=${info.proto}`
}

/** A token (RFC 9110 §5.6.2) as is, anything else as a quoted-string. */
function quoteIfNeeded (v: string): string {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    if (!TCHAR[c]) return `"${v.replace(/["\\]/g, '\\$&')}"`
  }
  return v.length > 0 ? v : '""'
}

const TCHAR: boolean[] = []
for (let c = 0; c < 128; c++) TCHAR[c] = /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(String.fromCharCode(c))

/** Where request-head building reports what it found. */
export interface HeadInfo {
  bodyKind: BodyKind
}

// Request header names handled specially, by length then by lower-cased name.
const enumSpecial = (names: string[]) => new Map(names.map((n, i) => [n, i + 1]))
const SPECIAL = enumSpecial(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-authenticate', 'proxy-authorization', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'expect', 'content-length'])
const S_CONNECTION = 1
const S_TE_CHUNKED = 6
const S_XFF = 10
const S_XFP = 11
const S_XFH = 12
const S_FORWARDED = 13
const S_CONTENT_LENGTH = 15
/** Shapes of the special names: most other headers skip the lower-casing. */
const SPECIAL_SHAPE = new Set([...SPECIAL.keys()].map(headerShape))

/**
 * The request head for the upstream as one string: request line; the client's headers with
 * hop-by-hop ones dropped (Host kept); X-Forwarded-For/Proto/Host and Forwarded set (or
 * appended to, in append mode); `transfer-encoding: chunked` when the body is re-chunked.
 * Reports the body framing in `out.bodyKind`.
 */
export function requestHead (method: string, url: string, raw: string[], info: ForwardInfo, out: HeadInfo): string {
  let head = `${method} ${url} HTTP/1.1\r\n`
  let xff: string | undefined
  let xfp: string | undefined
  let xfh: string | undefined
  let fwd: string | undefined
  let extra: Set<string> | null = null
  let bodyKind: BodyKind = BODY_NONE
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    if (SPECIAL_SHAPE.has(headerShape(name))) {
      const kind = SPECIAL.get(name.toLowerCase())
      if (kind !== undefined) {
        const value = raw[i + 1]
        if (kind === S_CONTENT_LENGTH) {
          if (value !== '0' && bodyKind === BODY_NONE) bodyKind = BODY_LENGTH
        } else {
          if (kind === S_CONNECTION) extra = connectionTokens(value, extra)
          else if (kind === S_TE_CHUNKED) bodyKind = BODY_CHUNKED
          else if (kind >= S_XFF && kind <= S_FORWARDED && info.append) {
            if (kind === S_XFF) xff = xff ? `${xff}, ${value}` : value
            else if (kind === S_XFP) xfp ??= value
            else if (kind === S_XFH) xfh ??= value
            else fwd = fwd ? `${fwd}, ${value}` : value
          }
          continue
        }
      }
    }
    head += `${name}: ${raw[i + 1]}\r\n`
  }
  // Connection named more hop-by-hop headers (rare): build again without them.
  if (extra !== null) return requestHeadWithout(method, url, raw, info, out, extra)
  out.bodyKind = bodyKind
  head += `x-forwarded-for: ${forwardedFor(xff, info)}\r\nx-forwarded-proto: ${xfp ?? info.proto}\r\nx-forwarded-host: ${xfh ?? info.host}\r\nforwarded: ${forwarded(fwd, info)}\r\n`
  if (bodyKind === BODY_CHUNKED) head += 'transfer-encoding: chunked\r\n'
  return head + '\r\n'
}

function requestHeadWithout (method: string, url: string, raw: string[], info: ForwardInfo, out: HeadInfo, drop: Set<string>): string {
  // Framing and Host are never dropped this way: the body must stay framed as it arrived.
  drop.add('connection')
  drop.delete('content-length')
  drop.delete('transfer-encoding')
  drop.delete('host')
  const kept: string[] = []
  for (let i = 0; i < raw.length; i += 2) if (!drop.has(raw[i].toLowerCase())) kept.push(raw[i], raw[i + 1])
  return requestHead(method, url, kept, info, out)
}
