// The known-PR gate (manager.prResolver): a PR not known from webhooks may wake only if the
// API confirms it open and the app's policies admit it. Answers are cached, positive and
// negative, so a host scan costs one API call per PR per TTL; failures are not cached.
import { LRUCache } from 'lru-cache'
import type { Logger } from 'pino'
import type { EnvManager, PrInfo } from '../lifecycle/manager.js'
import { RateLimitedError, statusOf, type GithubClient } from './client.js'
import type { GithubEvents } from './events.js'

export class KnownPrs {
  readonly counters = { lookups: 0, hits: 0, denied: 0 }
  private readonly cache: LRUCache<string, { info: PrInfo | null }>

  constructor (
    private readonly manager: EnvManager,
    private readonly client: GithubClient,
    private readonly events: () => GithubEvents,
    private readonly log: Logger,
    ttl: number
  ) {
    this.cache = new LRUCache({ max: 20_000, ttl: Math.max(1, ttl) })
  }

  /** What webhooks learnt: an admitted PR (info) or one that may not wake (null). */
  remember (key: string, info: PrInfo | null): void { this.cache.set(key, { info }) }

  /** manager.prResolver */
  resolve = async (app: string, pr: number): Promise<PrInfo | null> => {
    const key = `${app}/${pr}`
    const cached = this.cache.get(key)
    if (cached) {
      this.counters.hits++
      return cached.info
    }
    const config = this.manager.apps.get(app)?.config
    if (!config?.repo) return null
    // Rate limited: answer at once rather than holding the request (not cached).
    if (this.client.blockedUntil > Date.now()) throw new RateLimitedError(this.client.blockedUntil)
    this.counters.lookups++
    const [owner, name] = config.repo.split('/')
    let pull
    try {
      const gh = await this.client.forRepo(config.repo)
      pull = (await gh.rest.pulls.get({ owner, repo: name, pull_number: pr, request: { retries: 1, maxRetryWait: 0 } })).data
    } catch (err) {
      if (statusOf(err) === 404) return this.deny(key, 'no such PR')
      throw err
    }
    if (pull.state !== 'open') return this.deny(key, 'PR is closed')
    const outcome = await this.events().accept(config, pr, pull, 'api')
    if (outcome.action === 'ignored') return this.deny(key, outcome.reason)
    if (outcome.action === 'waiting-for-ci') return null // a check event registers it
    const info: PrInfo = { branch: pull.head.ref, sha: pull.head.sha, title: pull.title, author: pull.user?.login, source: 'github-api' }
    this.cache.set(key, { info })
    return info
  }

  private deny (key: string, reason: string): null {
    this.counters.denied++
    this.log.info({ env: key, reason }, 'PR may not wake')
    this.cache.set(key, { info: null })
    return null
  }
}
