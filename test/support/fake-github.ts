// A fake of the GitHub REST API endpoints wakegate calls, on a real HTTP server: the real
// octokit client talks to it through `apiUrl`. It keeps repos' PRs, comments, deployments
// and statuses, hooks, CI results and team members; lists page like GitHub's (per_page,
// page, Link headers, newest first where GitHub does so); records every call; and can
// answer with errors (5xx) and rate limits (403/429) on demand. Also signs and sends webhooks built
// from @octokit/webhooks-examples payloads. What `wakegate doctor` reads: the App (GET /app), its
// installation on a repo, its webhook's config and deliveries, repo hooks' deliveries, and
// GET /user for the configured token.
// Sign in with GitHub: the OAuth web flow of github.com (/login/oauth/authorize, auto-approved
// for `oauthUser`, and /login/oauth/access_token) at the server root, which is where
// @octokit/oauth-methods puts it for a baseUrl like http://127.0.0.1:PORT; GET /user with the
// user tokens it issues; and the access checks made with the server's own credentials (a
// user's permission on a repo, organisation and team membership).
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createHmac, createVerify, randomBytes, randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'

export interface FakeCall { method: string, path: string, query: URLSearchParams, body: any, auth: string, status: number }

export interface FakePull {
  repo: string
  number: number
  state: 'open' | 'closed'
  draft: boolean
  title: string
  author: string
  branch: string
  sha: string
  labels: string[]
  /** Head repo full name when the PR comes from a fork. */
  fork?: string
}

export interface FakeComment { id: number, repo: string, issue: number, body: string, user: string }
export interface FakeStatus { id: number, state: string, description: string, environment_url?: string }
export interface FakeDeployment { id: number, repo: string, ref: string, sha: string, environment: string, transient_environment: boolean, production_environment: boolean, payload: unknown, statuses: FakeStatus[] }
export interface FakeHook { id: number, repo: string, name: string, active: boolean, events: string[], config: Record<string, string>, deliveries?: FakeDelivery[] }
/** One attempt of GitHub to deliver a webhook; status_code 0 when it got no HTTP answer. */
export interface FakeDelivery { id: number, guid: string, delivered_at: string, redelivery: boolean, duration: number, status: string, status_code: number, event: string, action: string | null, installation_id: number | null, repository_id: number | null }
/** The GitHub App's own webhook, as GET /app/hook/config shows it. */
export interface FakeAppHook { url: string, content_type: string, insecure_ssl: string, secret?: string }

/** What an installation of the App may do and which events it gets, unless the test says otherwise. */
export const APP_PERMISSIONS: Record<string, string> = { pull_requests: 'write', issues: 'write', deployments: 'write', checks: 'read', statuses: 'read', metadata: 'read' }
export const APP_EVENTS = ['check_suite', 'pull_request', 'status']
export interface FakeSuite { status: 'queued' | 'in_progress' | 'completed', conclusion: string | null, latest_check_runs_count?: number }
export interface FakeCi { suites: FakeSuite[], statuses: Array<{ context: string, state: 'pending' | 'success' | 'failure' | 'error' }> }

/** A role on a repository, as collaborators and teams are given them. */
export type RepoRole = 'read' | 'triage' | 'write' | 'maintain' | 'admin'

/** GitHub's legacy `permission` for a role (what "Get repository permissions for a user" answers besides role_name). */
export const LEGACY_PERMISSION: Record<RepoRole | 'none', 'admin' | 'write' | 'read' | 'none'> = { admin: 'admin', maintain: 'write', write: 'write', triage: 'read', read: 'read', none: 'none' }

interface Fault { method: string, path: RegExp, status: number, headers: Record<string, string>, body: unknown, times: number }
interface OauthCode { clientId: string, redirectUri: string | undefined, login: string, scope: string, expires: number }

/** A body sent as is with its own content type (HTML pages, form-encoded OAuth answers). */
class Raw { constructor (readonly text: string, readonly type: string) {} }

type Handler = (m: RegExpMatchArray, req: { method: string, path: string, query: URLSearchParams, body: any, auth: string, headers: IncomingHttpHeaders }) => [number, unknown, Record<string, string>?]

const ERROR_URI = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/'
const html = (title: string, text: string) => new Raw(`<!DOCTYPE html>\n<html lang="en"><head><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>\n`, 'text/html; charset=utf-8')
const sameLogin = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()
const hasLogin = (logins: Iterable<string> | undefined, login: string) => [...(logins ?? [])].some(l => sameLogin(l, login))

const sha = (n: number) => n.toString(16).padStart(40, 'a')

