// Session cookies sealed with @fastify/secure-session (libsodium secretbox). The plugin is
// registered on a private fastify instance so that every process that proxies (the single
// gateway, cluster workers, replicas) can open cookies without routing through fastify.
// Opened values are cached: a busy session costs one Map lookup per request, not a decrypt.
import Fastify, { type FastifyInstance } from 'fastify'
import secureSession from '@fastify/secure-session'
import { LRUCache } from 'lru-cache'

/** What a wakegate session cookie holds. */
export interface SessionData {
  /** How the holder got in: a GitHub sign-in, a bypass secret, or basic auth. */
  via: 'github' | 'bypass'
  /** GitHub login (via github). */
  login?: string
  /** The host the cookie was issued for: a cookie copied to another host is worthless. */
  host: string
  /** Expiry, ms since epoch. */
  exp: number
}

const OPENED_MAX = 20_000

export class Sealer {
  private readonly opened = new LRUCache<string, SessionData | false>({ max: OPENED_MAX })

  private constructor (private readonly f: FastifyInstance) {}

  static async create (keys: Buffer[]): Promise<Sealer> {
    const f = Fastify({ logger: false })
    // The session's own `exp` (sessionTtl) decides; the plugin's age limit (24 h unless told)
    // would otherwise end a longer sessionTtl early. 400 days: the longest Max-Age browsers keep.
    await f.register(secureSession, { key: keys, cookieName: 'wakegate', cookie: { path: '/' }, expiry: 400 * 24 * 3600 })
    await f.ready()
    return new Sealer(f)
  }

  seal (data: SessionData): string {
    const s = this.f.createSecureSession({})
    for (const [k, v] of Object.entries(data)) s.set(k as never, v as never)
    // The sealed form has a ';' and base64's '+/=': made cookie-safe.
    return encodeURIComponent(this.f.encodeSecureSession(s))
  }

  /** The session a cookie value (as sent) holds, or undefined when it was not sealed by us, or expired. */
  open (value: string, now = Date.now()): SessionData | undefined {
    let data = this.opened.get(value)
    if (data === undefined) {
      let s: ReturnType<FastifyInstance['decodeSecureSession']> = null
      try { s = this.f.decodeSecureSession(decodeURIComponent(value)) } catch { /* not ours */ }
      data = s === null ? false : readSession(s.data() as Record<string, unknown> | undefined)
      this.opened.set(value, data)
    }
    if (data === false || data.exp <= now) return undefined
    return data
  }

  close (): Promise<void> { return this.f.close() }
}

function readSession (d: Record<string, unknown> | undefined): SessionData | false {
  if (!d || (d.via !== 'github' && d.via !== 'bypass') || typeof d.host !== 'string' || typeof d.exp !== 'number') return false
  if (d.via === 'github' && typeof d.login !== 'string') return false
  return { via: d.via, login: d.login as string | undefined, host: d.host, exp: d.exp }
}
