// The access gate: is this request let in to this app's environments? It runs before the env
// is looked up, so a refused request wakes nothing and makes no GitHub PR lookup. Allowed
// requests to a running env are decided without an await: IP matching, a bypass secret, and a
// session cookie opened from a cache with a cached GitHub verdict are all synchronous. Only
// the first sight of a basic-auth header, an Actions token, or a GitHub verdict past its cache
// time returns a promise.
import type { IncomingMessage } from 'node:http'
import { timingSafeEqual } from 'node:crypto'
import type { Logger } from 'pino'
import type { ErrorCode } from '../errors.js'
import type { AddressOf } from './client-address.js'
import type { CompiledPolicy } from './policy.js'
import type { Sealer, SessionData } from './sealer.js'
import { AccessCheckError, type GithubAccess } from './github-access.js'
import type { ActionsTokens } from './actions-oidc.js'
import { isNavigation, type ClientClassifier } from '../proxy/clients.js'
import { authOrigin } from './origin.js'

/** Why a request is not let in, and how to say so. */
export interface Refusal {
  code: ErrorCode
  detail?: string
  /** WWW-Authenticate */
  challenge?: string
  /** A redirect instead of an error (sign in on the auth host, or the bypass cookie set). */
  location?: string
  setCookie?: string
  /** Link-preview bots and crawlers: a 200 page that names nothing. */
  neutral?: boolean
}

export type Verdict = true | Refusal
export type Outcome = Verdict | Promise<Verdict>

export interface GateDeps {
  log: Logger
  addressOf: AddressOf
  bots: ClientClassifier
  cookieName: string
  /** Attributes of the cookies wakegate sets on env hosts. */
  cookieAttributes: string
  sessionTtl: number
  /** The auth host, when GitHub sign-in is set up. */
  authOrigin: string | undefined
  /** Scheme and port of env URLs as browsers see them. */
  publicScheme: 'http' | 'https'
  publicPort: number | undefined
  github: GithubAccess | undefined
  actions: ActionsTokens | undefined
}

export class AccessGate {
  sealer: Sealer | undefined
  readonly counters = { allowed: 0, refused: 0 }

  constructor (readonly policies: Map<string, CompiledPolicy>, private readonly d: GateDeps) {}

  /** The policy of `app` when it restricts anything, else undefined (the gate has nothing to do). */
  policy (app: string): CompiledPolicy | undefined {
    const p = this.policies.get(app)
    return p === undefined || p.open ? undefined : p
  }

  /**
   * Let `req` in to env `key` of `p`'s app? wakegate's own credentials are taken off the
   * request when it is let in (unless the app opts in to receive them).
   */
  check (req: IncomingMessage, p: CompiledPolicy, key: string): Outcome {
    const h = req.headers
    // A bypass header is never forwarded, right or wrong.
    let bypassHeader: string | string[] | undefined
    if (p.bypass !== undefined) {
      bypassHeader = h[p.bypass.header]
      if (bypassHeader !== undefined) removeHeader(req, p.bypass.header)
    }
    if (p.ip !== undefined && p.ip(this.d.addressOf(req))) return this.allow(req, p, false)
    if (p.bypass !== undefined) {
      if (typeof bypassHeader === 'string' && this.secretMatches(p, bypassHeader)) return this.allow(req, p, false)
      const q = this.bypassQuery(req, p, key)
      if (q !== undefined) return q
    }
    const cookie = h.cookie
    if (cookie !== undefined && this.sealer !== undefined) {
      const s = this.session(cookie, key)
      if (s !== undefined) {
        if (s.via === 'bypass' && p.bypass !== undefined) return this.allow(req, p, false)
        if (s.via === 'github' && p.github !== undefined) return this.githubVerdict(req, p, s)
      }
    }
    const auth = h.authorization
    if (auth !== undefined) {
      if (p.basic !== undefined && /^basic /i.test(auth)) {
        const ok = p.basic.auth.check(auth)
        const verdict = (ok: boolean): Verdict => ok ? this.allow(req, p, true) : this.refuse(req, p, 'WAKEGATE_UNAUTHORIZED', 'the user name or password is wrong')
        return typeof ok === 'boolean' ? verdict(ok) : ok.then(verdict)
      }
      if (p.actions !== undefined && this.d.actions !== undefined && /^bearer /i.test(auth)) {
        const v = this.d.actions.check(auth.slice(7).trim(), p.actions, p.actions.id)
        const verdict = (r: { ok: boolean, reason?: string }): Verdict => {
          if (r.ok) return this.allow(req, p, true)
          this.d.log.info({ app: p.app, reason: r.reason }, 'GitHub Actions token refused')
          return this.refuse(req, p, 'WAKEGATE_UNAUTHORIZED', `the GitHub Actions token was refused: ${r.reason}`, 'Bearer error="invalid_token"')
        }
        return 'then' in v ? v.then(verdict) : verdict(v)
      }
    }
    return this.refuse(req, p, 'WAKEGATE_SIGN_IN_REQUIRED')
  }

