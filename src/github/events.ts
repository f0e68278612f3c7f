// What GitHub events do to envs: a PR that the app's policies admit becomes known (and is
// warm-started when the app says so), a push redeploys, an edit updates the record, closing
// destroys (forgotten after the tombstone period), and a PR that stops qualifying (label
// removed, back to draft) loses its env. Webhooks and the known-PR lookup share `accept`.
import type { Logger } from 'pino'
import type { EnvManager, PrInfo } from '../lifecycle/manager.js'
import type { Env } from '../lifecycle/env.js'
import type { AppConfig } from '../config/load.js'
import type { AppPolicy } from './config.js'
import type { GithubClient } from './client.js'
import type { Feedback } from './feedback.js'
import type { WaitCi, Held } from './wait-ci.js'
import type { Teams } from './teams.js'
import type { CiVerdict } from './policy.js'
import { admit, needsTeams, prFacts, teamsOf, type PullLike } from './policy.js'

export type Outcome =
  | { app: string, pr: number, action: 'registered' | 'redeploying' | 'updated' | 'destroyed' | 'removed' | 'waiting-for-ci', warm?: boolean }
  | { app: string, pr: number, action: 'ignored', reason: string }

export interface EventsOptions {
  manager: EnvManager
  log: Logger
  client: GithubClient
  policies: Map<string, AppPolicy>
  byRepo: Map<string, AppConfig[]>
  feedback: Feedback
  waitCi: WaitCi
  teams: Teams
  /** The known-PR cache hears what webhooks learn. */
  remember: (key: string, info: PrInfo | null) => void
}

/** PR actions that make a PR known (when the policies admit it). */
const ADMITTING = new Set(['opened', 'reopened', 'ready_for_review', 'labeled', 'synchronize'])
const MAX_TIMER = 2 ** 31 - 1

export class GithubEvents {
  private readonly tombstones = new Map<string, NodeJS.Timeout>()

  constructor (private readonly o: EventsOptions) {}

  appsFor (repo: string): AppConfig[] { return this.o.byRepo.get(repo.toLowerCase()) ?? [] }

  /** A `pull_request` webhook. */
  async pullRequest (payload: { action: string, number: number, pull_request: PullLike, repository: { full_name: string }, label?: { name: string } }): Promise<Outcome[]> {
    const { action, pull_request: pull, repository } = payload
    const out: Outcome[] = []
    for (const app of this.appsFor(repository.full_name)) {
      const pr = payload.number ?? pull.number
      if (ADMITTING.has(action)) out.push(await this.accept(app, pr, pull, action))
      else if (action === 'edited') out.push(this.edited(app, pr, pull))
      else if (action === 'closed') out.push(this.closed(app, pr))
      else if (action === 'unlabeled' || action === 'converted_to_draft') out.push(await this.recheck(app, pr, pull, action))
      else out.push({ app: app.name, pr, action: 'ignored', reason: `action ${action}` })
    }
    return out
  }

  /**
   * Admission, CI gate, then register / redeploy / warm start. `cause` is the PR action, or
   * `api` (known-PR lookup on a first request) or `ci` (held SHA passed).
   */
  async accept (app: AppConfig, pr: number, pull: PullLike, cause: string): Promise<Outcome> {
    const policy = this.o.policies.get(app.name)!
    const key = `${app.name}/${pr}`
    const facts = prFacts(pull)
    if (needsTeams(policy, facts.author)) facts.teams = await this.o.teams.memberOf(app.repo!, teamsOf(policy.allowAuthors), facts.author)
    const verdict = admit(policy, facts)
    if (!verdict.ok) {
      this.o.log.info({ env: key, reason: verdict.reason, cause }, 'PR not admitted')
      return { app: app.name, pr, action: 'ignored', reason: verdict.reason }
    }
    const sha = pull.head.sha
    const existing = this.live(key)
    if (policy.waitForCi && existing?.sha !== sha) {
      let ci: CiVerdict
      try {
        ci = await this.o.waitCi.verdict(app.repo!, sha)
      } catch (err) {
        this.o.log.warn({ err, env: key, sha }, 'CI lookup failed; waiting for a check event')
        ci = 'pending'
      }
      if (ci !== 'success') {
        this.o.waitCi.hold(key, { app: app.name, repo: app.repo!, pull, cause })
        if (existing) this.o.manager.register(app.name, pr, { ...this.info(pull), sha: undefined })
        this.o.feedback.note(app.name, pr, { waitingCi: { sha, failed: ci === 'failure' } })
        return { app: app.name, pr, action: 'waiting-for-ci' }
      }
    }
    this.o.waitCi.release(key)
    if (this.o.feedback.tracked(key)) this.o.feedback.note(app.name, pr, { waitingCi: undefined, removed: undefined })
    return this.apply(app, pr, pull, cause)
  }

