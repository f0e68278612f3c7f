// Feedback on the PR: one comment per env (created once, found again by its marker after a
// restart, edited in place) and a GitHub Deployment per deployed SHA with statuses
// in_progress → success / failure / inactive (deployments.ts). Work is queued per env and
// runs one call at a time; comment edits are debounced so a burst of events makes one edit.
// Nothing here is awaited by the proxy.
import type { Logger } from 'pino'
import type { EnvManager } from '../lifecycle/manager.js'
import type { Env, EnvEvent } from '../lifecycle/env.js'
import { RateLimitedError, statusOf, type GithubClient, type Octokit } from './client.js'
import { deploymentEnvironment, type AppPolicy } from './config.js'
import { marker, renderComment, type CommentView } from './comment.js'
import { Deployments, type DeployOp, type EnvDeployments } from './deployments.js'
import { costTracker, type CostTracker } from '../cost/tracker.js'

export interface Notes {
  waitingCi?: { sha: string, failed: boolean }
  redeployFailed?: { sha: string, reason: string }
  removed?: string
}

interface Entry {
  key: string
  app: string
  pr: number
  owner: string
  name: string
  policy: AppPolicy
  commentId?: number
  written?: string
  commentDirty: boolean
  ops: DeployOp[]
  deploy: EnvDeployments
  notes: Notes
  wakingSha?: string
  timer?: NodeJS.Timeout
  busy: Promise<void> | null
  /** Rate limited: no call before this time. */
  resumeAt?: number
}

export interface FeedbackOptions {
  client: GithubClient
  manager: EnvManager
  log: Logger
  policies: Map<string, AppPolicy>
  debounce: number
}

const SHA = /^[0-9a-f]{7,40}$/i
const deployable = (sha: string | undefined): sha is string => !!sha && SHA.test(sha) && !/^0+$/.test(sha)

export class Feedback {
  private readonly own = { commentsCreated: 0, commentsEdited: 0, errors: 0 }
  private readonly entries = new Map<string, Entry>()
  private readonly deployments: Deployments
  private closing = false
  /** The env's cost for the comment (the tracker follows the manager's events). */
  private readonly cost: CostTracker

  constructor (private readonly o: FeedbackOptions) {
    this.cost = costTracker(o.manager, o.log)
    this.deployments = new Deployments(o.client, d => { const e = this.entries.get(d.key); if (e) this.persist(e) })
    o.manager.on('event', this.onEvent)
    o.manager.on('switched', this.onSwitched)
    o.manager.on('redeploy-failed', this.onRedeployFailed)
  }

  /** Start giving feedback for app/pr (an env known from GitHub). */
  track (app: string, pr: number): void {
    const key = `${app}/${pr}`
    if (this.entries.has(key)) return
    const rt = this.o.manager.apps.get(app)
    const policy = this.o.policies.get(app)
    if (!rt?.config.repo || !policy || (!policy.comment && !policy.deployments)) return
    const [owner, name] = rt.config.repo.split('/')
    const deploy: EnvDeployments = { key, owner, name, environment: deploymentEnvironment(policy, app, pr), url: rt.urlFor(pr), bySha: new Map(), retired: new Set() }
    const entry: Entry = { key, app, pr, owner, name, policy, commentDirty: true, ops: [], deploy, notes: {}, busy: null }
    const meta = this.o.manager.envs.get(key)?.meta
    if (typeof meta?.commentId === 'number') entry.commentId = meta.commentId
    if (typeof meta?.deploymentId === 'number' && typeof meta.deploymentSha === 'string') deploy.bySha.set(meta.deploymentSha, { id: meta.deploymentId })
    this.entries.set(key, entry)
    this.kick(entry)
  }

  tracked (key: string): boolean { return this.entries.has(key) }

  /** Comment, deployments and statuses written; errors. */
  get counters (): Feedback['own'] & Deployments['counters'] { return { ...this.own, ...this.deployments.counters } }

  /**
   * A PR closed while this process has no env for it (never admitted, or known only to an
   * earlier process): the comment says so, and deployments left live are set inactive.
   */
  closedWithoutEnv (app: string, pr: number): void {
    this.note(app, pr, { waitingCi: undefined, removed: 'the PR is closed' })
    const entry = this.entries.get(`${app}/${pr}`)
    if (entry) this.push(entry, { sha: '*', state: 'inactive', description: 'PR closed', everywhere: true })
  }

  /** Merge notes shown in the comment (CI waits, failed redeploys, removal). */
  note (app: string, pr: number, notes: Partial<Notes>): void {
    this.track(app, pr)
    const entry = this.entries.get(`${app}/${pr}`)
    if (!entry) return
    Object.assign(entry.notes, notes)
    for (const [k, v] of Object.entries(notes)) if (v === undefined) delete entry.notes[k as keyof Notes]
    this.touch(entry)
  }

