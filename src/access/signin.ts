// Sign-in with GitHub through one fixed auth host. Env hosts (pr-N.…) are dynamic and cannot
// all be registered as OAuth callback URLs, and a cookie on the parent domain would be
// readable and writable by every PR's code. So:
//   pr-N without a session → auth host /login → (GitHub, once) → /callback on the auth host,
//   which keeps its own host-only session → back to pr-N /__wakegate/auth/exchange with a
//   one-use token (~30 s, audience = that env, spent in the store) → pr-N sets its own
//   host-only HttpOnly cookie and reloads the page asked for.
// The user's GitHub token is used once, for their login, and dropped; what they may open is
// asked with wakegate's own credentials (github-access.ts).
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OAuthApp } from '@octokit/oauth-app'
import { Octokit } from '@octokit/rest'
import type { Logger } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import type { Store } from '../stores/store.js'
import type { HostRouter } from '../routing/router.js'
import type { ErrorCode } from '../errors.js'
import { replyError } from '../proxy/error-response.js'
import { messagePage } from '../proxy/pages.js'
import { cookieValue, cookieValues } from './gate.js'
import { authOrigin } from './origin.js'
import { Tokens } from './tokens.js'
import type { Access } from './index.js'

export const AUTH_PREFIX = '/__wakegate/auth/'
/** Audience of the hand-over token for the admin listener (env hosts use their env key). */
export const ADMIN_AUDIENCE = 'admin'
const STATE_TTL = 10 * 60_000

export interface SignInDeps {
  config: ResolvedConfig
  access: Access
  store: Store
  router: HostRouter
  log: Logger
}

type Req = FastifyRequest<{ Querystring: Record<string, string | undefined> }>

export class SignIn {
  private readonly handover: Tokens
  private readonly states: Tokens
  private readonly oauth: OAuthApp | undefined
  private readonly authHost: string | undefined
  private readonly adminOrigin: string | undefined
  readonly counters = { signIns: 0, handovers: 0, refusedTokens: 0 }

  constructor (private readonly d: SignInDeps) {
    const a = d.config.access
    this.handover = new Tokens(d.access.keys, 'sign-in hand-over')
    this.states = new Tokens(d.access.keys, 'github state')
    this.authHost = a.authHost?.toLowerCase()
    this.adminOrigin = d.config.admin.publicUrl ? new URL(d.config.admin.publicUrl).origin : undefined
    // OAuthApp derives GitHub's OAuth URLs from its Octokit's baseUrl (its own baseUrl option is not used).
    const Kit = Octokit.defaults({ baseUrl: d.config.github?.apiUrl ?? 'https://api.github.com' })
    this.oauth = a.github
      ? new OAuthApp({ clientType: a.github.clientType as 'oauth-app', clientId: a.github.clientId, clientSecret: a.github.clientSecret, Octokit: Kit })
      : undefined
  }

  /** Routes on the public listener (fastify: requests for non-env hosts, and the exchange paths passed to it). */
  register (app: FastifyInstance): void {
    app.get(`${AUTH_PREFIX}login`, (req: Req, reply) => this.login(req, reply))
    app.get(`${AUTH_PREFIX}callback`, (req: Req, reply) => this.callback(req, reply))
    app.get(`${AUTH_PREFIX}exchange`, (req: Req, reply) => this.exchange(req, reply, this.envAudience(req)))
    app.get(`${AUTH_PREFIX}logout`, (req: Req, reply) => this.logout(req, reply))
    app.get('/', (req: Req, reply) => this.isAuthHost(req) ? this.status(req, reply) : reply.callNotFound())
  }

  private isAuthHost (req: FastifyRequest): boolean {
    return this.authHost !== undefined && hostname(req.headers.host) === this.authHost
  }

  private origin (req: FastifyRequest): string {
    return authOrigin(this.d.config.public.scheme, this.authHost!, this.d.config.public.port, req.headers.host)
  }

  /** The env key an env host's request is for, or undefined. */
  private envAudience (req: FastifyRequest): string | undefined {
    return this.d.router.match(req.headers.host)?.key
  }