  /**
   * The session for env `key` among the wakegate cookies sent. Not only the first: a sibling
   * env's code can plant one for the parent domain (over http, where __Host- is not used),
   * which the browser may send ahead of this host's own.
   */
  private session (header: string, key: string): SessionData | undefined {
    for (const value of cookieValues(header, this.d.cookieName)) {
      const s = this.sealer!.open(value)
      if (s !== undefined && s.host === key) return s
    }
    return undefined
  }

  private githubVerdict (req: IncomingMessage, p: CompiledPolicy, s: SessionData): Outcome {
    const gh = this.d.github
    const login = s.login!
    if (gh === undefined) return this.refuse(req, p, 'WAKEGATE_NO_ACCESS', `signed in as ${login}`)
    const verdict = (ok: boolean): Verdict => ok ? this.allow(req, p, false) : this.refuse(req, p, 'WAKEGATE_NO_ACCESS', `signed in as ${login}, who may not open ${p.app}'s environments`)
    const known = gh.known(login, p.github!)
    if (known !== undefined) return verdict(known)
    return gh.check(login, p.github!).then(verdict, err => {
      this.d.log.warn({ app: p.app, login, err: (err as Error).message }, 'GitHub access check failed')
      return { code: err instanceof AccessCheckError ? 'WAKEGATE_ACCESS_CHECK_FAILED' : 'WAKEGATE_INTERNAL' } satisfies Refusal
    })
  }

  private secretMatches (p: CompiledPolicy, given: string): boolean {
    const g = Buffer.from(given)
    let ok = false
    for (const s of p.bypass!.secrets) if (s.length === g.length && timingSafeEqual(s, g)) ok = true
    return ok
  }

  /** `?wakegate-bypass=SECRET`: a host-only cookie is set and the URL loaded again without it. */
  private bypassQuery (req: IncomingMessage, p: CompiledPolicy, key: string): Refusal | undefined {
    const url = req.url!
    const q = url.indexOf('?')
    if (q < 0 || !url.includes(p.bypass!.query + '=', q)) return undefined
    const params = new URLSearchParams(url.slice(q + 1))
    const given = params.get(p.bypass!.query)
    if (given === null || this.sealer === undefined || !this.secretMatches(p, given)) return undefined
    params.delete(p.bypass!.query)
    const rest = params.toString()
    const cookie = this.sealer.seal({ via: 'bypass', host: key, exp: Date.now() + this.d.sessionTtl })
    return { code: 'WAKEGATE_SIGN_IN_REQUIRED', location: url.slice(0, q) + (rest ? `?${rest}` : ''), setCookie: this.cookie(cookie) }
  }

  cookie (value: string, maxAge = Math.floor(this.d.sessionTtl / 1000)): string {
    return `${this.d.cookieName}=${value}; Max-Age=${maxAge}; ${this.d.cookieAttributes}`
  }

  private allow (req: IncomingMessage, p: CompiledPolicy, usedAuthorization: boolean): true {
    this.counters.allowed++
    if (!p.forwardCredentials) {
      const cookie = req.headers.cookie
      if (cookie !== undefined && cookie.includes(this.d.cookieName)) stripCookie(req, this.d.cookieName)
      if (usedAuthorization) removeHeader(req, 'authorization')
    }
    return true
  }

