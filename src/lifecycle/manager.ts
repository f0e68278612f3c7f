// Owns the envs: registers them, wakes them single-flight, puts them to sleep (idle reaper,
// running caps, keep-awake) and answers the proxy's lookups. Transitions and their effects
// on tasks are carried out by TaskLifecycle (task-lifecycle.ts).
import type { Logger } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import type { Backend, TaskRef } from '../backends/backend.js'
import type { Store } from '../stores/store.js'
import { Upstream, upstreamOptions } from '../proxy/upstream.js'
import { WakegateError } from '../errors.js'
import { transition, type LifecycleEvent } from './machine.js'
import { Env, appRuntime, backoffError, wakeWaiters, type AppRuntime, type SleepBy } from './env.js'
import { pollersFor } from './poller.js'
import type { LaunchDeps } from './launch.js'
import type { EnvDirectory } from './directory.js'
import { Capacity } from './capacity.js'
import { IdleTimeouts, shortestIdleTimeout } from './idle.js'
import { TaskLifecycle } from './task-lifecycle.js'

export interface ManagerOptions {
  config: ResolvedConfig
  backends: Map<string, Backend>
  store: Store
  log: Logger
  /** ms between idle-reaper ticks */
  reapInterval?: number
  /** On close, backends hand their tasks over (detach) instead of closing: replicas. */
  handOver?: boolean
  /** Readiness probe of wakes (default: real HTTP/TCP); the simulator's backend answers it in virtual time. */
  probe?: LaunchDeps['probe']
}

export interface PrInfo { branch?: string, sha?: string, title?: string, author?: string, source: string }

export class EnvManager extends TaskLifecycle implements EnvDirectory {
  readonly apps = new Map<string, AppRuntime>()
  readonly envs = new Map<string, Env>()
  private reaper: NodeJS.Timeout | undefined
  readonly handOver: boolean
  /** Running caps (apps[].maxRunning, github.maxRunning, limits.maxRunning): who makes room, or a refusal. */
  readonly capacity: Capacity
  readonly idle: IdleTimeouts

  constructor (opts: ManagerOptions) {
    super(opts.backends, pollersFor(opts.config.apps, opts.backends), opts.store, opts.log, upstreamOptions(opts.config.proxy), opts.probe)
    this.handOver = opts.handOver === true
    this.capacity = new Capacity(opts.config)
    for (const app of opts.config.apps) {
      this.apps.set(app.name, appRuntime(app, opts.config.public))
      for (const pr of app.prs) this.register(app.name, pr.number, { branch: pr.branch, sha: pr.sha, title: pr.title, source: 'config' })
    }
    this.idle = new IdleTimeouts(opts.config.apps, { active: this.active, sleep: (env, cause) => this.sleep(env, cause, 'schedule'), log: this.log })
    const every = opts.reapInterval ?? Math.max(50, Math.min(5_000, Math.min(...opts.config.apps.map(shortestIdleTimeout)) / 4))
    this.reaper = setInterval(() => this.reap(), every)
    this.reaper.unref()
  }

  /** The known env for app/pr, or undefined (unknown PRs never reach a backend). */
  lookup (app: string, pr: number): Env | undefined {
    const env = this.envs.get(`${app}/${pr}`)
    if (env) return env
    const rt = this.apps.get(app)
    if (rt?.config.anyPr) return this.register(app, pr, { source: 'any-pr' })
    return undefined
  }

  /**
   * Optional known-PR gate for PRs not seen yet (GitHub: ask the API whether the PR is open).
   * Returning null means "not a PR that may wake"; the resolver caches its own answers.
   */
  prResolver: ((app: string, pr: number) => Promise<PrInfo | null>) | undefined
  private resolving = new Map<string, Promise<Env | undefined>>()

