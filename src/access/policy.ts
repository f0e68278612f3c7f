// An app's access policy compiled once at start: matchers, verifiers and secrets ready, so
// the gate does no parsing per request.
import type { AccessPolicyInput } from '../config/schema.js'
import { addressMatcher } from './client-address.js'
import { BasicAuth } from './basic.js'
import { refPattern, type ActionsRule } from './actions-oidc.js'
import type { GithubRule, Role } from './github-access.js'

export interface CompiledPolicy {
  app: string
  /** No policy at all: everyone gets in and the gate does nothing. */
  open: boolean
  /** `public: true`: open on purpose. */
  declaredPublic: boolean
  ip: ((addr: string) => boolean) | undefined
  basic: { auth: BasicAuth, realm: string } | undefined
  github: GithubRule | undefined
  bypass: { secrets: Buffer[], header: string, query: string } | undefined
  actions: (ActionsRule & { id: string }) | undefined
  forwardCredentials: boolean
  /** Hosts the app's OAuth flows may be relayed to (the callback relay), when on. */
  oauthProviders: string[] | undefined
}

export interface PolicyApp {
  name: string
  repo?: string
  access?: AccessPolicyInput
  oauthRelay?: { providers: string[] }
}

/** `policy` is the app's own, else the default; undefined → open. */
export function compilePolicy (app: PolicyApp, policy: AccessPolicyInput | undefined, checkTtl: number): CompiledPolicy {
  const p: Partial<AccessPolicyInput> = policy ?? {}
  const rules = p.ip || p.basic || p.github || p.bypass || p.actions
  const gh = p.github
  return {
    app: app.name,
    open: !rules,
    declaredPublic: p.public === true,
    ip: p.ip ? addressMatcher(p.ip) : undefined,
    basic: p.basic ? { auth: new BasicAuth(p.basic.users, checkTtl), realm: p.basic.realm } : undefined,
    github: gh
      ? { id: app.name, repo: app.repo, permission: gh.repo && app.repo ? gh.permission as Role : undefined, orgs: gh.orgs ?? [], teams: gh.teams ?? [], users: gh.users ?? [] }
      : undefined,
    bypass: p.bypass ? { secrets: p.bypass.secrets.map(s => Buffer.from(s)), header: p.bypass.header.toLowerCase(), query: p.bypass.query } : undefined,
    actions: p.actions
      ? { id: app.name, audience: p.actions.audience, repositories: p.actions.repositories ?? (app.repo ? [app.repo] : []), refs: p.actions.refs?.map(refPattern) }
      : undefined,
    forwardCredentials: p.forwardCredentials ?? false,
    oauthProviders: app.oauthRelay?.providers.map(h => h.toLowerCase())
  }
}