  /** The refusal for a request no rule let in, shaped by who is asking and what the policy offers. */
  private refuse (req: IncomingMessage, p: CompiledPolicy, code: ErrorCode, detail?: string, challenge?: string): Refusal {
    this.counters.refused++
    if (this.d.bots.isMachine(req)) return { code, neutral: true }
    const basic = p.basic ? `Basic realm="${p.basic.realm}", charset="UTF-8"` : undefined
    if (code === 'WAKEGATE_UNAUTHORIZED') return { code, detail, challenge: challenge ?? basic }
    if (code !== 'WAKEGATE_SIGN_IN_REQUIRED') return { code, detail }
    // Nothing (valid) was presented.
    if (p.github !== undefined && this.d.authOrigin !== undefined && isNavigation(req)) {
      const here = `${this.d.publicScheme}://${req.headers.host}${req.url}`
      const origin = authOrigin(this.d.publicScheme, this.d.authOrigin, this.d.publicPort, req.headers.host)
      return { code, location: `${origin}/__wakegate/auth/login?to=${encodeURIComponent(here)}` }
    }
    const challenges = [basic, p.actions ? 'Bearer' : undefined].filter(c => c !== undefined)
    if (challenges.length === 0 && p.github === undefined) {
      // Only an address list (and maybe a bypass secret): no sign-in would help a browser.
      return { code: 'WAKEGATE_ADDRESS_NOT_ALLOWED', detail: `your address is ${this.d.addressOf(req) || 'unknown'}` }
    }
    return { code, challenge: challenges.length ? challenges.join(', ') : undefined }
  }
}

/** The values of cookie `name` in a Cookie header, in order. */
export function cookieValues (header: string, name: string): string[] {
  const out: string[] = []
  let i = header.indexOf(name)
  while (i >= 0) {
    const before = i === 0 ? ' ' : header[i - 1]
    if ((before === ' ' || before === ';') && header.charCodeAt(i + name.length) === 61 /* = */) {
      const end = header.indexOf(';', i)
      out.push(header.slice(i + name.length + 1, end < 0 ? undefined : end).trim())
    }
    i = header.indexOf(name, i + 1)
  }
  return out
}

/** The first value of cookie `name`, or undefined. */
export function cookieValue (header: string, name: string): string | undefined {
  return cookieValues(header, name)[0]
}

/** Takes cookie `name` out of the Cookie header (raw and parsed), keeping the app's cookies. */
function stripCookie (req: IncomingMessage, name: string): void {
  const raw = req.rawHeaders
  let kept: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length !== 6 || (raw[i] !== 'Cookie' && raw[i] !== 'cookie' && raw[i].toLowerCase() !== 'cookie')) continue
    const value = withoutCookie(raw[i + 1], name)
    if (value === raw[i + 1]) { kept = kept === undefined ? value : `${kept}; ${value}`; continue }
    if (value === '') { raw.splice(i, 2); i -= 2; continue }
    raw[i + 1] = value
    kept = kept === undefined ? value : `${kept}; ${value}`
  }
  if (kept === undefined) delete req.headers.cookie
  else req.headers.cookie = kept
}

/** A Cookie header value without the pairs named `name` (the same string when it has none). */
export function withoutCookie (header: string, name: string): string {
  let out = header
  let from = 0
  for (;;) {
    const i = out.indexOf(name, from)
    if (i < 0) return out
    const before = i === 0 ? 32 : out.charCodeAt(i - 1)
    if ((before !== 32 && before !== 59) || out.charCodeAt(i + name.length) !== 61 /* = */) { from = i + 1; continue }
    // From the pair's start (after "; ") to the next pair's start.
    let start = i
    while (start > 0 && (out.charCodeAt(start - 1) === 32 || out.charCodeAt(start - 1) === 59)) start--
    const semi = out.indexOf(';', i)
    if (start === 0) {
      if (semi < 0) return ''
      let next = semi + 1
      while (out.charCodeAt(next) === 32) next++
      out = out.slice(next)
    } else {
      out = semi < 0 ? out.slice(0, start) : out.slice(0, start) + out.slice(semi)
    }
    from = start
  }
}

/** Takes header `lower` (a lower-case name) off the request, raw and parsed. */
export function removeHeader (req: IncomingMessage, lower: string): void {
  const raw = req.rawHeaders
  for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i].length === lower.length && raw[i].toLowerCase() === lower) raw.splice(i, 2)
  delete req.headers[lower]
}