  /**
   * Single-flight lookup through prResolver: undefined when the PR may not wake; rejects with
   * WAKEGATE_PR_LOOKUP_FAILED when the answer could not be had (GitHub down), so the client
   * is told to retry rather than that the PR does not exist.
   */
  resolveUnknown (app: string, pr: number): Promise<Env | undefined> {
    const key = `${app}/${pr}`
    const known = this.envs.get(key)
    if (known) return Promise.resolve(known)
    if (!this.prResolver || !this.apps.has(app)) return Promise.resolve(undefined)
    let p = this.resolving.get(key)
    if (!p) {
      p = this.prResolver(app, pr).then(info => info ? this.register(app, pr, info) : undefined, err => {
        this.log.warn({ err, env: key }, 'PR lookup failed')
        throw new WakegateError('WAKEGATE_PR_LOOKUP_FAILED', (err as Error).message)
      }).finally(() => this.resolving.delete(key))
      this.resolving.set(key, p)
    }
    return p
  }

  register (app: string, pr: number, info: PrInfo): Env {
    const rt = this.apps.get(app)
    if (!rt) throw new Error(`unknown app ${app}`)
    let env = this.envs.get(`${app}/${pr}`)
    if (env) {
      if (info.branch) env.branch = info.branch
      if (info.title !== undefined) env.title = info.title
      if (info.author !== undefined) env.author = info.author
      if (info.sha) env.sha = info.sha
      if (env.state === 'destroyed') this.apply(env, { type: 'revive' })
    } else {
      env = new Env(rt, pr, { branch: info.branch ?? 'main', sha: info.sha ?? '0000000', title: info.title, author: info.author, source: info.source })
      this.envs.set(env.key, env)
      this.emitEvent(env.emit({ type: 'info', message: `registered from ${info.source}` }))
    }
    this.persist(env)
    return env
  }

  /**
   * Single-flight: every caller during one wake gets the same promise. Resolves with the
   * upstream once reachable; rejects with a WakegateError saying why not.
   * @param byRequest a request waits for this wake (not a warm start from a webhook or the admin
   *   API), so a response says it was a cold start: a page load's when one ('navigation') waits.
   */
  wake (env: Env, cause: string, byRequest: boolean | 'navigation' = false): Promise<Upstream> {
    if (env.route && env.state === 'running') return Promise.resolve(env.route)
    if (byRequest) env.wakeByRequest = byRequest === 'navigation' || env.wakeByRequest === 'navigation' ? 'navigation' : 'request'
    if (this.closing) return Promise.reject(new WakegateError('WAKEGATE_SHUTTING_DOWN'))
    if (env.state === 'destroyed') return Promise.reject(new WakegateError('WAKEGATE_ENV_DESTROYED'))
    if (byRequest) this.idle.visits.coldRequest(env, Date.now())
    // A page load, an API call or a warm start asked: reconnects may wake it again.
    env.sleptBy = ''
    env.wake ??= wakeWaiters()
    const pending = env.wake.promise
    if (!this.admit(env, { type: 'wake', cause }, cause)) return pending
    this.apply(env, { type: 'wake', cause })
    if (env.state === 'failed' && env.wake) {
      // Still inside the failure backoff: answer with the kept failure, start nothing.
      env.wake.reject(backoffError(env))
      env.wake = null
    }
    return pending
  }

  /** Puts `env` to sleep; `by` says who, and until a page load or API call wakes it, reconnects do not. */
  sleep (env: Env, cause: string, by: SleepBy = 'operator'): void {
    const was = env.sleptBy
    const m = env.m
    env.sleptBy = by // before the transition: the record it writes says who
    this.apply(env, { type: 'sleep', cause })
    if (env.m === m) env.sleptBy = was // it was not running: nothing was put to sleep
  }

