// The access section resolved (durations in ms) and the checks the schema cannot express.
import type { AccessInput, AccessPolicyInput, ConfigInput } from '../config/schema.js'
import { parseDuration } from '../config/duration.js'
import { compileHostTemplate, matchTemplate, normalizeHost } from '../routing/template.js'
import { addressMatcher } from './client-address.js'
import { decodeKey } from './keys.js'

export interface AccessConfig extends Omit<AccessInput, 'sessionTtl' | 'tokenTtl' | 'checkTtl'> {
  sessionTtl: number
  tokenTtl: number
  checkTtl: number
}

type Problem = { path: string, message: string }

export function resolveAccess (a: AccessInput): AccessConfig {
  return { ...a, sessionTtl: parseDuration(a.sessionTtl), tokenTtl: parseDuration(a.tokenTtl), checkTtl: parseDuration(a.checkTtl) }
}

/** The policy an app runs under and the config path it came from. */
export function effectivePolicy (cfg: Pick<ConfigInput, 'access'>, app: { access?: AccessPolicyInput }, i: number): { policy: AccessPolicyInput | undefined, path: string } {
  return app.access !== undefined ? { policy: app.access, path: `apps[${i}].access` } : { policy: cfg.access.default, path: 'access.default' }
}

export function accessProblems (cfg: ConfigInput): Problem[] {
  const problems: Problem[] = []
  const a = cfg.access
  const keys = a.sessionKey === undefined ? [] : Array.isArray(a.sessionKey) ? a.sessionKey : [a.sessionKey]
  keys.forEach((k, i) => {
    if (!decodeKey(k)) problems.push({ path: Array.isArray(a.sessionKey) ? `access.sessionKey[${i}]` : 'access.sessionKey', message: 'expected 32 random bytes as hex or base64, e.g. from `openssl rand -hex 32`' })
  })
  if (Array.isArray(a.trustedProxies)) {
    try { addressMatcher(a.trustedProxies) } catch (err) { problems.push({ path: 'access.trustedProxies', message: (err as Error).message }) }
  }
  const signIn = (path: string, what: string) => {
    if (!a.authHost) problems.push({ path: 'access.authHost', message: `required for ${what} (${path}): the one host sign-in happens on, e.g. auth.review.example.com` })
    if (!a.github) problems.push({ path: 'access.github', message: `required for ${what} (${path}): the clientId and clientSecret of the GitHub App or OAuth app` })
    if (!cfg.github) problems.push({ path: 'github', message: `required for ${what} (${path}): wakegate asks GitHub with these credentials who may read the repo` })
  }
  const needsKey = (path: string, what: string) => {
    if (keys.length === 0) problems.push({ path: 'access.sessionKey', message: `required for ${what} (${path}): 32 random bytes as hex or base64 (set WAKEGATE_SESSION_KEY)` })
  }
  const seen = new Set<string>()
  const check = (policy: AccessPolicyInput | undefined, path: string, repo: string | undefined) => {
    if (!policy) return
    if (policy.ip) {
      try { addressMatcher(policy.ip) } catch (err) { problems.push({ path: `${path}.ip`, message: (err as Error).message }) }
    }
    if (policy.github) {
      if (!seen.has(`${path}.github`)) { signIn(`${path}.github`, 'sign-in with GitHub'); needsKey(`${path}.github`, 'sign-in with GitHub') }
      const g = policy.github
      if (!repo && (g.orgs?.length || g.teams?.length)) problems.push({ path: `${path}.github`, message: "orgs and teams need the app's repo: wakegate asks about them through the GitHub installation on it" })
      if (!g.orgs?.length && !g.teams?.length && !g.users?.length && (!g.repo || !repo)) {
        problems.push({ path: `${path}.github`, message: repo === undefined && g.repo ? "lets nobody in: the app has no repo; set the app's repo, or orgs, teams or users" : 'lets nobody in: set repo: true, orgs, teams or users' })
      }
    }
    if (policy.bypass) needsKey(`${path}.bypass`, 'the bypass cookie')
    if (policy.actions && !policy.actions.repositories?.length && !repo) problems.push({ path: `${path}.actions.repositories`, message: "required when the app has no repo: the repositories whose workflows are let in" })
    if (policy.public && (policy.ip || policy.basic || policy.github || policy.bypass || policy.actions)) problems.push({ path: `${path}.public`, message: 'public: true lets everyone in; remove it or the rules' })
    seen.add(`${path}.github`)
  }
  cfg.apps.forEach((app, i) => {
    const { policy, path } = effectivePolicy(cfg, app, i)
    check(policy, path, app.repo)
    if (app.oauthRelay) {
      if (!a.authHost) problems.push({ path: 'access.authHost', message: `required for the OAuth callback relay (apps[${i}].oauthRelay)` })
      needsKey(`apps[${i}].oauthRelay`, 'the OAuth callback relay')
    }
  })
  if (cfg.store.kind === 'redis' && keys.length === 0 && cfg.apps.some((app, i) => { const p = effectivePolicy(cfg, app, i).policy; return p && !p.public && (p.ip || p.basic || p.github || p.bypass || p.actions) })) {
    problems.push({ path: 'access.sessionKey', message: 'required with the redis store and an access policy: replicas vouch with it for requests they pass to the leader (32 random bytes as hex or base64)' })
  }
  if (cfg.access.default && !cfg.apps.some(app => app.access === undefined)) check(cfg.access.default, 'access.default', undefined)
  if (a.authHost) {
    const host = normalizeHost(a.authHost)
    cfg.apps.forEach((app, i) => {
      try {
        if (host && matchTemplate(compileHostTemplate(app.host, app.name), host)) problems.push({ path: 'access.authHost', message: `is an env host of apps[${i}] (${app.host}); use a host of its own` })
      } catch { /* reported by the host check */ }
    })
  }
  const admin = cfg.admin
  if (admin.github) {
    signIn('admin.github', 'sign-in to the admin listener')
    needsKey('admin.github', 'sign-in to the admin listener')
    if (!admin.publicUrl) problems.push({ path: 'admin.publicUrl', message: 'required with admin.github: the admin listener\'s URL as browsers reach it' })
    if (!admin.github.teams?.length && !admin.github.users?.length) problems.push({ path: 'admin.github', message: 'lets nobody in: set teams or users' })
    for (const [j, team] of (admin.github.teams ?? []).entries()) {
      const org = team.split('/')[0].toLowerCase()
      if (!cfg.apps.some(app => app.repo?.split('/')[0].toLowerCase() === org)) problems.push({ path: `admin.github.teams[${j}]`, message: `no app's repo belongs to ${org}: wakegate asks about its teams through the installation on such a repo` })
    }
  }
  // A problem found twice (several apps under the default) is said once.
  const unique = new Map(problems.map(p => [`${p.path} ${p.message}`, p]))
  return [...unique.values()]
}
