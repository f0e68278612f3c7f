// The `github` config section resolved for use: durations in ms, the App private key read,
// repos mapped to apps. `githubProblems` adds the checks the schema cannot express to
// config validation (so mistakes stop wakegate at load time, with the field path).
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { ConfigInput, AppGithubInput } from '../config/schema.js'
import type { AppConfig, ResolvedConfig } from '../config/load.js'
import { parseDuration } from '../config/duration.js'

export type GithubAuth =
  | { kind: 'token', token: string }
  | { kind: 'app', appId: number, privateKey: string, installationId?: number }

export interface GithubSettings {
  auth: GithubAuth
  webhookSecret: string
  webhookPath: string
  webhookHost: string | undefined
  apiUrl: string
  deliveryTtl: number
  knownPrTtl: number
  feedbackDebounce: number
  requestTimeout: number
  retries: number
  maxRetryWait: number
  prSweepInterval: number
}

export interface AppPolicy extends Omit<AppGithubInput, 'tombstone'> {
  tombstone: number
}

/** Private keys pasted into env vars often carry literal "\n". */
function pem (text: string): string {
  return text.includes('\\n') && !text.includes('\n') ? text.replace(/\\n/g, '\n') : text
}

export function githubProblems (cfg: ConfigInput, baseDir: string): Array<{ path: string, message: string }> {
  const gh = cfg.github
  if (!gh) return []
  const problems: Array<{ path: string, message: string }> = []
  const a = gh.auth
  if (a.token && (a.appId !== undefined || a.privateKey || a.privateKeyFile)) {
    problems.push({ path: 'github.auth', message: 'use either token or appId + privateKey, not both' })
  } else if (!a.token) {
    if (a.appId === undefined) problems.push({ path: 'github.auth', message: 'give token (WAKEGATE_GITHUB_TOKEN) or appId + privateKey (GitHub App)' })
    else if (!a.privateKey && !a.privateKeyFile) problems.push({ path: 'github.auth.privateKey', message: 'a GitHub App needs privateKey or privateKeyFile' })
    else if (a.privateKey && a.privateKeyFile) problems.push({ path: 'github.auth.privateKeyFile', message: 'use either privateKey or privateKeyFile, not both' })
    else if (a.privateKeyFile) {
      try { readFileSync(resolve(baseDir, a.privateKeyFile), 'utf8') } catch (err) {
        problems.push({ path: 'github.auth.privateKeyFile', message: `cannot read ${a.privateKeyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` })
      }
    }
    const key = a.privateKey ? pem(a.privateKey) : ''
    if (a.privateKey && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) problems.push({ path: 'github.auth.privateKey', message: 'expected a PEM private key (-----BEGIN RSA PRIVATE KEY----- …)' })
  }
  if (!cfg.apps.some(app => app.repo)) problems.push({ path: 'apps', message: 'the github section is set but no app has a repo (owner/name)' })
  cfg.apps.forEach((app, i) => {
    const env = app.github.deploymentEnvironment
    if (!env.includes('{pr}')) problems.push({ path: `apps[${i}].github.deploymentEnvironment`, message: 'must contain {pr} (one environment per PR)' })
  })
  return problems
}

export function resolveGithubSettings (config: ResolvedConfig): GithubSettings | undefined {
  const gh = config.github
  if (!gh) return undefined
  const a = gh.auth
  const auth: GithubAuth = a.token
    ? { kind: 'token', token: a.token }
    : {
        kind: 'app',
        appId: Number(a.appId),
        privateKey: pem(a.privateKey ?? readFileSync(resolve(config.baseDir, a.privateKeyFile!), 'utf8')),
        installationId: a.installationId
      }
  return {
    auth,
    webhookSecret: gh.webhookSecret,
    webhookPath: gh.webhookPath,
    webhookHost: gh.webhookHost?.toLowerCase().replace(/\.$/, ''),
    apiUrl: gh.apiUrl.replace(/\/+$/, ''),
    deliveryTtl: parseDuration(gh.deliveryTtl),
    knownPrTtl: parseDuration(gh.knownPrTtl),
    feedbackDebounce: parseDuration(gh.feedbackDebounce),
    requestTimeout: parseDuration(gh.requestTimeout),
    retries: gh.retries,
    maxRetryWait: parseDuration(gh.maxRetryWait),
    prSweepInterval: parseDuration(gh.prSweepInterval)
  }
}

export function appPolicy (app: AppConfig): AppPolicy {
  return { ...app.github, tombstone: parseDuration(app.github.tombstone) }
}

/** owner/name (lower case) → the apps built from that repo. */
export function appsByRepo (apps: AppConfig[]): Map<string, AppConfig[]> {
  const out = new Map<string, AppConfig[]>()
  for (const app of apps) {
    if (!app.repo) continue
    const k = app.repo.toLowerCase()
    out.set(k, [...(out.get(k) ?? []), app])
  }
  return out
}

export function deploymentEnvironment (policy: AppPolicy, app: string, pr: number): string {
  return policy.deploymentEnvironment.replace(/\{pr\}/g, String(pr)).replace(/\{app\}/g, app)
}
