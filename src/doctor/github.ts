// GitHub as the gateway will use it: the credentials work, a GitHub App is installed on
// every configured repo with what wakegate needs, and the webhook (the App's, or each repo's
// hook with token auth) points at the gateway and is delivering.
import { Octokit } from '@octokit/rest'
import { createAppAuth } from '@octokit/auth-app'
import { pino } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import { GithubClient, statusOf } from '../github/client.js'
import { resolveGithubSettings, type GithubSettings } from '../github/config.js'
import { check, type Check } from './check.js'
import { deliveriesCheck, hookCheck, registerCommand, type Delivery } from './github-hooks.js'
import { wantsComments } from '../github/register.js'

/** No retries, rate limits not waited out, at most 10 s a call: doctor answers promptly. */
function quick (s: GithubSettings): GithubSettings {
  return { ...s, retries: 0, maxRetryWait: 0, requestTimeout: Math.min(s.requestTimeout, 10_000) }
}

/** The App's own client (JWT): GET /app, its installations and its webhook. */
function appClient (s: GithubSettings & { auth: { kind: 'app' } }): Octokit {
  const octokit = new Octokit({
    authStrategy: createAppAuth,
    auth: { appId: s.auth.appId, privateKey: s.auth.privateKey },
    baseUrl: s.apiUrl,
    userAgent: 'wakegate',
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }
  })
  octokit.hook.wrap('request', async (request, options) => {
    options.request = { ...options.request, signal: AbortSignal.timeout(s.requestTimeout) }
    return await request(options)
  })
  return octokit
}

function failure (err: unknown): string {
  const status = statusOf(err)
  // octokit's messages end with a documentation link; the status says enough.
  const text = (err as Error)?.message ?? String(err)
  return `${status ? `${status} ` : ''}${text.replace(/ - https:\/\/docs\.github\.com\S*/, '').replace(/\s+/g, ' ')}`
}

/** Apps waiting for CI need the check_suite and status events. */
function needsCi (config: ResolvedConfig, repo?: string): boolean {
  return config.apps.some(a => a.repo && a.github.waitForCi && (!repo || a.repo.toLowerCase() === repo.toLowerCase()))
}

export async function githubChecks (config: ResolvedConfig): Promise<Check[]> {
  const settings = resolveGithubSettings(config)
  if (!settings) return []
  const s = quick(settings)
  const repos = [...new Set(config.apps.map(a => a.repo).filter((r): r is string => !!r))]
  return s.auth.kind === 'app' ? appChecks(config, s as GithubSettings & { auth: { kind: 'app' } }, repos) : tokenChecks(config, s, repos)
}

async function appChecks (config: ResolvedConfig, s: GithubSettings & { auth: { kind: 'app' } }, repos: string[]): Promise<Check[]> {
  const out: Check[] = []
  const gh = appClient(s)
  try {
    const { data } = await gh.rest.apps.getAuthenticated()
    out.push(check('github.auth', 'GitHub credentials', 'ok', `GitHub App ${data?.slug ?? data?.name ?? ''} (id ${data?.id ?? s.auth.appId}) at ${s.apiUrl}`))
  } catch (err) {
    out.push(check('github.auth', 'GitHub credentials', 'fail', `GitHub refused the App's JWT: ${failure(err)}`,
      statusOf(err) === 401 ? 'check github.auth.appId and the private key (one of this App\'s keys, not revoked)' : `check github.apiUrl (${s.apiUrl}) and that the gateway can reach it`))
    return [...out, ...repos.map(r => check(`github.${r}.installation`, `GitHub App on ${r}`, 'skip', 'the App could not sign in')),
      check('github.app.webhook', 'GitHub App webhook', 'skip', 'the App could not sign in'),
      check('github.app.deliveries', 'GitHub App webhook deliveries', 'skip', 'the App could not sign in')]
  }

  // The gateway's own client for the installation tokens, as it will get them.
  const client = new GithubClient(s, pino({ level: 'silent' }))
  for (const repo of repos) out.push(await installationCheck(config, s, gh, client, repo))

  try {
    const { data } = await gh.rest.apps.getWebhookConfigForApp()
    const fix = `in the App's settings (General → Webhook), set the URL to https://${s.webhookHost ?? '<gateway public host>'}${s.webhookPath}, content type application/json, the secret of github.webhookSecret, and keep it active`
    out.push(hookCheck('github.app.webhook', 'GitHub App webhook', { url: data.url ?? '', contentType: data.content_type }, s, false, fix))
  } catch (err) {
    out.push(check('github.app.webhook', 'GitHub App webhook', 'fail', `the App has no webhook: ${failure(err)}`,
      `in the App's settings (General → Webhook), set the URL to https://${s.webhookHost ?? '<gateway public host>'}${s.webhookPath} and a secret`))
  }
  try {
    const { data } = await gh.rest.apps.listWebhookDeliveries({ per_page: 10 })
    out.push(deliveriesCheck('github.app.deliveries', 'GitHub App webhook deliveries', data as Delivery[]))
  } catch (err) {
    out.push(check('github.app.deliveries', 'GitHub App webhook deliveries', 'warn', `cannot list deliveries: ${failure(err)}`))
  }
  return out
}