export class FakeGitHub {
  url = ''
  readonly calls: FakeCall[] = []
  token = 'fake-token'
  /**
   * GitHub App mode: public key the JWTs are verified with, app id, installations by repo;
   * optionally the permissions and events its installations have (APP_PERMISSIONS, APP_EVENTS).
   */
  app: { id: number, publicKey: string, installations: Map<string, number>, slug?: string, permissions?: Record<string, string>, events?: string[] } | undefined
  /**
   * Token mode: the configured token is a personal access token of this login, so GET /user
   * answers with it. Unset (the default), the token is no user's and GET /user refuses it.
   */
  tokenOwner: string | undefined
  /** The App's webhook (GET /app/hook/config); undefined: the App has none. */
  appHook: FakeAppHook | undefined
  /** Deliveries of the App's webhook, oldest first (listed newest first, as GitHub does). */
  readonly appDeliveries: FakeDelivery[] = []
  readonly issuedTokens = new Set<string>()
  readonly pulls = new Map<string, FakePull>()
  readonly comments: FakeComment[] = []
  readonly deployments: FakeDeployment[] = []
  readonly hooks: FakeHook[] = []
  readonly ci = new Map<string, FakeCi>()
  /** Team members by 'org/team-slug'. */
  readonly teams = new Map<string, Set<string>>()

  // --- sign in with GitHub ---
  /** OAuth credentials (an OAuth app's, or a GitHub App's user authorization): client id → client secret. */
  readonly oauthClients = new Map<string, string>()
  /**
   * Registered callback URL per client id (optional). When set, an authorize request's
   * redirect_uri must have its scheme, host and port and its path or one below (GitHub's rule;
   * otherwise the browser is sent to this URL with error=redirect_uri_mismatch), and a request
   * without redirect_uri goes to it.
   */
  readonly oauthCallbacks = new Map<string, string>()
  /** The login signed in at GitHub in "the browser": authorize requests are approved for them. None: the sign-in page. */
  oauthUser: string | undefined
  /** The user clicks "Cancel": authorize redirects with error=access_denied. */
  oauthDenied = false
  /** How long an authorization code is good for, ms (GitHub: 10 minutes). */
  oauthCodeTtl = 600_000
  /** GET /login/oauth/authorize requests answered (every outcome). */
  authorizeCount = 0
  /** POST /login/oauth/access_token requests answered (every outcome). */
  tokenExchanges = 0
  /** GitHub users by login; one is created on first mention. */
  readonly users = new Map<string, { id: number }>()
  /** User access tokens issued by the web flow: token → login. */
  readonly userTokens = new Map<string, string>()
  /** Roles on repos: 'owner/name' → login → role. Not listed: no role ('none'). */
  readonly collaborators = new Map<string, Map<string, RepoRole>>()
  /** Public repos ('owner/name'): everybody without a role there has read. */
  readonly publicRepos = new Set<string>()
  /** Organisation members by org login. */
  readonly orgMembers = new Map<string, Set<string>>()
  private readonly oauthCodes = new Map<string, OauthCode>()
  private faults: Fault[] = []
  private nextId = 1000
  private server: Server | undefined
  private readonly routes: Array<[string, RegExp, Handler]>

