// What GitHub events do to envs: a PR that the app's policies admit becomes known (and is
// warm-started when the app says so), a push redeploys, an edit updates the record, closing
// destroys (forgotten after the tombstone period), and a PR that stops qualifying (label
// removed, back to draft) loses its env. Webhooks and the known-PR lookup share `accept`.
// Questions to the API (team membership, CI verdict) are all asked before anything changes,
// so an unavailable API (GithubUnavailableError) leaves no trace and the event can be retried.
// Review requests, pushes and PR comments naming an env are also warm-up signals (WarmUps).
import type { Logger } from 'pino'
import type { EnvManager, PrInfo } from '../lifecycle/manager.js'
import type { Env } from '../lifecycle/env.js'
import type { AppConfig } from '../config/load.js'
import type { AppPolicy } from './config.js'
import { GithubUnavailableError, unavailable, type GithubClient } from './client.js'
import type { Feedback } from './feedback.js'
import type { WaitCi, Held } from './wait-ci.js'
import type { Teams } from './teams.js'
import type { CiVerdict } from './policy.js'
import { admit, needsTeams, prFacts, teamsOf, type PullLike } from './policy.js'
import type { SignalResult, WarmUps, WarmUpSignal } from '../lifecycle/warmup.js'
import { commentRefusal, mentionedPrs } from './mentions.js'

export type Outcome =
  | { app: string, pr: number, action: 'registered' | 'redeploying' | 'updated' | 'destroyed' | 'removed' | 'waiting-for-ci', warm?: boolean, warmup?: SignalResult }
  | { app: string, pr: number, action: 'warm-up', warmup: SignalResult }
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
  /** Warm-up signals go here (apps with `warmup`). */
  warmups: WarmUps
}

/** The `issue_comment` fields read. */
export interface CommentPayload {
  action: string
  repository: { full_name: string }
  issue: { number: number, state?: string, pull_request?: unknown }
  comment: { id: number, body?: string | null, author_association?: string, user?: { login?: string, type?: string } | null }
  sender?: { login?: string, type?: string } | null
}

/** What `decide` found out; `commit` carries it out without asking the API. */
type Decision =
  | { kind: 'ignore', outcome: Outcome }
  | { kind: 'hold' | 'apply', app: AppConfig, pr: number, pull: PullLike, cause: string, ciFailed?: boolean }

/** PR actions that make a PR known (when the policies admit it). */
const ADMITTING = new Set(['opened', 'reopened', 'ready_for_review', 'labeled', 'synchronize', 'review_requested'])
/** PR actions that are warm-up signals once the PR is admitted. */
const SIGNALS: Record<string, WarmUpSignal> = { review_requested: 'review-requested', synchronize: 'push' }
const MAX_TIMER = 2 ** 31 - 1

export class GithubEvents {
  private readonly tombstones = new Map<string, NodeJS.Timeout>()

  constructor (private readonly o: EventsOptions) {}

  appsFor (repo: string): AppConfig[] { return this.o.byRepo.get(repo.toLowerCase()) ?? [] }

  /** A `pull_request` webhook. */
  async pullRequest (payload: { action: string, number: number, pull_request: PullLike, repository: { full_name: string }, label?: { name: string } }): Promise<Outcome[]> {
    const { action, pull_request: pull, repository } = payload
    const steps: Array<() => Outcome> = []
    for (const app of this.appsFor(repository.full_name)) {
      const pr = payload.number ?? pull.number
      if (ADMITTING.has(action)) {
        const decision = await this.decide(app, pr, pull, action)
        const signal = SIGNALS[action]
        steps.push(signal ? () => this.warmUp(this.commit(decision), signal, action) : () => this.commit(decision))
      } else if (action === 'edited') steps.push(() => this.edited(app, pr, pull))
      else if (action === 'closed') steps.push(() => this.closed(app, pr))
      else if (action === 'unlabeled' || action === 'converted_to_draft') steps.push(() => this.recheck(app, pr, pull, action))
      else steps.push(() => ({ app: app.name, pr, action: 'ignored', reason: `action ${action}` }))
    }
    // Every app's questions were answered: only now does anything change.
    return steps.map(step => step())
  }

  /**
   * Admission, CI gate, then register / redeploy / warm start. `cause` is the PR action, or
   * `api` (known-PR lookup on a first request) or `ci` (held SHA passed).
   */
  async accept (app: AppConfig, pr: number, pull: PullLike, cause: string): Promise<Outcome> {
    return this.commit(await this.decide(app, pr, pull, cause))
  }