  /** Where a `to` URL may send the browser: an env host's or the admin listener's, with its token audience. */
  private target (to: string | undefined, req: FastifyRequest): { url: URL, audience: string } | undefined {
    if (!to) return undefined
    let url: URL
    try { url = new URL(to) } catch { return undefined }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
    if (this.adminOrigin !== undefined && url.origin === this.adminOrigin) return { url, audience: ADMIN_AUDIENCE }
    const scheme = this.d.config.public.scheme
    if (url.protocol !== `${scheme}:`) return undefined
    // Env hosts are served where the auth host is (public.port, else this request's port): a
    // token is never handed to the same host name on another port, which may be someone else's.
    const standard = scheme === 'https' ? '443' : '80'
    const port = this.d.config.public.port !== undefined ? String(this.d.config.public.port) : /:(\d+)$/.exec(req.headers.host ?? '')?.[1]
    if ((url.port || standard) !== (port || standard)) return undefined
    const m = this.d.router.match(url.host)
    return m ? { url, audience: m.key } : undefined
  }

  private session (req: FastifyRequest, audience: string): { login: string } | undefined {
    const values = req.headers.cookie ? cookieValues(req.headers.cookie, this.d.access.cookieName) : []
    for (const value of values) {
      const s = this.d.access.gate.sealer?.open(value)
      if (s && s.via === 'github' && s.host === audience && s.login) return { login: s.login }
    }
    return undefined
  }


  private async login (req: Req, reply: FastifyReply) {
    if (!this.isAuthHost(req) || !this.oauth) return reply.callNotFound()
    const target = this.target(req.query.to, req)
    if (!target) return fail(req, reply, 'WAKEGATE_BAD_SIGN_IN', 'the address to return to is not a review environment served here')
    const s = this.session(req, 'auth')
    if (s) return this.handOver(reply, target, s.login)
    // CSRF: the state names a nonce that only this browser holds, in a host-only cookie.
    const nonce = randomBytes(16).toString('base64url')
    const state = await this.states.sign({ nonce, to: target.url.href }, 'github-state', STATE_TTL)
    const { url } = this.oauth.getWebFlowAuthorizationUrl({ state, redirectUrl: `${this.origin(req)}${AUTH_PREFIX}callback` } as never) as { url: string }
    reply.header('set-cookie', this.stateCookie(nonce, STATE_TTL))
    return reply.code(302).header('cache-control', 'no-store').header('location', url).send()
  }