/** What an installation must allow, by what the config uses. */
function wantedPermissions (config: ResolvedConfig, repo: string): Record<string, 'read' | 'write'> {
  const apps = config.apps.filter(a => a.repo?.toLowerCase() === repo.toLowerCase())
  const want: Record<string, 'read' | 'write'> = { pull_requests: 'read' }
  if (apps.some(a => a.github.comment)) { want.pull_requests = 'write'; want.issues = 'write' }
  if (apps.some(a => a.github.deployments)) want.deployments = 'write'
  if (apps.some(a => a.github.waitForCi)) { want.checks = 'read'; want.statuses = 'read' }
  // issue_comment events come with the Issues permission.
  if (apps.some(a => a.warmup?.commentMention)) want.issues ??= 'read'
  return want
}

async function installationCheck (config: ResolvedConfig, s: GithubSettings & { auth: { kind: 'app' } }, gh: Octokit, client: GithubClient, repo: string): Promise<Check> {
  const id = `github.${repo}.installation`
  const title = `GitHub App on ${repo}`
  const [owner, name] = repo.split('/')
  let inst: { id: number, account?: { login?: string } | null, permissions?: Record<string, string | undefined>, events?: string[], suspended_at?: string | null }
  try {
    inst = (await gh.rest.apps.getRepoInstallation({ owner, repo: name })).data as typeof inst
  } catch (err) {
    return statusOf(err) === 404
      ? check(id, title, 'fail', `the GitHub App is not installed on ${repo}`, `install the App on ${owner} and give it access to ${repo} (the App's page → Install App)`)
      : check(id, title, 'fail', `cannot look up the installation: ${failure(err)}`)
  }
  const fix = 'in the App\'s settings (Permissions & events), grant it and subscribe, then accept the new permissions on the installation'
  if (inst.suspended_at) return check(id, title, 'fail', `installation ${inst.id} is suspended since ${inst.suspended_at}`, `unsuspend the App's installation on ${owner}`)
  if (s.auth.installationId && s.auth.installationId !== inst.id) {
    return check(id, title, 'fail', `${repo} is on installation ${inst.id}, but github.auth.installationId is ${s.auth.installationId}`,
      'remove github.auth.installationId (it is found per repo) or set it to the right one')
  }
  const rank = (p: string | undefined) => p === 'write' || p === 'admin' ? 2 : p === 'read' ? 1 : 0
  const lacking = Object.entries(wantedPermissions(config, repo)).filter(([k, v]) => rank(inst.permissions?.[k]) < rank(v)).map(([k, v]) => `${k}: ${v}`)
  if (lacking.length) return check(id, title, 'fail', `installation ${inst.id} lacks permissions ${lacking.join(', ')}`, fix)
  const events = inst.events ?? []
  const missing = ['pull_request', ...(needsCi(config, repo) ? ['check_suite', 'status'] : []), ...(wantsComments(config.apps, repo) ? ['issue_comment'] : [])].filter(e => !events.includes(e))
  if (missing.length) return check(id, title, 'fail', `the App does not subscribe to ${missing.join(', ')} (it gets: ${events.join(', ') || 'none'})`, fix)
  // An installation token, and one call with it.
  client.noteInstallation(repo, inst.id)
  try {
    await (await client.forRepo(repo)).rest.apps.listReposAccessibleToInstallation({ per_page: 1 })
  } catch (err) {
    return check(id, title, 'fail', `installation ${inst.id} found, but its token does not work: ${failure(err)}`)
  }
  return check(id, title, 'ok', `installation ${inst.id} on ${inst.account?.login ?? owner}, token issued`)
}