  /**
   * Running caps, before `ev` is applied: when it would start a task past a cap, the oldest
   * idle envs are put to sleep first; when too few are idle, the wake is refused (its waiters
   * get WAKEGATE_AT_CAPACITY, nothing starts) and false comes back.
   */
  protected admit (env: Env, ev: LifecycleEvent, cause: string): boolean {
    if (!this.capacity.limited(env.app.config)) return true
    const t = transition(env.m, ev, Date.now(), env.app.config.failureBackoff)
    if (!t.effects.some(e => e.type === 'start-task')) return true
    const a = this.capacity.admit(env, this.active)
    if (!a.ok) {
      const reason = a.error.detail ?? a.error.message
      this.log.warn({ env: env.key, cause, reason }, 'wake refused: at capacity')
      env.wakeByRequest = false
      this.emitEvent(env.emit({ type: 'info', message: `wake refused: ${reason}`, code: a.error.code }))
      this.apply(env, { type: 'refuse', code: a.error.code, reason, retryAfter: a.error.retryAfter })
      return false
    }
    for (const victim of a.victims) {
      this.log.info({ env: victim.key, for: env.key }, 'putting the idle env used longest ago to sleep to make room (maxRunning)')
      this.sleep(victim, `maxRunning: making room for ${env.key}`, 'policy')
    }
    return true
  }

  destroy (env: Env): void {
    this.apply(env, { type: 'destroy' })
  }

  /** Forget a destroyed env entirely (after the tombstone period). */
  forget (env: Env): void {
    if (env.state !== 'destroyed') return
    this.envs.delete(env.key)
    this.store.delete(env.key).catch(err => this.log.warn({ err, env: env.key }, 'store delete failed'))
  }

  /**
   * Reconcile: a task found without a start of ours becomes the env's own, if the machine
   * takes it. With an endpoint it runs: the current task. Without, it is still starting and
   * is waited for as a wake (or as the pending generation beside a running task). Returns
   * false when it does not fit (the caller stops it as a duplicate).
   */
  adopt (env: Env, ref: TaskRef, endpoint?: { host: string, port: number }): boolean {
    const ev: LifecycleEvent = { type: 'adopt', generation: ref.generation, starting: !endpoint, ref }
    if (!transition(env.m, ev, Date.now(), env.app.config.failureBackoff).changed) return false
    // A redeploy in flight carries the newest SHA wanted; otherwise a known SHA stays.
    if (ref.sha && (env.sha === '0000000' || env.state === 'running')) env.sha = ref.sha
    if (endpoint) {
      env.route = new Upstream(endpoint.host, endpoint.port, ref.generation, this.upstreamOptions)
      env.task = ref
      env.runningSha = ref.sha
      env.readyAt = env.lastSeen = Date.now()
      this.idle.visits.ready(env, false)
    }
    this.apply(env, ev)
    this.log.info({ env: env.key, task: ref.id, generation: ref.generation }, endpoint ? 'adopted running task' : 'adopted a task still starting')
    return true
  }

  /**
   * Reconcile: the env's current task was stopped outside wakegate (console, Spot reclaim).
   * The env goes asleep without another StopTask; the next request wakes it again.
   */
  taskGone (env: Env, ref: TaskRef, reason: string): void {
    if (env.task?.id !== ref.id || env.state !== 'running') return
    this.log.warn({ env: env.key, task: ref.id, reason }, 'task stopped outside wakegate; env goes asleep')
    env.task = undefined // nothing left to stop: the stop-task effect finds no ref
    this.apply(env, { type: 'sleep', cause: `task stopped outside wakegate: ${reason}` })
  }

  /** Passive health: the proxy could not reach a running upstream. */
  taskLost (env: Env, upstream: Upstream, reason: string): void {
    if (env.route !== upstream || env.state !== 'running') return
    this.log.warn({ env: env.key, reason }, 'upstream unreachable; re-waking')
    env.wake ??= wakeWaiters()
    this.apply(env, { type: 'task-lost', reason })
  }