  constructor () {
    const R = (method: string, path: string, h: Handler): [string, RegExp, Handler] => [method, new RegExp('^' + path.replace(/:(\w+)/g, '(?<$1>[^/]+)') + '$'), h]
    const repoOf = (m: RegExpMatchArray) => `${m.groups!.owner}/${m.groups!.repo}`
    const notFound: [number, unknown] = [404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' }]
    this.routes = [
      R('GET', '/repos/:owner/:repo/pulls/:n', m => {
        const p = this.pulls.get(`${repoOf(m)}#${m.groups!.n}`)
        return p ? [200, this.pullJson(p)] : notFound
      }),
      R('GET', '/repos/:owner/:repo/pulls', (m, r) => {
        // GitHub: state open (default) | closed | all; sort created (default); direction desc
        // by default; base and head (owner:branch) filters.
        const state = r.query.get('state') ?? 'open'
        const base = r.query.get('base')
        const head = r.query.get('head')
        const list = [...this.pulls.values()]
          .filter(p => p.repo === repoOf(m) && (state === 'all' || p.state === state) && (!base || base === 'main'))
          .filter(p => !head || head === `${(p.fork ?? p.repo).split('/')[0]}:${p.branch}`)
          .sort((a, b) => r.query.get('direction') === 'asc' ? a.number - b.number : b.number - a.number)
        return this.page(r.path, r.query, list.map(p => this.pullJson(p)))
      }),
      R('GET', '/repos/:owner/:repo/issues/:n/comments', (m, r) => {
        const all = this.comments.filter(c => c.repo === repoOf(m) && c.issue === Number(m.groups!.n))
        return this.page(r.path, r.query, all.map(c => this.commentJson(c)))
      }),
      R('POST', '/repos/:owner/:repo/issues/:n/comments', (m, r) => {
        const c: FakeComment = { id: this.nextId++, repo: repoOf(m), issue: Number(m.groups!.n), body: String(r.body?.body ?? ''), user: 'wakegate[bot]' }
        this.comments.push(c)
        return [201, this.commentJson(c)]
      }),
      R('PATCH', '/repos/:owner/:repo/issues/comments/:id', (m, r) => {
        const c = this.comments.find(x => x.repo === repoOf(m) && x.id === Number(m.groups!.id))
        if (!c) return notFound
        c.body = String(r.body?.body ?? '')
        return [200, this.commentJson(c)]
      }),
      R('GET', '/repos/:owner/:repo/deployments', (m, r) => {
        const env = r.query.get('environment')
        const s = r.query.get('sha')
        // Newest first, as GitHub lists them.
        const list = this.deployments.filter(d => d.repo === repoOf(m) && (!env || d.environment === env) && (!s || d.sha === s)).reverse()
        return this.page(r.path, r.query, list.map(d => this.deploymentJson(d)))
      }),
      R('GET', '/repos/:owner/:repo/deployments/:id/statuses', (m, r) => {
        const d = this.deployments.find(x => x.repo === repoOf(m) && x.id === Number(m.groups!.id))
        if (!d) return notFound
        return this.page(r.path, r.query, [...d.statuses].reverse().map(st => this.statusJson(d, st)))
      }),
      R('POST', '/repos/:owner/:repo/deployments', (m, r) => {
        const b = r.body ?? {}
        const d: FakeDeployment = {
          id: this.nextId++, repo: repoOf(m), ref: b.ref, sha: /^[0-9a-f]{40}$/.test(b.ref) ? b.ref : sha(this.nextId), environment: b.environment ?? 'production',
          transient_environment: !!b.transient_environment, production_environment: !!b.production_environment, payload: b.payload, statuses: []
        }
        this.deployments.push(d)
        return [201, this.deploymentJson(d)]
      }),
      R('POST', '/repos/:owner/:repo/deployments/:id/statuses', (m, r) => {
        const d = this.deployments.find(x => x.repo === repoOf(m) && x.id === Number(m.groups!.id))
        if (!d) return notFound
        const s: FakeStatus = { id: this.nextId++, state: r.body?.state, description: r.body?.description ?? '', environment_url: r.body?.environment_url }
        d.statuses.push(s)
        return [201, this.statusJson(d, s)]
      }),
      R('GET', '/repos/:owner/:repo/hooks', m => [200, this.hooks.filter(h => h.repo === repoOf(m)).map(h => this.hookJson(h))]),
      // repos.listWebhookDeliveries
      R('GET', '/repos/:owner/:repo/hooks/:id/deliveries', (m, r) => {
        const h = this.hooks.find(x => x.repo === repoOf(m) && x.id === Number(m.groups!.id))
        return h ? this.deliveryPage(r.path, r.query, h.deliveries ?? []) : notFound
      }),
      R('POST', '/repos/:owner/:repo/hooks', (m, r) => {
        const b = r.body ?? {}
        if (!b.config?.url) return [422, { message: 'Validation Failed' }]
        const h: FakeHook = { id: this.nextId++, repo: repoOf(m), name: b.name ?? 'web', active: b.active ?? true, events: b.events ?? ['push'], config: { ...b.config } }
        this.hooks.push(h)
        return [201, this.hookJson(h)]
      }),
      R('PATCH', '/repos/:owner/:repo/hooks/:id', (m, r) => {
        const h = this.hooks.find(x => x.repo === repoOf(m) && x.id === Number(m.groups!.id))
        if (!h) return notFound
        const b = r.body ?? {}
        if (b.config) h.config = { ...b.config }
        if (b.events) h.events = b.events
        if (b.active !== undefined) h.active = b.active
        return [200, this.hookJson(h)]
      }),
      R('GET', '/repos/:owner/:repo/commits/:ref/check-suites', m => {
        const ci = this.ci.get(`${repoOf(m)}@${m.groups!.ref}`) ?? { suites: [], statuses: [] }
        return [200, { total_count: ci.suites.length, check_suites: ci.suites.map((s, i) => ({ id: i + 1, head_sha: m.groups!.ref, latest_check_runs_count: 1, ...s })) }]
      }),
      R('GET', '/repos/:owner/:repo/commits/:ref/status', m => {
        const ci = this.ci.get(`${repoOf(m)}@${m.groups!.ref}`) ?? { suites: [], statuses: [] }
        const states = ci.statuses.map(s => s.state)
        const state = states.length === 0 || states.includes('pending') ? 'pending' : states.some(s => s === 'failure' || s === 'error') ? 'failure' : 'success'
        return [200, { state, sha: m.groups!.ref, total_count: ci.statuses.length, statuses: ci.statuses }]
      }),
      // teams.getMembershipForUserInOrg
      R('GET', '/orgs/:org/teams/:slug/memberships/:user', m => {
        const { org, slug, user } = m.groups!
        return hasLogin(this.teams.get(`${org}/${slug}`), user)
          ? [200, { url: `${this.url}/teams/1/memberships/${user}`, role: 'member', state: 'active' }]
          : notFound
      }),
      // orgs.checkMembershipForUser, asked as an org member (an installation of the org's app is)
      R('GET', '/orgs/:org/members/:user', m => hasLogin(this.orgMembers.get(m.groups!.org), m.groups!.user)
        ? [204, undefined]
        : [404, { message: 'User does not exist or is not a member of the organization', documentation_url: 'https://docs.github.com/rest/orgs/members#check-organization-membership-for-a-user', status: '404' }]),
      // repos.getCollaboratorPermissionLevel
      R('GET', '/repos/:owner/:repo/collaborators/:user/permission', m => {
        const repo = repoOf(m)
        const user = this.user(m.groups!.user)
        const role = this.roleOf(repo, user.login) ?? (this.publicRepos.has(repo) ? 'read' : 'none')
        const permission = LEGACY_PERMISSION[role]
        const rank = ['none', 'read', 'triage', 'write', 'maintain', 'admin'].indexOf(role)
        const permissions = { admin: rank >= 5, maintain: rank >= 4, push: rank >= 3, triage: rank >= 2, pull: rank >= 1 }
        return [200, { permission, role_name: role, user: { ...this.userJson(user.login), permissions, role_name: role } }]
      }),
      // The web flow (github.com, not the API): no API credentials.
      R('GET', '/login/oauth/authorize', (_m, r) => this.authorize(r.query)),
      R('POST', '/login/oauth/access_token', (_m, r) => this.exchange(r.query, r.body, String(r.headers.accept ?? ''))),
      // users.getAuthenticated, with a user token or the configured token (checkAuth let only those through)
      R('GET', '/user', (_m, r) => [200, this.userJson(this.userTokens.get(r.auth.split(' ')[1] ?? '') ?? this.tokenOwner!)]),
      // apps.listReposAccessibleToInstallation: the repos this fake knows of
      R('GET', '/installation/repositories', () => {
        const repos = [...new Set([...this.hooks.map(h => h.repo), ...[...this.pulls.values()].map(p => p.repo), ...(this.app?.installations.keys() ?? [])])]
        return [200, { total_count: repos.length, repository_selection: 'selected', repositories: repos.map((full, i) => ({ id: i + 1, name: full.split('/')[1], full_name: full, owner: { login: full.split('/')[0] }, private: true })) }]
      }),
      R('GET', '/repos/:owner/:repo/installation', m => {
        const id = this.app?.installations.get(repoOf(m))
        return id ? [200, this.installationJson(id, m.groups!.owner)] : notFound
      }),
      // apps.getAuthenticated (JWT)
      R('GET', '/app', () => [200, this.appJson()]),
      // apps.getWebhookConfigForApp (JWT)
      R('GET', '/app/hook/config', () => this.appHook
        ? [200, { content_type: this.appHook.content_type, insecure_ssl: this.appHook.insecure_ssl, url: this.appHook.url, ...(this.appHook.secret ? { secret: '********' } : {}) }]
        : notFound),
      // apps.listWebhookDeliveries (JWT)
      R('GET', '/app/hook/deliveries', (_m, r) => this.deliveryPage(r.path, r.query, this.appDeliveries)),
      R('POST', '/app/installations/:id/access_tokens', m => {
        const token = `ghs_${randomUUID().replace(/-/g, '')}`
        this.issuedTokens.add(token)
        return [201, { token, expires_at: new Date(Date.now() + 3_600_000).toISOString(), permissions: { pull_requests: 'write', issues: 'write', deployments: 'write' }, repository_selection: 'all', installation: Number(m.groups!.id) }]
      })
    ]
  }

  async start (): Promise<this> {
    this.server = createServer((req, res) => { this.serve(req, res) })
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  async close (): Promise<void> {
    if (!this.server) return
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server!.close(() => resolve()))
  }

  /** The next `times` calls matching method and path answer with this status (and headers). */
  fail (method: string, path: RegExp, opts: { status: number, headers?: Record<string, string>, body?: unknown, times?: number }): void {
    this.faults.push({ method, path, status: opts.status, headers: opts.headers ?? {}, body: opts.body ?? { message: `fake error ${opts.status}` }, times: opts.times ?? 1 })
  }

  /** Ends every injected fault (an outage is over). */
  clearFaults (): void { this.faults = [] }

  /** A primary rate limit: 403 with x-ratelimit-remaining 0 and a reset `resetIn` ms away. */
  rateLimit (method: string, path: RegExp, times = 1, resetIn = 0): void {
    const reset = String(Math.ceil((Date.now() + resetIn) / 1000))
    this.fail(method, path, { status: 403, times, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-limit': '5000', 'x-ratelimit-reset': reset }, body: { message: 'API rate limit exceeded' } })
  }

  /** Calls made (and answered with `status` if given), by method and path pattern. */
  count (method: string, path: RegExp, status?: number): number {
    return this.calls.filter(c => c.method === method && path.test(c.path) && (status === undefined || c.status === status)).length
  }

  addPull (p: Partial<FakePull> & { repo: string, number: number }): FakePull {
    const pull: FakePull = { state: 'open', draft: false, title: `PR ${p.number}`, author: 'octocat', branch: `feature/${p.number}`, sha: sha(p.number), labels: [], ...p }
    this.pulls.set(`${pull.repo}#${pull.number}`, pull)
    return pull
  }

  setCi (repo: string, commit: string, ci: Partial<FakeCi>): void {
    this.ci.set(`${repo}@${commit}`, { suites: [], statuses: [], ...ci })
  }

  /**
   * GitHub tried to deliver to `target` (a repo hook, or 'app' for the App's webhook) and got
   * `status` (0: no HTTP answer, e.g. it could not connect), `ago` ms before now.
   */
  deliver (target: FakeHook | 'app', status: number, opts: { event?: string, action?: string | null, ago?: number } = {}): FakeDelivery {
    const d: FakeDelivery = {
      id: this.nextId++,
      guid: randomUUID(),
      delivered_at: new Date(Date.now() - (opts.ago ?? 0)).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      redelivery: false,
      duration: 0.12,
      status: status === 0 ? 'failed to connect to host' : status >= 200 && status < 300 ? 'OK' : `Invalid HTTP Response: ${status}`,
      status_code: status,
      event: opts.event ?? 'pull_request',
      action: opts.action === undefined ? 'opened' : opts.action,
      installation_id: target === 'app' ? [...(this.app?.installations.values() ?? [])][0] ?? null : null,
      repository_id: 1
    }
    if (target === 'app') this.appDeliveries.push(d)
    else (target.deliveries ??= []).push(d)
    return d
  }

  /** The user with this login (case-insensitive), created on first mention. */
  user (login: string): { login: string, id: number } {
    for (const [l, u] of this.users) if (sameLogin(l, login)) return { login: l, id: u.id }
    const u = { id: this.nextId++ }
    this.users.set(login, u)
    return { login, id: u.id }
  }

  /** Gives `login` a role on `repo` ('none' takes it away). */
  setRole (repo: string, login: string, role: RepoRole | 'none'): void {
    const roles = this.collaborators.get(repo) ?? new Map<string, RepoRole>()
    for (const l of roles.keys()) if (sameLogin(l, login)) roles.delete(l)
    if (role !== 'none') roles.set(login, role)
    this.collaborators.set(repo, roles)
  }

  /** Revokes every user token issued to `login` (GET /user with them answers 401); how many. */
  revokeUserTokens (login: string): number {
    let n = 0
    for (const [token, l] of this.userTokens) if (sameLogin(l, login)) { this.userTokens.delete(token); n++ }
    return n
  }

  private roleOf (repo: string, login: string): RepoRole | undefined {
    for (const [l, role] of this.collaborators.get(repo) ?? []) if (sameLogin(l, login)) return role
    return undefined
  }

  private userJson (login: string) {
    const u = this.user(login)
    return {
      login: u.login, id: u.id, node_id: `U_fake${u.id}`, avatar_url: `https://avatars.githubusercontent.com/u/${u.id}?v=4`, gravatar_id: '',
      url: `${this.url}/users/${u.login}`, html_url: `https://github.com/${u.login}`, type: 'User', site_admin: false, name: null, email: null
    }
  }

  /** GET /login/oauth/authorize: the browser's visit, approved at once for `oauthUser`. */
  private authorize (q: URLSearchParams): [number, unknown, Record<string, string>?] {
    this.authorizeCount++
    const clientId = q.get('client_id') ?? ''
    if (!this.oauthClients.has(clientId)) return [404, html('Page not found · GitHub', 'No OAuth application or GitHub App has this client_id.')]
    const state = q.get('state')
    const back = (uri: string, params: Record<string, string>) => {
      const p = new URLSearchParams(params)
      if (state !== null) p.set('state', state)
      const location = `${uri}${uri.includes('?') ? '&' : '?'}${p}`
      return [302, html('Redirecting', `You are being <a href="${location}">redirected</a>.`), { location }] as [number, unknown, Record<string, string>]
    }
    const registered = this.oauthCallbacks.get(clientId)
    const asked = q.get('redirect_uri') ?? undefined
    if (registered && asked && !callbackAllows(registered, asked)) {
      return back(registered, { error: 'redirect_uri_mismatch', error_description: 'The redirect_uri MUST match the registered callback URL for this application.', error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch' })
    }
    const redirectUri = asked ?? registered
    if (!redirectUri) return [200, html('Redirect URI error', 'The application has no callback URL and the request no redirect_uri.')]
    if (!this.oauthUser) return [200, html('Sign in to GitHub · GitHub', '<form action="/session" method="post"><input name="login"><input name="password" type="password"><input type="submit" value="Sign in"></form>')]
    if (this.oauthDenied) {
      return back(redirectUri, { error: 'access_denied', error_description: 'The user has denied your application access.', error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied' })
    }
    const code = randomBytes(10).toString('hex')
    const scope = (q.get('scope') ?? '').split(/[\s,]+/).filter(Boolean).join(',')
    this.oauthCodes.set(code, { clientId, redirectUri, login: this.user(this.oauthUser).login, scope, expires: Date.now() + this.oauthCodeTtl })
    return back(redirectUri, { code })
  }

  /**
   * POST /login/oauth/access_token: parameters from the JSON or form body (or the query);
   * errors answer 200 as on GitHub; JSON when Accept asks for it, form-encoded otherwise.
   */
  private exchange (query: URLSearchParams, body: unknown, accept: string): [number, unknown, Record<string, string>?] {
    this.tokenExchanges++
    const p: Record<string, unknown> = { ...Object.fromEntries(query), ...(body && typeof body === 'object' ? body : {}) }
    const answer = (data: Record<string, string>): [number, unknown] => accept.includes('application/json')
      ? [200, data]
      : [200, new Raw(new URLSearchParams(data).toString(), 'application/x-www-form-urlencoded; charset=utf-8')]
    const clientId = String(p.client_id ?? '')
    const secret = this.oauthClients.get(clientId)
    if (secret === undefined || secret !== p.client_secret) {
      return answer({ error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.', error_uri: `${ERROR_URI}#incorrect-client-credentials` })
    }
    const codeText = String(p.code ?? '')
    const code = this.oauthCodes.get(codeText)
    if (code && code.expires <= Date.now()) this.oauthCodes.delete(codeText)
    const redirectUri = p.redirect_uri === undefined || p.redirect_uri === '' ? undefined : String(p.redirect_uri)
    if (!code || code.expires <= Date.now() || code.clientId !== clientId || (redirectUri !== undefined && redirectUri !== code.redirectUri)) {
      return answer({ error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.', error_uri: `${ERROR_URI}#bad-verification-code` })
    }
    this.oauthCodes.delete(codeText)
    const token = `gho_${randomBytes(27).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`
    this.userTokens.set(token, code.login)
    return answer({ access_token: token, token_type: 'bearer', scope: code.scope })
  }

  private serve (req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c))
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x')
      const method = req.method ?? 'GET'
      const text = Buffer.concat(chunks).toString()
      let body: any
      if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) body = Object.fromEntries(new URLSearchParams(text))
      else try { body = text ? JSON.parse(text) : undefined } catch { body = text }
      const auth = String(req.headers.authorization ?? '')
      const call: FakeCall = { method, path: u.pathname, query: u.searchParams, body, auth, status: 0 }
      this.calls.push(call)
      const send = (status: number, data: unknown, headers: Record<string, string> = {}) => {
        call.status = status
        const type = data instanceof Raw ? data.type : 'application/json; charset=utf-8'
        res.writeHead(status, { 'content-type': type, 'x-github-request-id': `FAKE:${this.calls.length}`, 'x-ratelimit-remaining': '4999', ...headers })
        res.end(status === 204 ? undefined : data instanceof Raw ? data.text : JSON.stringify(data))
      }
      const fault = this.faults.find(f => f.method === method && f.path.test(u.pathname))
      if (fault) {
        if (--fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1)
        send(fault.status, fault.body, fault.headers)
        return
      }
      const authErr = this.checkAuth(u.pathname, auth)
      if (authErr) { send(401, { message: authErr, documentation_url: 'https://docs.github.com/rest', status: '401' }); return }
      for (const [m, re, h] of this.routes) {
        if (m !== method) continue
        const match = u.pathname.match(re)
        if (!match) continue
        const [status, data, headers] = h(match, { method, path: u.pathname, query: u.searchParams, body, auth, headers: req.headers })
        send(status, data, headers)
        return
      }
      send(404, { message: 'Not Found (fake has no such endpoint)' })
    })
  }

  /**
   * The web flow (/login/…): none. GET /user: a user token from the web flow. Otherwise, token
   * mode: the configured token; app mode: a JWT for app endpoints, an issued token otherwise.
   */
  private checkAuth (path: string, auth: string): string | undefined {
    if (path.startsWith('/login/')) return undefined
    const [scheme, cred] = auth.split(' ')
    const tokenScheme = scheme?.toLowerCase() === 'token' || scheme?.toLowerCase() === 'bearer'
    if (path === '/user') {
      if (!auth) return 'Requires authentication'
      // A user's token, or (token mode) the configured one: a personal access token has a user.
      return tokenScheme && (this.userTokens.has(cred ?? '') || (!this.app && this.tokenOwner !== undefined && cred === this.token)) ? undefined : 'Bad credentials'
    }
    if (!this.app) return tokenScheme ? (cred === this.token ? undefined : 'Bad credentials') : 'Requires authentication'
    const appEndpoint = path === '/app' || path.startsWith('/app/') || /^\/repos\/[^/]+\/[^/]+\/installation$/.test(path)
    if (appEndpoint) return scheme?.toLowerCase() === 'bearer' && this.verifyJwt(cred ?? '') ? undefined : 'A JSON web token could not be decoded'
    return this.issuedTokens.has(cred ?? '') ? undefined : 'Bad credentials'
  }

  private verifyJwt (jwt: string): boolean {
    const [h, p, s] = jwt.split('.')
    if (!h || !p || !s) return false
    const v = createVerify('RSA-SHA256')
    v.update(`${h}.${p}`)
    if (!v.verify(this.app!.publicKey, Buffer.from(s, 'base64url'))) return false
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
    return String(claims.iss) === String(this.app!.id) && claims.exp * 1000 > Date.now()
  }

  private pullJson (p: FakePull) {
    const [owner, name] = p.repo.split('/')
    const repoJson = (full: string) => ({ id: 1, name: full.split('/')[1], full_name: full, owner: { login: full.split('/')[0] } })
    return {
      url: `${this.url}/repos/${p.repo}/pulls/${p.number}`, id: p.number * 10, number: p.number, state: p.state, draft: p.draft, title: p.title,
      user: { login: p.author, id: 1, type: 'User' }, labels: p.labels.map((l, i) => ({ id: i + 1, name: l })),
      head: { ref: p.branch, sha: p.sha, repo: repoJson(p.fork ?? p.repo), label: `${owner}:${p.branch}` },
      base: { ref: 'main', sha: sha(1), repo: repoJson(p.repo), label: `${owner}:main` },
      html_url: `https://github.com/${owner}/${name}/pull/${p.number}`
    }
  }

  /**
   * One page of a list, as GitHub pages: per_page (default 30, at most 100) and page, with a
   * Link header (first/prev/next/last) carrying the request's other query parameters.
   */
  private page (path: string, query: URLSearchParams, all: unknown[]): [number, unknown[], Record<string, string>] {
    const per = Math.min(100, Math.max(1, Number(query.get('per_page') ?? 30) || 30))
    const page = Math.max(1, Number(query.get('page') ?? 1) || 1)
    const last = Math.max(1, Math.ceil(all.length / per))
    const link = (n: number, rel: string) => {
      const q = new URLSearchParams(query)
      q.set('per_page', String(per))
      q.set('page', String(n))
      return `<${this.url}${path}?${q}>; rel="${rel}"`
    }
    const links: string[] = []
    if (page > 1) links.push(link(page - 1, 'prev'))
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'))
    if (page > 1) links.push(link(1, 'first'))
    return [200, all.slice((page - 1) * per, page * per), links.length ? { link: links.join(', ') } : {}]
  }

  private statusJson (d: FakeDeployment, s: FakeStatus) {
    return { id: s.id, state: s.state, description: s.description, environment: d.environment, environment_url: s.environment_url, url: `${this.url}/repos/${d.repo}/deployments/${d.id}/statuses/${s.id}`, deployment_url: `${this.url}/repos/${d.repo}/deployments/${d.id}` }
  }

  private commentJson (c: FakeComment) {
    return { id: c.id, body: c.body, user: { login: c.user, type: 'Bot' }, html_url: `https://github.com/${c.repo}/pull/${c.issue}#issuecomment-${c.id}`, created_at: new Date().toISOString() }
  }

  private deploymentJson (d: FakeDeployment) {
    return { id: d.id, sha: d.sha, ref: d.ref, environment: d.environment, transient_environment: d.transient_environment, production_environment: d.production_environment, payload: d.payload, url: `${this.url}/repos/${d.repo}/deployments/${d.id}` }
  }

  /** Deliveries newest first, per_page (default 30, at most 100) and a cursor, as GitHub pages them. */
  private deliveryPage (path: string, query: URLSearchParams, all: FakeDelivery[]): [number, unknown, Record<string, string>] {
    const per = Math.min(100, Math.max(1, Number(query.get('per_page') ?? 30) || 30))
    const newest = [...all].reverse()
    const cursor = query.get('cursor')
    const start = cursor ? newest.findIndex(d => String(d.id) === cursor) + 1 : 0
    const items = newest.slice(start, start + per)
    const more = start + per < newest.length
    return [200, items, more ? { link: `<${this.url}${path}?per_page=${per}&cursor=${items[items.length - 1].id}>; rel="next"` } : {}]
  }

  private appJson () {
    const app = this.app!
    const slug = app.slug ?? `wakegate-${app.id}`
    const now = new Date().toISOString()
    return {
      id: app.id, slug, node_id: `A_fake${app.id}`, client_id: `Iv1.fake${app.id}`, name: slug, description: '', owner: { login: 'acme', id: 1, type: 'Organization' },
      external_url: 'https://review.example.com', html_url: `https://github.com/apps/${slug}`, created_at: now, updated_at: now,
      permissions: app.permissions ?? APP_PERMISSIONS, events: app.events ?? APP_EVENTS, installations_count: app.installations.size
    }
  }

  private installationJson (id: number, owner: string) {
    const app = this.app!
    const now = new Date().toISOString()
    return {
      id, app_id: app.id, app_slug: app.slug ?? `wakegate-${app.id}`, target_id: 1, target_type: 'Organization',
      account: { login: owner, id: 1, type: 'Organization' }, repository_selection: 'selected',
      access_tokens_url: `${this.url}/app/installations/${id}/access_tokens`, repositories_url: `${this.url}/installation/repositories`,
      html_url: `https://github.com/organizations/${owner}/settings/installations/${id}`,
      permissions: app.permissions ?? APP_PERMISSIONS, events: app.events ?? APP_EVENTS,
      created_at: now, updated_at: now, single_file_name: null, suspended_at: null, suspended_by: null
    }
  }

  private hookJson (h: FakeHook) {
    return { id: h.id, type: 'Repository', name: h.name, active: h.active, events: h.events, config: { ...h.config, ...(h.config.secret ? { secret: '********' } : {}) }, url: `${this.url}/repos/${h.repo}/hooks/${h.id}` }
  }
}

/** GitHub's redirect_uri rule: same scheme, host and port as the callback URL, its path or one below. */
function callbackAllows (registered: string, asked: string): boolean {
  try {
    const r = new URL(registered)
    const a = new URL(asked)
    const base = r.pathname.endsWith('/') ? r.pathname : r.pathname + '/'
    return r.protocol === a.protocol && r.host === a.host && (a.pathname === r.pathname || a.pathname.startsWith(base))
  } catch { return false }
}

// --- webhooks --------------------------------------------------------------------------

const require = createRequire(import.meta.url)
const definitions = require('@octokit/webhooks-examples') as Array<{ name: string, examples: any[] }>

/** A real example payload of `event` (with `action` when given), deep-copied. */
export function example (event: string, action?: string): any {
  const def = definitions.find(d => d.name === event)
  if (!def) throw new Error(`no examples for ${event}`)
  const ex = def.examples.find(e => action === undefined || e.action === action) ?? def.examples[0]
  return structuredClone(ex)
}

export function setRepo (repository: any, repo: string): void {
  const [owner, name] = repo.split('/')
  repository.full_name = repo
  repository.name = name
  if (repository.owner) repository.owner.login = owner
}

/** A `pull_request` payload from the examples, adjusted to this PR. */
export function prEvent (action: string, pull: FakePull, extra: { label?: string } = {}): any {
  const p = example('pull_request', action)
  p.action = action
  p.number = pull.number
  setRepo(p.repository, pull.repo)
  const pr = p.pull_request
  pr.number = pull.number
  pr.state = pull.state
  pr.draft = pull.draft
  pr.title = pull.title
  pr.user.login = pull.author
  pr.labels = pull.labels.map((name, i) => ({ id: i + 1, name, color: 'ededed', default: false }))
  pr.head.ref = pull.branch
  pr.head.sha = pull.sha
  pr.head.repo = structuredClone(p.repository)
  setRepo(pr.head.repo, pull.fork ?? pull.repo)
  setRepo(pr.base.repo, pull.repo)
  if (extra.label) p.label = { id: 99, name: extra.label, color: 'ededed', default: false }
  return p
}

export function checkSuiteEvent (repo: string, headSha: string, conclusion: string, action = 'completed'): any {
  const p = example('check_suite', action)
  p.action = action
  setRepo(p.repository, repo)
  p.check_suite.head_sha = headSha
  p.check_suite.status = action === 'completed' ? 'completed' : 'queued'
  p.check_suite.conclusion = action === 'completed' ? conclusion : null
  return p
}

export function statusEvent (repo: string, commit: string, state: string): any {
  const p = example('status')
  setRepo(p.repository, repo)
  p.sha = commit
  p.state = state
  return p
}

export function sign (secret: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex')
}

export interface Delivery { status: number, body: any, id: string }

/** POSTs a webhook to the gateway through a real socket, signed unless told otherwise. */
export async function sendWebhook (gatewayUrl: string, opts: { event: string, payload: unknown, secret?: string, id?: string, host?: string, path?: string, signature?: string | null }): Promise<Delivery> {
  const body = JSON.stringify(opts.payload)
  const id = opts.id ?? randomUUID()
  const headers: Record<string, string> = {
    host: opts.host ?? 'hooks.review.test',
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/fake',
    'x-github-event': opts.event,
    'x-github-delivery': id
  }
  const signature = opts.signature === undefined ? sign(opts.secret ?? 'webhook-secret', body) : opts.signature
  if (signature !== null) headers['x-hub-signature-256'] = signature
  const res = await request(`${gatewayUrl}${opts.path ?? '/_wakegate/github'}`, { method: 'POST', headers, body })
  const text = await res.body.text()
  let parsed: any = text
  try { parsed = text ? JSON.parse(text) : undefined } catch {}
  return { status: res.statusCode, body: parsed, id }
}
