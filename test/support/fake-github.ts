// A fake of the GitHub REST API endpoints wakegate calls, on a real HTTP server: the real
// octokit client talks to it through `apiUrl`. It keeps repos' PRs, comments, deployments
// and statuses, hooks, CI results and team members; lists page like GitHub's (per_page,
// page, Link headers, newest first where GitHub does so); records every call; and can
// answer with errors (5xx) and rate limits (403/429) on demand. Also signs and sends webhooks built
// from @octokit/webhooks-examples payloads.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createHmac, createVerify, randomUUID } from 'node:crypto'
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
export interface FakeHook { id: number, repo: string, name: string, active: boolean, events: string[], config: Record<string, string> }
export interface FakeSuite { status: 'queued' | 'in_progress' | 'completed', conclusion: string | null, latest_check_runs_count?: number }
export interface FakeCi { suites: FakeSuite[], statuses: Array<{ context: string, state: 'pending' | 'success' | 'failure' | 'error' }> }

interface Fault { method: string, path: RegExp, status: number, headers: Record<string, string>, body: unknown, times: number }

type Handler = (m: RegExpMatchArray, req: { method: string, path: string, query: URLSearchParams, body: any, auth: string }) => [number, unknown, Record<string, string>?]

const sha = (n: number) => n.toString(16).padStart(40, 'a')

export class FakeGitHub {
  url = ''
  readonly calls: FakeCall[] = []
  token = 'fake-token'
  /** GitHub App mode: public key the JWTs are verified with, app id, installations by repo. */
  app: { id: number, publicKey: string, installations: Map<string, number> } | undefined
  readonly issuedTokens = new Set<string>()
  readonly pulls = new Map<string, FakePull>()
  readonly comments: FakeComment[] = []
  readonly deployments: FakeDeployment[] = []
  readonly hooks: FakeHook[] = []
  readonly ci = new Map<string, FakeCi>()
  readonly teams = new Map<string, Set<string>>()
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
      R('GET', '/orgs/:org/teams/:slug/memberships/:user', m => {
        const members = this.teams.get(`${m.groups!.org}/${m.groups!.slug}`)
        return members?.has(m.groups!.user) ? [200, { state: 'active', role: 'member' }] : notFound
      }),
      R('GET', '/repos/:owner/:repo/installation', m => {
        const id = this.app?.installations.get(repoOf(m))
        return id ? [200, { id, app_id: this.app!.id, account: { login: m.groups!.owner } }] : notFound
      }),
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

  private serve (req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c))
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x')
      const method = req.method ?? 'GET'
      const text = Buffer.concat(chunks).toString()
      let body: any
      try { body = text ? JSON.parse(text) : undefined } catch { body = text }
      const auth = String(req.headers.authorization ?? '')
      const call: FakeCall = { method, path: u.pathname, query: u.searchParams, body, auth, status: 0 }
      this.calls.push(call)
      const send = (status: number, data: unknown, headers: Record<string, string> = {}) => {
        call.status = status
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-request-id': `FAKE:${this.calls.length}`, 'x-ratelimit-remaining': '4999', ...headers })
        res.end(status === 204 ? undefined : JSON.stringify(data))
      }
      const fault = this.faults.find(f => f.method === method && f.path.test(u.pathname))
      if (fault) {
        if (--fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1)
        send(fault.status, fault.body, fault.headers)
        return
      }
      const authErr = this.checkAuth(u.pathname, auth)
      if (authErr) { send(401, { message: authErr }); return }
      for (const [m, re, h] of this.routes) {
        if (m !== method) continue
        const match = u.pathname.match(re)
        if (!match) continue
        const [status, data, headers] = h(match, { method, path: u.pathname, query: u.searchParams, body, auth })
        send(status, data, headers)
        return
      }
      send(404, { message: 'Not Found (fake has no such endpoint)' })
    })
  }

  /** Token mode: the configured token. App mode: a JWT for app endpoints, an issued token otherwise. */
  private checkAuth (path: string, auth: string): string | undefined {
    const [scheme, cred] = auth.split(' ')
    if (!this.app) return scheme?.toLowerCase() === 'token' || scheme?.toLowerCase() === 'bearer' ? (cred === this.token ? undefined : 'Bad credentials') : 'Requires authentication'
    const appEndpoint = path.startsWith('/app/') || /^\/repos\/[^/]+\/[^/]+\/installation$/.test(path)
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

  private hookJson (h: FakeHook) {
    return { id: h.id, type: 'Repository', name: h.name, active: h.active, events: h.events, config: { ...h.config, ...(h.config.secret ? { secret: '********' } : {}) }, url: `${this.url}/repos/${h.repo}/hooks/${h.id}` }
  }
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

function setRepo (repository: any, repo: string): void {
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