  /** A connection to a running upstream was reset: ask the backend whether the task is still there. */
  checkTask (env: Env, upstream: Upstream): void {
    const ref = env.task
    if (!ref || env.route !== upstream) return
    this.pollers.get(env.app.config.name)!.status(ref).then(s => {
      if (s.phase === 'stopped') this.taskLost(env, upstream, s.reason ?? 'task stopped')
    }, () => {})
  }

  touch (env: Env): void { env.lastSeen = Date.now() }

  /** The first response after a wake a request asked for went out with the cold-start header. */
  coldServed (env: Env): void { env.coldPending = false }

  /**
   * New code for an env. Running: start the next generation beside the current one and
   * switch when it is reachable. Waking: redeploy once ready. Asleep: the next wake uses it,
   * and the backend may fetch its image meanwhile (prewarm).
   */
  redeploy (env: Env, sha: string | undefined, cause: string): void {
    const changed = sha !== undefined && sha !== env.sha
    if (sha) env.sha = sha
    if (env.state === 'failed' && changed) this.apply(env, { type: 'clear-backoff' })
    if (changed && (env.state === 'asleep' || env.state === 'failed' || env.state === 'stopping')) {
      this.backends.get(env.app.config.name)?.prewarm?.({ app: env.app.config.name, pr: env.pr, branch: env.branch, sha: env.sha })
    }
    if (env.state !== 'running') return
    this.log.info({ env: env.key, sha: env.sha, cause }, 'redeploy')
    this.apply(env, { type: 'redeploy' })
  }

  /** Idle reaper: walks only envs that have a task, so its cost is independent of asleep envs. */
  reap (now = Date.now()): void {
    for (const env of this.active) {
      if (env.state !== 'running') continue
      this.idle.visits.observe(env)
      // In-flight requests and streams with real traffic lately are activity; heartbeats are not.
      if (env.inflight > env.passive || (env.streams > 0 && now - env.streamActiveAt < env.app.config.streamQuietTimeout)) { env.lastSeen = now; continue }
      if (env.keepAwakeUntil > now) continue
      if (now - env.lastSeen >= this.idleTimeoutFor(env, now)) this.apply(env, { type: 'idle' })
    }
  }

  /** The idle timeout that applies to `env` now. */
  idleTimeoutFor (env: Env, now: number): number {
    return this.idle.timeoutFor(env, now)
  }

  /**
   * Keeps `env` from idle and office-hours stops until `until` (ms), waking it when asleep (a
   * warm start, not a visit); until ≤ now cancels. It replaces an earlier keep-awake: a caller
   * that only extends passes Math.max(env.keepAwakeUntil, until). Kept in env.meta, so it
   * outlives a restart or a change of leader.
   */
  keepAwake (env: Env, until: number, reason: string): void {
    const on = until > Date.now()
    env.keepAwakeUntil = on ? until : 0
    if (on) env.meta.keepAwakeUntil = until
    else delete env.meta.keepAwakeUntil
    this.emitEvent(env.emit({ type: 'info', message: on ? `kept awake until ${new Date(until).toISOString()}: ${reason}` : `keep-awake ended: ${reason}` }))
    this.persist(env)
    if (on && env.state !== 'running' && env.state !== 'waking') this.wake(env, `keep awake: ${reason}`).catch(() => {})
  }

  /** Stop waking, fail waiters, and let the backend decide what happens to its tasks. */
  async close (): Promise<void> {
    this.closing = true
    if (this.reaper) clearInterval(this.reaper)
    this.idle.close()
    for (const p of this.pollers.values()) p.close()
    for (const env of this.envs.values()) {
      const w = env.wake
      env.wake = null
      if (w) w.reject(new WakegateError('WAKEGATE_SHUTTING_DOWN'))
      if (env.route) void env.route.close()
    }
    const backends = new Set(this.backends.values())
    await Promise.all([...backends].map(b => (this.handOver && b.detach ? b.detach() : b.close()).catch(err => this.log.error({ err }, 'backend close failed'))))
  }
}
