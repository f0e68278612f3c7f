// GitHub REST client: octokit authenticated as a GitHub App (installation tokens through
// @octokit/auth-app, installation found per repo) or with a token; every call gets a
// timeout, retries on 5xx and network errors, and backs off on rate limits. Nothing on the
// proxy path awaits it except the known-PR lookup of a PR never seen before.
import { Octokit } from '@octokit/rest'
import { createAppAuth } from '@octokit/auth-app'
import type { Logger } from 'pino'
import type { GithubSettings } from './config.js'

export type { Octokit }

export interface CallOptions {
  /** Retries for this call (default: settings.retries). */
  retries?: number
  /** Longest rate-limit wait for this call (default: settings.maxRetryWait); longer → RateLimitedError. */
  maxRetryWait?: number
}

export interface ClientCounters { calls: number, retries: number, rateLimited: number, failures: number }

interface HttpError extends Error { status?: number, response?: { headers: Record<string, string | undefined> } }

export class RateLimitedError extends Error {
  constructor (readonly until: number) {
    super(`GitHub rate limit: calls paused until ${new Date(until).toISOString()}`)
    this.name = 'RateLimitedError'
  }
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms).unref())
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE'])

export class GithubClient {
  readonly counters: ClientCounters = { calls: 0, retries: 0, rateLimited: 0, failures: 0 }
  /** No call is sent before this time (ms since epoch): a rate limit is in force. */
  blockedUntil = 0
  private readonly byInstallation = new Map<number, Octokit>()
  private readonly installations = new Map<string, number>()
  private tokenClient: Octokit | undefined
  private appClient: Octokit | undefined

  constructor (private readonly settings: GithubSettings, private readonly log: Logger) {}

  /** Installation ids arrive with webhook payloads; remembering them saves a lookup. */
  noteInstallation (repo: string, id: number | undefined): void {
    if (id && this.settings.auth.kind === 'app') this.installations.set(repo.toLowerCase(), id)
  }

  /** An authenticated client for calls on `owner/name`. */
  async forRepo (repo: string): Promise<Octokit> {
    const auth = this.settings.auth
    if (auth.kind === 'token') return (this.tokenClient ??= this.make({ auth: auth.token }))
    let id = auth.installationId ?? this.installations.get(repo.toLowerCase())
    if (!id) {
      this.appClient ??= this.make({ authStrategy: createAppAuth, auth: { appId: auth.appId, privateKey: auth.privateKey } })
      const [owner, name] = repo.split('/')
      const res = await this.appClient.rest.apps.getRepoInstallation({ owner, repo: name })
      id = res.data.id
      this.installations.set(repo.toLowerCase(), id)
    }
    let client = this.byInstallation.get(id)
    if (!client) {
      client = this.make({ authStrategy: createAppAuth, auth: { appId: auth.appId, privateKey: auth.privateKey, installationId: id } })
      this.byInstallation.set(id, client)
    }
    return client
  }

  private make (opts: ConstructorParameters<typeof Octokit>[0]): Octokit {
    const log = this.log
    const octokit = new Octokit({
      ...opts,
      baseUrl: this.settings.apiUrl,
      userAgent: 'wakegate',
      log: { debug: () => {}, info: () => {}, warn: (m: string) => log.warn({ github: m }, 'github client'), error: (m: string) => log.debug({ github: m }, 'github call failed') }
    })
    octokit.hook.wrap('request', (request, options) => this.send(async () => await request(options), options))
    return octokit
  }

  /** One call with timeout, retries and rate-limit handling. */
  private async send<T> (call: () => Promise<T>, options: { method?: string, url?: string, request?: Record<string, any> }): Promise<T> {
    const s = this.settings
    const retries: number = options.request?.retries ?? s.retries
    const maxWait: number = options.request?.maxRetryWait ?? s.maxRetryWait
    const method = (options.method ?? 'GET').toUpperCase()
    for (let attempt = 0; ; attempt++) {
      const blocked = this.blockedUntil - Date.now()
      if (blocked > 0) {
        if (blocked > maxWait) throw new RateLimitedError(this.blockedUntil)
        await sleep(blocked)
      }
      this.counters.calls++
      options.request = { ...options.request, signal: AbortSignal.timeout(s.requestTimeout) }
      try {
        const res = await call()
        this.noteQuota((res as { headers?: Record<string, string | undefined> }).headers)
        return res
      } catch (e) {
        const err = e as HttpError
        const headers = err.response?.headers ?? {}
        let wait: number
        if ((err.status === 403 || err.status === 429) && (headers['x-ratelimit-remaining'] === '0' || headers['retry-after'] !== undefined)) {
          this.counters.rateLimited++
          wait = headers['retry-after'] !== undefined
            ? Number(headers['retry-after']) * 1000
            : Math.max(0, Number(headers['x-ratelimit-reset'] ?? 0) * 1000 - Date.now())
          if (!Number.isFinite(wait)) wait = 60_000
          this.blockedUntil = Math.max(this.blockedUntil, Date.now() + wait)
          this.log.warn({ status: err.status, wait, url: options.url }, 'GitHub rate limit; backing off')
          // Too long to wait here: the caller keeps its work for later.
          if (attempt >= retries || wait > maxWait) { this.counters.failures++; throw new RateLimitedError(this.blockedUntil) }
        } else if (retryable(err, method)) {
          wait = Math.min(200 * 2 ** attempt, 5_000) * (0.5 + Math.random() / 2)
          if (attempt >= retries) { this.counters.failures++; throw err }
        } else {
          this.counters.failures++
          throw err
        }
        this.counters.retries++
        await sleep(wait)
      }
    }
  }

  private noteQuota (headers: Record<string, string | undefined> | undefined): void {
    if (headers?.['x-ratelimit-remaining'] === '0' && headers['x-ratelimit-reset']) {
      this.blockedUntil = Math.max(this.blockedUntil, Number(headers['x-ratelimit-reset']) * 1000)
    }
  }
}

/** 5xx and lost connections are retried; a POST only when it cannot have been processed. */
function retryable (err: HttpError, method: string): boolean {
  const noResponse = err.response === undefined
  if (IDEMPOTENT.has(method)) return noResponse || (err.status !== undefined && err.status >= 500)
  return noResponse && /ECONNREFUSED/.test(err.message)
}

/** HTTP status of an octokit error, or undefined. */
export function statusOf (err: unknown): number | undefined {
  return (err as HttpError)?.status
}

/**
 * The API gave no answer: a rate limit beyond the wait, a 5xx, or no response at all
 * (octokit reports network errors and timeouts as status 500). Asking later may succeed.
 */
export function unavailable (err: unknown): boolean {
  if (err instanceof RateLimitedError) return true
  const status = statusOf(err)
  return status !== undefined && status >= 500
}

/** A decision needed the API and it was unavailable; nothing was changed, so it can be retried. */
export class GithubUnavailableError extends Error {
  constructor (what: string, cause: unknown) {
    super(`GitHub unavailable for ${what}: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.name = 'GithubUnavailableError'
  }
}