  /** A redeploy of `sha` started beside the running task (a push). */
  redeploying (env: Env, sha: string): void {
    const entry = this.entries.get(env.key)
    if (!entry) return
    entry.notes.redeployFailed = undefined
    this.push(entry, { sha, state: 'in_progress', description: `Redeploying ${sha.slice(0, 7)}` })
  }

  /** The comment should be rendered again (something it shows changed). */
  refresh (key: string): void {
    const entry = this.entries.get(key)
    if (entry) this.touch(entry)
  }

  /** Stop tracking (the env was forgotten). Pending work is dropped. */
  drop (key: string): void {
    const entry = this.entries.get(key)
    if (!entry) return
    if (entry.timer) clearTimeout(entry.timer)
    this.entries.delete(key)
  }

  // Listeners run inside lifecycle transitions: a fault here must never reach the proxy.
  private onEvent = (e: EnvEvent): void => { this.guard(e.key, () => this.stateChanged(e)) }
  private onSwitched = (env: Env): void => { this.guard(env.key, () => this.switched(env)) }
  private onRedeployFailed = (env: Env, reason: string): void => { this.guard(env.key, () => this.redeployFailed(env, reason)) }

  private guard (key: string, fn: () => void): void {
    try { fn() } catch (err) { this.own.errors++; this.o.log.error({ err, env: key }, 'GitHub feedback: event not handled') }
  }

  private stateChanged (e: EnvEvent): void {
    const entry = this.entries.get(e.key)
    if (!entry || e.type !== 'state') return
    const env = this.o.manager.envs.get(e.key)
    if (!env) return
    switch (e.state) {
      case 'waking':
        entry.wakingSha = env.sha
        this.push(entry, { sha: env.sha, state: 'in_progress', description: `Starting ${env.sha.slice(0, 7)}` })
        break
      case 'running':
        this.push(entry, { sha: env.runningSha || env.sha, state: 'success', description: 'Running' })
        break
      case 'failed':
        this.push(entry, { sha: entry.wakingSha ?? env.sha, state: 'failure', description: env.m.reason || 'failed to start' })
        break
      case 'asleep':
        this.push(entry, { sha: '*', state: 'inactive', description: env.meta.stale ? 'Stale: put to sleep' : 'Asleep: starts on the next request' })
        break
      case 'destroyed':
        this.push(entry, { sha: '*', state: 'inactive', description: 'PR closed', everywhere: true })
        break
      default:
        this.touch(entry)
    }
  }

  private switched (env: Env): void {
    const entry = this.entries.get(env.key)
    if (!entry) return
    entry.notes.redeployFailed = undefined
    this.push(entry, { sha: env.runningSha, state: 'success', description: 'Running' })
  }

  private redeployFailed (env: Env, reason: string): void {
    const entry = this.entries.get(env.key)
    if (!entry) return
    entry.notes.redeployFailed = { sha: env.pendingSha, reason }
    this.push(entry, { sha: env.pendingSha, state: 'failure', description: reason })
  }

  private push (entry: Entry, op: DeployOp): void {
    if (entry.policy.deployments && (op.sha === '*' || deployable(op.sha))) {
      const last = entry.ops[entry.ops.length - 1]
      if (!last || last.sha !== op.sha || last.state !== op.state) entry.ops.push(op)
    }
    this.touch(entry)
  }

  private touch (entry: Entry): void {
    entry.commentDirty = true
    this.kick(entry)
  }

  private kick (entry: Entry, delay = this.o.debounce): void {
    if (entry.busy || entry.timer) return
    if (entry.resumeAt) delay = Math.max(delay, entry.resumeAt - Date.now())
    entry.resumeAt = undefined
    entry.timer = setTimeout(() => {
      entry.timer = undefined
      entry.busy = this.run(entry).finally(() => {
        entry.busy = null
        if (this.entries.get(entry.key) === entry && (entry.ops.length || entry.commentDirty)) this.kick(entry)
      })
    }, this.closing ? 0 : delay)
    entry.timer.unref()
  }

  private async run (entry: Entry): Promise<void> {
    while (entry.ops.length || entry.commentDirty) {
      const op = entry.ops.shift()
      if (!op) entry.commentDirty = false
      try {
        if (op) await this.deployments.apply(entry.deploy, op)
        else if (entry.policy.comment) await this.syncComment(entry)
      } catch (err) {
        if (err instanceof RateLimitedError && !this.closing) {
          // Keep the work; try again once the limit has reset.
          if (op) entry.ops.unshift(op)
          else entry.commentDirty = true
          entry.resumeAt = err.until
          return
        }
        this.own.errors++
        this.o.log.warn({ err, env: entry.key, op: op ? `${op.state} ${op.sha}` : 'comment' }, 'GitHub feedback failed')
      }
    }
    // A removed env's last word is said: nothing more to track.
    if (entry.notes.removed && !this.o.manager.envs.has(entry.key)) this.entries.delete(entry.key)
  }