  private apply (app: AppConfig, pr: number, pull: PullLike, cause: string): Outcome {
    const { manager } = this.o
    const policy = this.o.policies.get(app.name)!
    const key = `${app.name}/${pr}`
    const info = this.info(pull, cause === 'api' ? 'github-api' : 'github')
    this.cancelForget(key)
    const existing = this.live(key)
    let env: Env
    let action: 'registered' | 'redeploying' | 'updated'
    if (existing) {
      env = manager.register(app.name, pr, { ...info, sha: undefined })
      action = 'updated'
      if (info.sha && info.sha !== env.sha) {
        const running = env.state === 'running'
        manager.redeploy(env, info.sha, cause === 'synchronize' ? 'push' : cause)
        if (running) { this.o.feedback.redeploying(env, info.sha); action = 'redeploying' }
      }
    } else {
      env = manager.register(app.name, pr, info)
      action = 'registered'
    }
    if (cause === 'synchronize') {
      env.meta.pushedAt = Date.now()
      delete env.meta.stale
    }
    this.o.remember(key, info)
    this.o.feedback.track(app.name, pr)
    this.o.feedback.refresh(key)
    this.persist(env)
    let warm = false
    if (policy.warm && !existing && cause !== 'api' && (env.state === 'asleep' || env.state === 'failed')) {
      manager.wake(env, `github: ${cause}`).catch(() => {})
      warm = true
    }
    this.o.log.info({ env: key, action, cause, sha: env.sha, warm }, 'GitHub PR event applied')
    return { app: app.name, pr, action, warm }
  }

  private edited (app: AppConfig, pr: number, pull: PullLike): Outcome {
    const key = `${app.name}/${pr}`
    if (!this.live(key)) return { app: app.name, pr, action: 'ignored', reason: 'no env for this PR' }
    const env = this.o.manager.register(app.name, pr, { ...this.info(pull), sha: undefined })
    this.o.feedback.refresh(key)
    this.persist(env)
    return { app: app.name, pr, action: 'updated' }
  }

  private closed (app: AppConfig, pr: number): Outcome {
    const key = `${app.name}/${pr}`
    this.o.remember(key, null)
    this.o.waitCi.release(key)
    const env = this.o.manager.envs.get(key)
    if (!env || env.state === 'destroyed') {
      this.o.feedback.closedWithoutEnv(app.name, pr)
      return { app: app.name, pr, action: 'ignored', reason: 'no env for this PR' }
    }
    // Envs known from reconcile or config get their comment and deployments closed off too.
    this.o.feedback.track(app.name, pr)
    env.meta.closedAt = Date.now()
    this.o.manager.destroy(env)
    this.scheduleForget(env, this.o.policies.get(app.name)!.tombstone)
    return { app: app.name, pr, action: 'destroyed' }
  }

  /** unlabeled / converted_to_draft: an env the policies no longer admit is removed. */
  private async recheck (app: AppConfig, pr: number, pull: PullLike, cause: string): Promise<Outcome> {
    const key = `${app.name}/${pr}`
    const policy = this.o.policies.get(app.name)!
    const verdict = admit(policy, { ...prFacts(pull), teams: teamsOf(policy.allowAuthors) }) // teams were checked on admission
    if (verdict.ok) return { app: app.name, pr, action: 'ignored', reason: `${cause}: still admitted` }
    this.o.remember(key, null)
    this.o.waitCi.release(key)
    const env = this.live(key)
    if (this.o.feedback.tracked(key)) this.o.feedback.note(app.name, pr, { waitingCi: undefined, removed: verdict.reason })
    if (!env) return { app: app.name, pr, action: 'ignored', reason: verdict.reason }
    this.o.manager.destroy(env)
    this.forget(key)
    return { app: app.name, pr, action: 'removed' }
  }

  /** check_suite / status: PRs waiting for CI on `sha` may go now. */
  async ciSignal (repo: string, sha: string): Promise<Outcome[]> {
    const out: Outcome[] = []
    await this.o.waitCi.signal(repo, sha, async (key: string, h: Held, verdict: CiVerdict) => {
      const app = this.appsFor(repo).find(a => a.name === h.app)
      if (!app) return
      const pr = h.pull.number
      if (verdict === 'success') {
        this.o.feedback.note(app.name, pr, { waitingCi: undefined })
        out.push(this.apply(app, pr, h.pull, h.cause === 'synchronize' ? 'synchronize' : 'ci'))
      } else {
        this.o.feedback.note(app.name, pr, { waitingCi: { sha, failed: true } })
        out.push({ app: app.name, pr, action: 'waiting-for-ci' })
      }
    })
    return out
  }

  private info (pull: PullLike, source = 'github'): PrInfo {
    return { branch: pull.head.ref, sha: pull.head.sha, title: pull.title, author: pull.user?.login, source }
  }

  private live (key: string): Env | undefined {
    const env = this.o.manager.envs.get(key)
    return env && env.state !== 'destroyed' ? env : undefined
  }

  private scheduleForget (env: Env, after: number): void {
    this.cancelForget(env.key)
    const t = setTimeout(() => {
      this.tombstones.delete(env.key)
      this.forget(env.key)
      this.o.feedback.drop(env.key)
    }, Math.min(after, MAX_TIMER))
    t.unref()
    this.tombstones.set(env.key, t)
  }

  private cancelForget (key: string): void {
    const t = this.tombstones.get(key)
    if (t) { clearTimeout(t); this.tombstones.delete(key) }
  }

  /** Drop a destroyed env entirely; its comment keeps what it last said. */
  private forget (key: string): void {
    const env = this.o.manager.envs.get(key)
    if (!env || env.state !== 'destroyed') return
    this.o.manager.forget(env)
    this.o.log.info({ env: key }, 'closed PR forgotten')
  }

  persist (env: Env): void {
    this.o.manager.persist(env)
  }

  close (): void {
    for (const t of this.tombstones.values()) clearTimeout(t)
    this.tombstones.clear()
  }
}