async function tokenChecks (config: ResolvedConfig, s: GithubSettings, repos: string[]): Promise<Check[]> {
  const out: Check[] = []
  const client = new GithubClient(s, pino({ level: 'silent' }))
  const gh = await client.forRepo(repos[0] ?? '')
  try {
    const { data } = await gh.rest.users.getAuthenticated()
    out.push(check('github.auth', 'GitHub credentials', 'ok', `token of ${data.login} at ${s.apiUrl}`))
  } catch (err) {
    // An installation token has no user; it may list its repositories instead.
    const listed = statusOf(err) === 403 ? await gh.rest.apps.listReposAccessibleToInstallation({ per_page: 1 }).catch(() => undefined) : undefined
    if (listed) {
      out.push(check('github.auth', 'GitHub credentials', 'ok', `installation token (${listed.data.total_count} repositories) at ${s.apiUrl}`))
    } else {
      out.push(check('github.auth', 'GitHub credentials', 'fail', `GitHub refused the token: ${failure(err)}`,
        statusOf(err) === 401 ? 'the token is wrong, expired or revoked: set a valid one in github.auth.token (WAKEGATE_GITHUB_TOKEN)' : `check github.apiUrl (${s.apiUrl}) and that the gateway can reach it`))
      return [...out, ...repos.flatMap(r => [check(`github.${r}.webhook`, `webhook of ${r}`, 'skip', 'the token does not work'), check(`github.${r}.deliveries`, `webhook deliveries of ${r}`, 'skip', 'the token does not work')])]
    }
  }
  for (const repo of repos) out.push(...await repoHookChecks(config, s, gh, repo))
  return out
}

async function repoHookChecks (config: ResolvedConfig, s: GithubSettings, gh: Octokit, repo: string): Promise<Check[]> {
  const id = (x: string) => `github.${repo}.${x}`
  const [owner, name] = repo.split('/')
  const register = `run \`${registerCommand(repo, s)}\``
  let hooks: Array<{ id: number, active: boolean, events?: string[], config: { url?: string, content_type?: string } }>
  try {
    hooks = await gh.paginate(gh.rest.repos.listWebhooks, { owner, repo: name, per_page: 100 })
  } catch (err) {
    const status = statusOf(err)
    return [
      check(id('webhook'), `webhook of ${repo}`, 'fail', `cannot list the hooks of ${repo}: ${failure(err)}`,
        status === 404 || status === 403 ? `the token must see ${repo} and read its hooks: a classic token needs repo and admin:repo_hook, a fine-grained one Webhooks: read` : undefined),
      check(id('deliveries'), `webhook deliveries of ${repo}`, 'skip', 'the hooks could not be listed')
    ]
  }
  const views = hooks.map(h => ({ id: h.id, url: h.config.url ?? '', contentType: h.config.content_type, active: h.active, events: h.events }))
  const candidates = views.map(v => ({ v, c: hookCheck(id('webhook'), `webhook of ${repo}`, v, s, needsCi(config, repo), register, wantsComments(config.apps, repo)) }))
  // The hook that works best: ok, then warn, then one at least delivering to the right URL.
  const best = candidates.find(x => x.c.status === 'ok') ?? candidates.find(x => x.c.status === 'warn') ??
    candidates.find(x => !x.c.detail.includes(', not to '))
  if (!best) {
    const others = views.length ? ` (its ${views.length} hook(s) deliver elsewhere: ${views.map(v => v.url).join(', ')})` : ''
    return [
      check(id('webhook'), `webhook of ${repo}`, 'fail', `no webhook of ${repo} delivers to ${s.webhookPath}${s.webhookHost ? ` on ${s.webhookHost}` : ''}${others}`, `no webhook: ${register}`),
      check(id('deliveries'), `webhook deliveries of ${repo}`, 'skip', 'no webhook')
    ]
  }
  let deliveries: Check
  try {
    const { data } = await gh.rest.repos.listWebhookDeliveries({ owner, repo: name, hook_id: best.v.id, per_page: 10 })
    deliveries = deliveriesCheck(id('deliveries'), `webhook deliveries of ${repo}`, data as Delivery[])
  } catch (err) {
    deliveries = check(id('deliveries'), `webhook deliveries of ${repo}`, 'warn', `cannot list the deliveries of hook #${best.v.id}: ${failure(err)}`)
  }
  return [best.c, deliveries]
}