  private view (entry: Entry): CommentView {
    const env = this.o.manager.envs.get(entry.key)
    const rt = this.o.manager.apps.get(entry.app)!
    const base: CommentView = { key: entry.key, app: entry.app, url: rt.urlFor(entry.pr), idleTimeout: rt.config.idleTimeout, idle: this.o.manager.idle.note(rt.config, env, Date.now()), typicalWake: rt.typicalWake, ...entry.notes }
    if (!env) return base
    const stale = env.meta.stale === true && env.state !== 'destroyed'
    return {
      ...base,
      state: env.state,
      sha: env.sha,
      runningSha: env.runningSha,
      // From the route, not env.m.generation: that counts a redeploy that may have failed.
      serving: env.route ? { sha: env.runningSha, generation: env.route.generation } : undefined,
      reason: env.m.reason,
      lastWakeAt: env.readyAt || undefined,
      lastWakeMs: env.lastWakeMs || undefined,
      stale: stale ? { days: Number(env.app.config.github.ttlDays ?? 0) } : undefined,
      cost: this.commentCost(env)
    }
  }

  /** Only with a known size and price: the comment shows no cost rather than a guess. */
  private commentCost (env: Env): CommentView['cost'] {
    const c = this.cost.envCost(env)
    if (c.amount === undefined || c.alwaysOnAmount === undefined) return undefined
    return { runningMs: c.runningMs, amount: c.amount, alwaysOnMs: c.alwaysOnMs, alwaysOnAmount: c.alwaysOnAmount, currency: c.currency }
  }

  private async syncComment (entry: Entry): Promise<void> {
    const view = this.view(entry)
    const body = renderComment(view)
    if (body === entry.written) return
    const gh = await this.o.client.forRepo(`${entry.owner}/${entry.name}`)
    const where = { owner: entry.owner, repo: entry.name }
    if (!entry.commentId) {
      const found = await this.findComment(gh, entry)
      if (found) {
        entry.commentId = found.id
        this.persist(entry)
        if (found.body === body) { entry.written = body; return }
      }
    }
    if (entry.commentId) {
      try {
        await gh.rest.issues.updateComment({ ...where, comment_id: entry.commentId, body })
        this.own.commentsEdited++
        entry.written = body
        return
      } catch (err) {
        if (statusOf(err) !== 404) throw err
        entry.commentId = undefined // deleted by someone: post a new one
      }
    }
    // Nothing to say about a PR that never had an env.
    if (view.state === 'destroyed' || view.removed) { entry.written = body; return }
    const res = await gh.rest.issues.createComment({ ...where, issue_number: entry.pr, body })
    this.own.commentsCreated++
    entry.commentId = res.data.id
    entry.written = body
    this.persist(entry)
  }

  private async findComment (gh: Octokit, entry: Entry): Promise<{ id: number, body: string } | undefined> {
    const mark = marker(entry.key)
    const pages = gh.paginate.iterator(gh.rest.issues.listComments, { owner: entry.owner, repo: entry.name, issue_number: entry.pr, per_page: 100 })
    for await (const page of pages) {
      const hit = page.data.find(c => c.body?.includes(mark))
      if (hit) return { id: hit.id, body: hit.body ?? '' }
    }
    return undefined
  }

  /** Comment and deployment ids go into the env record (dashboard, next gateway). */
  private persist (entry: Entry): void {
    const env = this.o.manager.envs.get(entry.key)
    if (!env) return
    if (entry.commentId) env.meta.commentId = entry.commentId
    const last = [...entry.deploy.bySha].pop()
    if (last) { env.meta.deploymentSha = last[0]; env.meta.deploymentId = last[1].id }
    this.o.manager.persist(env)
  }

  /** Send queued work now rather than when its timer fires (e.g. a rate limit was lifted). */
  resume (): void {
    for (const entry of this.entries.values()) {
      if (!entry.timer) continue
      clearTimeout(entry.timer)
      entry.timer = undefined
      this.kick(entry, 0)
    }
  }

  /** Resolves when no feedback is queued, waiting or running. */
  async settled (timeout = 10_000): Promise<void> {
    const until = Date.now() + timeout
    const pending = () => [...this.entries.values()].some(e => e.timer || e.busy || e.ops.length || e.commentDirty)
    while (pending() && Date.now() < until) {
      await Promise.all([...this.entries.values()].map(e => e.busy?.catch(() => {})))
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  }

  /** Send what is queued now (bounded), then stop listening. */
  async close (timeout = 3_000): Promise<void> {
    this.closing = true
    this.resume()
    await this.settled(timeout)
    this.o.manager.off('event', this.onEvent)
    this.o.manager.off('switched', this.onSwitched)
    this.o.manager.off('redeploy-failed', this.onRedeployFailed)
    for (const entry of this.entries.values()) if (entry.timer) clearTimeout(entry.timer)
  }
}
