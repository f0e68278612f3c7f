// Apps with waitForCi start or redeploy a head SHA only once its check suites and commit
// statuses have succeeded. PRs held here are released by check_suite / status events; the
// comment says what it is waiting for meanwhile.
import { LRUCache } from 'lru-cache'
import type { Logger } from 'pino'
import { GithubUnavailableError, unavailable, type GithubClient } from './client.js'
import { ciVerdict, type CiVerdict, type PullLike } from './policy.js'

export interface Held {
  app: string
  repo: string
  pull: PullLike
  /** The event that brought this SHA (opened, synchronize, …). */
  cause: string
}

export class WaitCi {
  /** app/pr → the newest head SHA waiting for CI. */
  readonly held = new Map<string, Held>()
  private readonly passed = new LRUCache<string, true>({ max: 10_000 })

  constructor (private readonly client: GithubClient, private readonly log: Logger) {}

  /** What CI says about `sha` now (one look at check suites and the combined status). */
  async verdict (repo: string, sha: string): Promise<CiVerdict> {
    const key = `${repo.toLowerCase()}@${sha}`
    if (this.passed.get(key)) return 'success'
    const [owner, name] = repo.split('/')
    const gh = await this.client.forRepo(repo)
    // Asked while a webhook waits for its answer: do not sit out a long rate limit here.
    const request = { maxRetryWait: 5_000 }
    const [suites, combined] = await Promise.all([
      gh.rest.checks.listSuitesForRef({ owner, repo: name, ref: sha, per_page: 100, request }),
      gh.rest.repos.getCombinedStatusForRef({ owner, repo: name, ref: sha, per_page: 100, request })
    ])
    const v = ciVerdict(suites.data.check_suites, combined.data)
    if (v === 'success') this.passed.set(key, true)
    return v
  }

  hold (key: string, h: Held): void { this.held.set(key, h) }
  release (key: string): void { this.held.delete(key) }

  /**
   * A check suite or status changed for `sha`: look again for every PR waiting on it.
   * `done` gets each held PR with the verdict when it is no longer pending. An unavailable
   * API throws GithubUnavailableError (nothing changed), so the event can be redelivered.
   */
  async signal (repo: string, sha: string, done: (key: string, h: Held, verdict: CiVerdict) => Promise<void>): Promise<number> {
    const waiting = [...this.held].filter(([, h]) => h.repo.toLowerCase() === repo.toLowerCase() && h.pull.head.sha === sha)
    if (waiting.length === 0) return 0
    let verdict: CiVerdict
    try {
      verdict = await this.verdict(repo, sha)
    } catch (err) {
      if (unavailable(err)) throw new GithubUnavailableError(`the CI verdict on ${sha}`, err)
      this.log.warn({ err, repo, sha }, 'CI lookup refused; still waiting')
      return 0
    }
    if (verdict === 'pending') return 0
    for (const [key, h] of waiting) {
      if (this.held.get(key) !== h) continue
      if (verdict === 'success') this.held.delete(key)
      await done(key, h, verdict)
    }
    return waiting.length
  }
}
