// Header rewriting for forwarded requests and responses. Works on raw header arrays
// ([name, value, name, value, …]) so nothing is parsed into objects on the hot path.

// Hop-by-hop headers (RFC 9110 §7.6.1, plus the de-facto ones Caddy and nginx drop).
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization'])
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
  const addr = info.remoteAddress
  out.push(
    'x-forwarded-for', xff ? `${xff}, ${addr}` : addr,
    'x-forwarded-proto', xfp ?? info.proto,
    'x-forwarded-host', xfh ?? info.host,
    'forwarded', `${fwd ? `${fwd}, ` : ''}for=${addr.includes(':') ? `"[${addr}]"` : addr};host=${quoteIfNeeded(info.host)};proto=${info.proto}`
  )
  return out
}

function quoteIfNeeded (v: string): string {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(v) ? v : `"${v.replace(/["\\]/g, '\\$&')}"`
}

/**
 * Response headers for the client from undici's raw Buffer pairs: hop-by-hop dropped and
 * `add` appended. Returns a flat string array for res.writeHead.
 */
export function forwardResponseHeaders (raw: Buffer[], add: string[] | null): string[] {
  const out: string[] = []
  let extra: Set<string> | null = null
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1')
    if (HOP_LEN.has(name.length)) {
      const lower = name.toLowerCase()
      if (HOP.has(lower)) {
        if (lower === 'connection') extra = connectionTokens(raw[i + 1].toString('latin1'), extra)
        continue
      }
    }
    out.push(name, raw[i + 1].toString('latin1'))
  }
  if (extra) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (extra.has(out[i].toLowerCase())) out.splice(i, 2)
  }
  if (add) for (let i = 0; i < add.length; i++) out.push(add[i])
  return out
}

/** True when the request carries a body (so it must be streamed and cannot be retried). */
export function hasBody (headers: { 'content-length'?: string, 'transfer-encoding'?: string }): boolean {
  const cl = headers['content-length']
  return (cl !== undefined && cl !== '0') || headers['transfer-encoding'] !== undefined
}
