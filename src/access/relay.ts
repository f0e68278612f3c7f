// The OAuth callback relay, for apps under review that sign their users in with an OAuth
// provider: a provider accepts only registered redirect URIs, and pr-N hosts come and go.
//   1. The app sends the browser to https://pr-N…/__wakegate/oauth/start?authorize=<the
//      provider's authorize URL, with its own state and its pr-N callback as redirect_uri>.
//   2. wakegate (the request passed the access gate) checks the provider is one the app
//      lists, swaps redirect_uri for the auth host's one fixed callback and state for a
//      signed state naming this pr-N origin, the app's callback path and the app's state.
//   3. The provider calls back the auth host, which checks the signature and sends the
//      browser to the pr-N callback with the code and the app's own state.
// The signing key is derived from wakegate's session key and never reaches the app, so PR
// code cannot mint a state that sends another environment's codes to itself.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ResolvedConfig } from '../config/load.js'
import type { HostRouter } from '../routing/router.js'
import { authOrigin } from './origin.js'
import { Tokens } from './tokens.js'
import { fail } from './signin.js'
import type { Access } from './index.js'

export const OAUTH_START = '/__wakegate/oauth/start'
export const OAUTH_CALLBACK = '/__wakegate/oauth/callback'
const STATE_TTL = 15 * 60_000

type Req = FastifyRequest<{ Querystring: Record<string, string | undefined> }>

export class OauthRelay {
  private readonly tokens: Tokens

  constructor (private readonly config: ResolvedConfig, private readonly access: Access, private readonly router: HostRouter) {
    this.tokens = new Tokens(access.keys, 'oauth relay')
  }

  /** The redirect URI apps register with their provider. */
  callbackUrl (requestHost: string | undefined): string {
    return `${authOrigin(this.config.public.scheme, this.config.access.authHost!, this.config.public.port, requestHost)}${OAUTH_CALLBACK}`
  }

  register (app: FastifyInstance): void {
    app.get(OAUTH_START, (req: Req, reply) => this.start(req, reply))
    app.get(OAUTH_CALLBACK, (req: Req, reply) => this.callback(req, reply))
  }

  private async start (req: Req, reply: FastifyReply) {
    const m = this.router.match(req.headers.host)
    const providers = m ? this.access.policies.get(m.app)?.oauthProviders : undefined
    if (!m || !providers || !this.config.access.authHost) return reply.callNotFound()
    let authorize: URL
    try { authorize = new URL(req.query.authorize ?? '') } catch { return fail(req, reply, 'WAKEGATE_BAD_TARGET', 'authorize must be the provider\'s authorization URL') }
    if (authorize.protocol !== 'https:' && authorize.protocol !== 'http:') return fail(req, reply, 'WAKEGATE_BAD_TARGET', 'authorize must be an http(s) URL')
    if (!providers.includes(authorize.hostname.toLowerCase())) return fail(req, reply, 'WAKEGATE_BAD_TARGET', `${authorize.hostname} is not among this app's oauthRelay.providers`)
    const origin = `${this.config.public.scheme}://${req.headers.host}`
    let callbackPath = '/'
    const given = authorize.searchParams.get('redirect_uri')
    if (given) {
      let cb: URL
      try { cb = new URL(given, origin) } catch { return fail(req, reply, 'WAKEGATE_BAD_TARGET', 'redirect_uri is not a URL') }
      if (cb.host.toLowerCase() !== String(req.headers.host).toLowerCase() && cb.href !== this.callbackUrl(req.headers.host)) return fail(req, reply, 'WAKEGATE_BAD_TARGET', 'redirect_uri must be on this environment\'s host')
      if (cb.href !== this.callbackUrl(req.headers.host)) callbackPath = cb.pathname + cb.search
    }
    const state = await this.tokens.sign({ o: origin, p: callbackPath, s: authorize.searchParams.get('state') ?? undefined }, 'oauth-relay', STATE_TTL)
    authorize.searchParams.set('redirect_uri', this.callbackUrl(req.headers.host))
    authorize.searchParams.set('state', state)
    return reply.code(302).header('cache-control', 'no-store').header('location', authorize.href).send()
  }

  private async callback (req: Req, reply: FastifyReply) {
    const authHost = this.config.access.authHost?.toLowerCase()
    if (!authHost || String(req.headers.host).toLowerCase().replace(/:\d+$/, '') !== authHost) return reply.callNotFound()
    const claims = req.query.state ? await this.tokens.verify(req.query.state, 'oauth-relay') : undefined
    const origin = typeof claims?.o === 'string' ? claims.o : undefined
    // The origin was signed by us, but is checked again against the env hosts served here.
    if (!claims || !origin || !this.router.match(new URL(origin).host)) return fail(req, reply, 'WAKEGATE_BAD_SIGN_IN', 'the OAuth state is missing, altered or expired')
    const to = new URL(typeof claims.p === 'string' && claims.p.startsWith('/') && !claims.p.startsWith('//') ? claims.p : '/', origin)
    for (const [k, v] of Object.entries(req.query)) if (k !== 'state' && v !== undefined) to.searchParams.set(k, v)
    if (typeof claims.s === 'string') to.searchParams.set('state', claims.s)
    return reply.code(302).header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').header('location', to.href).send()
  }
}