  private async callback (req: Req, reply: FastifyReply) {
    if (!this.isAuthHost(req) || !this.oauth) return reply.callNotFound()
    const q = req.query
    const nonce = req.headers.cookie && cookieValue(req.headers.cookie, `${this.d.access.cookieName}-state`)
    const state = q.state ? await this.states.verify(q.state, 'github-state') : undefined
    reply.header('set-cookie', this.stateCookie('', 0))
    if (!state || !nonce || state.nonce !== nonce) return fail(req, reply, 'WAKEGATE_BAD_SIGN_IN', 'the sign-in state does not match this browser (open the review environment again)')
    if (q.error) return fail(req, reply, 'WAKEGATE_SIGN_IN_FAILED', `GitHub said: ${q.error_description ?? q.error}`)
    if (!q.code) return fail(req, reply, 'WAKEGATE_BAD_SIGN_IN', 'GitHub sent no code')
    const target = this.target(String(state.to), req)
    if (!target) return fail(req, reply, 'WAKEGATE_BAD_SIGN_IN', 'the address to return to is not a review environment served here')
    let login: string
    try {
      const { authentication } = await this.oauth.createToken({ code: q.code } as never) as { authentication: { token: string } }
      const user = await new Octokit({ auth: authentication.token, baseUrl: this.d.config.github?.apiUrl, request: { timeout: 10_000 } }).rest.users.getAuthenticated()
      login = user.data.login
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'GitHub sign-in failed')
      return fail(req, reply, 'WAKEGATE_SIGN_IN_FAILED', (err as Error).message)
    }
    this.counters.signIns++
    this.d.log.info({ login }, 'signed in with GitHub')
    const sealed = this.d.access.gate.sealer!.seal({ via: 'github', login, host: 'auth', exp: Date.now() + this.d.config.access.sessionTtl })
    // Added to the state cookie's clearing above (fastify appends Set-Cookie headers).
    reply.header('set-cookie', this.d.access.gate.cookie(sealed))
    return this.handOver(reply, target, login)
  }

  /** Straight back to the env host with a one-use token for it. */
  private async handOver (reply: FastifyReply, target: { url: URL, audience: string }, login: string) {
    const path = target.url.pathname + target.url.search
    const token = await this.handover.sign({ sub: login, to: path }, target.audience, this.d.config.access.tokenTtl)
    this.counters.handovers++
    return reply.code(302).header('cache-control', 'no-store').header('referrer-policy', 'no-referrer')
      .header('location', `${target.url.origin}${AUTH_PREFIX}exchange?token=${encodeURIComponent(token)}`).send()
  }

  /** The env host (or admin listener) trades a one-use token for its own cookie. */
  async exchange (req: Req, reply: FastifyReply, audience: string | undefined, cookie = (value: string) => this.d.access.gate.cookie(value)) {
    if (audience === undefined) return reply.callNotFound()
    const claims = req.query.token ? await this.handover.verify(req.query.token, audience) : undefined
    const first = claims?.jti ? await this.d.store.firstDelivery(`sign-in:${claims.jti}`, this.d.config.access.tokenTtl + 60_000) : false
    if (!claims || !first || typeof claims.sub !== 'string') {
      this.counters.refusedTokens++
      return fail(req, reply, 'WAKEGATE_BAD_SIGN_IN', claims && !first ? 'this sign-in link was already used' : 'the sign-in link is invalid or expired')
    }
    const to = typeof claims.to === 'string' && claims.to.startsWith('/') && !claims.to.startsWith('//') ? claims.to : '/'
    const sealed = this.d.access.gate.sealer!.seal({ via: 'github', login: claims.sub, host: audience, exp: Date.now() + this.d.config.access.sessionTtl })
    return reply.code(302).header('cache-control', 'no-store').header('referrer-policy', 'no-referrer')
      .header('set-cookie', cookie(sealed)).header('location', to).send()
  }

  /** Env host: drop its cookie and go sign out on the auth host too. Auth host: drop its session. */
  private logout (req: Req, reply: FastifyReply) {
    const clear = this.d.access.gate.cookie('', 0)
    if (this.isAuthHost(req)) {
      return reply.code(200).header('set-cookie', clear).header('cache-control', 'no-store').type('text/html; charset=utf-8')
        .send(messagePage('Signed out', 'You are signed out here: opening a review environment you have not opened yet asks GitHub again. An environment you already opened keeps its own sign-in until you sign out there (its /__wakegate/auth/logout) or it expires.'))
    }
    if (this.envAudience(req) === undefined || this.authHost === undefined) return reply.callNotFound()
    return reply.code(302).header('set-cookie', clear).header('cache-control', 'no-store').header('location', `${this.origin(req)}${AUTH_PREFIX}logout`).send()
  }

  private status (req: Req, reply: FastifyReply) {
    const s = this.session(req, 'auth')
    return reply.code(200).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(s
      ? messagePage('Review environments', `You are signed in with GitHub as ${s.login}.`, undefined, `Sign out: ${this.origin(req)}${AUTH_PREFIX}logout`)
      : messagePage('Review environments', 'You are not signed in. Open a review environment to sign in with GitHub.'))
  }

  private stateCookie (value: string, ttl: number): string {
    const a = this.d.access
    return `${a.cookieName}-state=${value}; Max-Age=${Math.floor(ttl / 1000)}; ${a.cookieAttributes}`
  }
}

function hostname (host: string | undefined): string {
  if (!host) return ''
  const h = host.toLowerCase()
  return h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d+$/, '')
}

/** An error answer from a sign-in or relay route: a page for browsers, JSON otherwise. */
export function fail (req: FastifyRequest, reply: FastifyReply, code: ErrorCode, detail: string) {
  return replyError(reply, { code, detail }, req.headers.accept)
}
