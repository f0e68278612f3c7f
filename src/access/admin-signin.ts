// GitHub sign-in for the admin listener (dashboard and API), for admin.github's teams and
// users: the same auth host and one-use hand-over as env hosts, with a cookie of the admin
// listener's own. A bearer token (admin.token) keeps working beside it for scripts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ResolvedConfig } from '../config/load.js'
import { replyError } from '../proxy/error-response.js'
import { isNavigation } from '../proxy/clients.js'
import { cookieValues } from './gate.js'
import { AccessCheckError, type GithubRule } from './github-access.js'
import { authOrigin } from './origin.js'
import { ADMIN_AUDIENCE, AUTH_PREFIX, type SignIn } from './signin.js'
import { orgReposOf, type Access } from './index.js'

export class AdminSignIn {
  private readonly rule: GithubRule
  private readonly cookieName: string
  private readonly attributes: string
  private readonly publicUrl: URL

  constructor (private readonly config: ResolvedConfig, private readonly access: Access, private readonly signIn: SignIn) {
    const gh = config.admin.github!
    this.publicUrl = new URL(config.admin.publicUrl!)
    const secure = this.publicUrl.protocol === 'https:'
    this.cookieName = secure ? '__Host-wakegate-admin' : 'wakegate-admin'
    this.attributes = `Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`
    this.rule = { id: 'admin', repo: undefined, orgRepos: orgReposOf(config), permission: undefined, orgs: [], teams: gh.teams ?? [], users: gh.users ?? [] }
  }

  register (app: FastifyInstance): void {
    app.get(`${AUTH_PREFIX}exchange`, (req: FastifyRequest<{ Querystring: Record<string, string | undefined> }>, reply) =>
      this.signIn.exchange(req, reply, ADMIN_AUDIENCE, value => this.cookie(value)))
    app.get(`${AUTH_PREFIX}logout`, (_req, reply) => reply.code(200).header('set-cookie', this.cookie('', 0)).send({ signedOut: true }))
  }

  isOpenPath (url: string): boolean { return url.startsWith(`${AUTH_PREFIX}exchange`) || url.startsWith(`${AUTH_PREFIX}logout`) }

  /** Resolves true when the request's admin session belongs to an admin; otherwise answers it. */
  async check (req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const values = req.headers.cookie ? cookieValues(req.headers.cookie, this.cookieName) : []
    const s = values.map(v => this.access.gate.sealer?.open(v)).find(x => x?.host === ADMIN_AUDIENCE)
    if (!s || s.via !== 'github' || s.host !== ADMIN_AUDIENCE || !s.login) {
      if (isNavigation(req.raw)) {
        const origin = authOrigin(this.config.public.scheme, this.config.access.authHost!, this.config.public.port, undefined)
        const to = new URL(req.url, this.publicUrl).href
        await reply.code(302).header('cache-control', 'no-store').header('location', `${origin}${AUTH_PREFIX}login?to=${encodeURIComponent(to)}`).send()
      } else {
        await replyError(reply, { code: 'WAKEGATE_UNAUTHORIZED' }, req.headers.accept, { 'www-authenticate': 'Bearer' })
      }
      return false
    }
    const gh = this.access.github!
    let ok = gh.known(s.login, this.rule)
    if (ok === undefined) {
      try {
        ok = await gh.check(s.login, this.rule)
      } catch (err) {
        await replyError(reply, { code: err instanceof AccessCheckError ? 'WAKEGATE_ACCESS_CHECK_FAILED' : 'WAKEGATE_INTERNAL' }, req.headers.accept)
        return false
      }
    }
    if (!ok) await replyError(reply, { code: 'WAKEGATE_NO_ACCESS', detail: `signed in as ${s.login}, who is not in admin.github's teams or users` }, req.headers.accept)
    return ok
  }

  private cookie (value: string, maxAge = Math.floor(this.config.access.sessionTtl / 1000)): string {
    return `${this.cookieName}=${value}; Max-Age=${maxAge}; ${this.attributes}`
  }
}
