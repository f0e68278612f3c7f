// Access control, wired: the per-app policies, the gate every proxying process runs, and
// what the gate needs (session sealer, GitHub verdicts, Actions token checks).
import type { Logger } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import { resolveGithubSettings } from '../github/config.js'
import { GithubClient } from '../github/client.js'
import type { ClientClassifier } from '../proxy/clients.js'
import { clientAddressOf, type AddressOf } from './client-address.js'
import { effectivePolicy } from './config.js'
import { compilePolicy, type CompiledPolicy } from './policy.js'
import { AccessGate } from './gate.js'
import { Sealer } from './sealer.js'
import { sessionKeys } from './keys.js'
import { GithubAccess } from './github-access.js'
import { ActionsTokens } from './actions-oidc.js'
import { RelayVouchers } from './relayed.js'

export { authOrigin } from './origin.js'

export interface Access {
  gate: AccessGate
  addressOf: AddressOf
  policies: Map<string, CompiledPolicy>
  /** Apps anybody who can reach wakegate may open (no policy, or public: true). */
  publicApps: string[]
  /** Name of the session cookie on env hosts and the auth host. */
  cookieName: string
  cookieAttributes: string
  keys: Buffer[]
  github: GithubAccess | undefined
  /** Requests one replica passes to another, let in by the first one's gate. */
  vouchers: RelayVouchers
  /** Opens the session sealer; the gate refuses cookies until it resolves. */
  ready: Promise<void>
  close (): Promise<void>
}

export function createAccess (config: ResolvedConfig, log: Logger, bots: ClientClassifier): Access {
  const a = config.access
  const alog = log.child({ part: 'access' })
  const secure = config.public.scheme === 'https'
  // __Host-: the browser refuses it unless Secure, Path=/ and no Domain — host-only for sure.
  const cookieName = secure ? '__Host-wakegate' : 'wakegate'
  const cookieAttributes = `Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`
  const policies = new Map(config.apps.map((app, i) => [app.name, compilePolicy(app, effectivePolicy(config, app, i).policy, a.checkTtl)]))
  const orgRepos = orgReposOf(config)
  for (const p of policies.values()) if (p.github) p.github.orgRepos = orgRepos
  const needsGithub = [...policies.values()].some(p => p.github !== undefined) || config.admin.github !== undefined
  const settings = needsGithub ? resolveGithubSettings(config) : undefined
  const github = settings ? new GithubAccess(new GithubClient(settings, alog), alog, a.checkTtl) : undefined
  const actions = [...policies.values()].some(p => p.actions !== undefined) ? new ActionsTokens(a.actionsIssuer) : undefined
  const addressOf = clientAddressOf(a.trustedProxies)
  const gate = new AccessGate(policies, {
    log: alog,
    addressOf,
    bots,
    cookieName,
    cookieAttributes,
    sessionTtl: a.sessionTtl,
    authOrigin: a.authHost,
    publicScheme: config.public.scheme,
    publicPort: config.public.port,
    github,
    actions
  })
  const keys = sessionKeys(a.sessionKey)
  const ready = keys.length ? Sealer.create(keys).then(s => { gate.sealer = s }) : Promise.resolve()
  return {
    gate,
    addressOf,
    policies,
    publicApps: [...policies.values()].filter(p => p.open).map(p => p.app),
    cookieName,
    cookieAttributes,
    keys,
    github,
    vouchers: new RelayVouchers(keys),
    ready,
    async close () {
      await ready.catch(() => {})
      await gate.sealer?.close()
    }
  }
}

/** Organisations are asked about through the installation on one of their apps' repos (lower-case org → repo). */
export function orgReposOf (config: ResolvedConfig): Map<string, string> {
  const out = new Map<string, string>()
  for (const app of config.apps) {
    const org = app.repo?.split('/')[0].toLowerCase()
    if (org !== undefined && !out.has(org)) out.set(org, app.repo!)
  }
  return out
}