  /** The policies and the CI gate, asking the API where needed; changes nothing. */
  private async decide (app: AppConfig, pr: number, pull: PullLike, cause: string): Promise<Decision> {
    const policy = this.o.policies.get(app.name)!
    const key = `${app.name}/${pr}`
    const facts = prFacts(pull)
    if (needsTeams(policy, facts.author)) facts.teams = await this.o.teams.memberOf(app.repo!, teamsOf(policy.allowAuthors), facts.author)
    const verdict = admit(policy, facts)
    if (!verdict.ok) {
      this.o.log.info({ env: key, reason: verdict.reason, cause }, 'PR not admitted')
      return { kind: 'ignore', outcome: { app: app.name, pr, action: 'ignored', reason: verdict.reason } }
    }
    const sha = pull.head.sha
    if (policy.waitForCi && this.live(key)?.sha !== sha) {
      const ci = await this.ciVerdict(app.repo!, key, sha)
      if (ci !== 'success') return { kind: 'hold', app, pr, pull, cause, ciFailed: ci === 'failure' }
    }
    return { kind: 'apply', app, pr, pull, cause }
  }

  private async ciVerdict (repo: string, key: string, sha: string): Promise<CiVerdict> {
    try {
      return await this.o.waitCi.verdict(repo, sha)
    } catch (err) {
      if (unavailable(err)) throw new GithubUnavailableError(`the CI verdict on ${sha}`, err)
      this.o.log.warn({ err, env: key, sha }, 'CI lookup refused; waiting for a check event')
      return 'pending'
    }
  }

  private commit (d: Decision): Outcome {
    if (d.kind === 'ignore') return d.outcome
    const { app, pr, pull } = d
    const key = `${app.name}/${pr}`
    if (d.kind === 'hold') {
      this.o.waitCi.hold(key, { app: app.name, repo: app.repo!, pull, cause: d.cause })
      if (this.live(key)) this.o.manager.register(app.name, pr, { ...this.info(pull), sha: undefined })
      this.o.feedback.note(app.name, pr, { waitingCi: { sha: pull.head.sha, failed: d.ciFailed === true } })
      return { app: app.name, pr, action: 'waiting-for-ci' }
    }
    this.o.waitCi.release(key)
    if (this.o.feedback.tracked(key)) this.o.feedback.note(app.name, pr, { waitingCi: undefined, removed: undefined })
    return this.apply(app, pr, pull, d.cause)
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

  /** The PR is closed (its webhook, or the PR sweep having confirmed it with the API). */
  closed (app: AppConfig, pr: number): Outcome {
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
  private recheck (app: AppConfig, pr: number, pull: PullLike, cause: string): Outcome {
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

  /** A review request or push whose PR is admitted: a warm-up signal for its env (after the redeploy handling). */
  private warmUp (out: Outcome, kind: WarmUpSignal, detail: string): Outcome {
    if (out.action !== 'registered' && out.action !== 'updated' && out.action !== 'redeploying') return out
    const env = this.live(`${out.app}/${out.pr}`)
    if (!env?.app.config.warmup) return out
    return { ...out, warmup: this.o.warmups.signal(env, kind, detail) }
  }

  /**
   * An `issue_comment` webhook: a new comment on an open PR naming an env's host or URL warms
   * that env, when a person with access to the repo wrote it (never wakegate's own comment,
   * which carries the URL, nor another bot's). Envs must exist: only admitted PRs have one.
   */
  comment (payload: CommentPayload): Outcome[] {
    const { issue, comment } = payload
    if (payload.action !== 'created' || !issue?.pull_request || !comment) return []
    const apps = this.appsFor(payload.repository.full_name).filter(a => a.warmup?.commentMention)
    const out: Outcome[] = []
    for (const app of apps) {
      const own = this.o.manager.envs.get(`${app.name}/${issue.number}`)?.meta.commentId
      const refused = issue.state !== undefined && issue.state !== 'open'
        ? 'the PR is closed'
        : commentRefusal({ body: comment.body ?? '', id: comment.id, authorAssociation: comment.author_association, user: comment.user, sender: payload.sender, ownCommentId: typeof own === 'number' ? own : undefined })
      if (refused) { out.push({ app: app.name, pr: issue.number, action: 'ignored', reason: refused }); continue }
      for (const pr of mentionedPrs(comment.body ?? '', this.o.manager.apps.get(app.name)!.template)) {
        const env = this.live(`${app.name}/${pr}`)
        if (!env) { out.push({ app: app.name, pr, action: 'ignored', reason: 'no env for this PR' }); continue }
        out.push({ app: app.name, pr, action: 'warm-up', warmup: this.o.warmups.signal(env, 'mention', `comment ${comment.id} by ${comment.user?.login ?? 'unknown'} on #${issue.number}`) })
      }
    }
    return out
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
