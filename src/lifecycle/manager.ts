// Owns the envs: applies state-machine transitions, carries out their effects (start/stop
// tasks, routes, waiters), keeps single-flight wakes and mirrors records to the store.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import type { Backend, TaskRef } from '../backends/backend.js'
import { StaleWriteError, type Store } from '../stores/store.js'
import { Upstream, upstreamOptions, type UpstreamOptions } from '../proxy/upstream.js'
import { WakegateError } from '../errors.js'
import { transition, type LifecycleEvent, type Effect } from './machine.js'
import { Env, appRuntime, backoffError, envRecord, wakeWaiters, type AppRuntime, type EnvEvent } from './env.js'
import { pollersFor, type StatusPoller } from './poller.js'
import { launchTask, type LaunchKind, type LaunchOutcome } from './launch.js'
import { drainGeneration } from './drain.js'
import type { EnvDirectory } from './directory.js'
import { Capacity } from './capacity.js'

export interface ManagerOptions {
  config: ResolvedConfig
  backends: Map<string, Backend>
  store: Store
  log: Logger
  /** ms between idle-reaper ticks */
  reapInterval?: number
  /** On close, backends hand their tasks over (detach) instead of closing: replicas. */
  handOver?: boolean
}

export interface PrInfo { branch?: string, sha?: string, title?: string, author?: string, source: string }

export class EnvManager extends EventEmitter implements EnvDirectory {
  readonly apps = new Map<string, AppRuntime>()
  readonly envs = new Map<string, Env>()
  /** Envs with a task (waking/running/stopping): the reaper walks only these. */
  readonly active = new Set<Env>()
  readonly backends: Map<string, Backend>
  private readonly pollers: Map<string, StatusPoller>
  private readonly store: Store
  private readonly log: Logger
  /** Pool settings of every Upstream this process creates. */
  protected readonly upstreamOptions: UpstreamOptions
  private reaper: NodeJS.Timeout | undefined
  private closing = false
  readonly handOver: boolean
  readonly counters = { starts: 0, stops: 0, wakeFailures: 0 }
  /** Running caps (apps[].maxRunning, github.maxRunning, limits.maxRunning): who makes room, or a refusal. */
  readonly capacity: Capacity
  /** Transitions by "from→to", for metrics. */
  readonly transitions = new Map<string, number>()

  constructor (opts: ManagerOptions) {
    super()
    this.setMaxListeners(0)
    this.backends = opts.backends
    this.store = opts.store
    this.log = opts.log
    this.pollers = pollersFor(opts.config.apps, opts.backends)
    this.handOver = opts.handOver === true
    this.upstreamOptions = upstreamOptions(opts.config.proxy)
    this.capacity = new Capacity(opts.config)
    for (const app of opts.config.apps) {
      this.apps.set(app.name, appRuntime(app, opts.config.public))
      for (const pr of app.prs) this.register(app.name, pr.number, { branch: pr.branch, sha: pr.sha, title: pr.title, source: 'config' })
    }
    const every = opts.reapInterval ?? Math.max(50, Math.min(5_000, Math.min(...opts.config.apps.map(a => a.idleTimeout)) / 4))
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

  sleep (env: Env, cause: string): void { this.apply(env, { type: 'sleep', cause }) }

  /**
   * Running caps, before `ev` is applied: when it would start a task past a cap, the oldest
   * idle envs are put to sleep first; when too few are idle, the wake is refused (its waiters
   * get WAKEGATE_AT_CAPACITY, nothing starts) and false comes back.
   */
  private admit (env: Env, ev: LifecycleEvent, cause: string): boolean {
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
      this.sleep(victim, `maxRunning: making room for ${env.key}`)
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

  private apply (env: Env, ev: LifecycleEvent): void {
    const app = env.app.config
    const before = env.state
    const t = transition(env.m, ev, Date.now(), app.failureBackoff)
    if (!t.changed) return
    // A refused wake changes nothing but its waiters: no record to write.
    const moved = t.next !== env.m
    env.m = t.next
    if (env.state !== before) {
      const edge = `${before}→${env.state}`
      this.transitions.set(edge, (this.transitions.get(edge) ?? 0) + 1)
      const message = env.m.reason ? `${before} → ${env.state}: ${env.m.reason}` : `${before} → ${env.state}`
      this.log.info({ env: env.key, from: before, to: env.state, event: ev.type, generation: env.m.generation, reason: env.m.reason || undefined }, 'transition')
      this.emitEvent(env.emit({ type: 'state', state: env.state, message, generation: env.m.generation }))
    }
    if (env.state === 'waking' || env.state === 'running' || env.state === 'stopping') this.active.add(env)
    else this.active.delete(env)
    for (const eff of t.effects) this.effect(env, eff)
    if (moved) this.persist(env)
  }

  private effect (env: Env, eff: Effect): void {
    switch (eff.type) {
      case 'start-task': this.startTask(env, eff.generation, eff.adopted); break
      case 'stop-task': this.stopTask(env, eff.reason); break
      case 'drop-route': {
        const r = env.route
        env.route = null
        // Drop means "no new requests"; in-flight ones finish on the old pool.
        if (r) void r.close()
        break
      }
      case 'release-waiters': {
        const w = env.wake
        env.wake = null
        if (w && env.route) w.resolve(env.route)
        break
      }
      case 'start-pending': this.startPending(env, eff.generation, eff.adopted); break
      case 'cancel-pending': {
        const ref = env.pendingTask
        const route = env.pendingRoute
        env.pendingTask = undefined
        env.pendingRoute = undefined
        if (route) void route.destroy()
        if (ref) this.stopRef(env.app.config.name, ref, eff.reason)
        break
      }
      case 'switch': this.switchTo(env, eff.generation); break
      case 'fail-waiters': {
        const w = env.wake
        env.wake = null
        if (w) w.reject(new WakegateError(eff.code, eff.reason || undefined, eff.retryAfter === undefined ? undefined : { retryAfter: eff.retryAfter }))
        break
      }
    }
  }

  /** Starts a task for `generation` and reports the outcome; shared by wakes and redeploys. */
  private launch (env: Env, generation: number, sha: string, kind: LaunchKind, done: (out: LaunchOutcome) => void, existing?: TaskRef): void {
    const app = env.app.config
    if (!existing) this.counters.starts++
    launchTask({
      backend: this.backends.get(app.name)!,
      poller: this.pollers.get(app.name)!,
      upstream: this.upstreamOptions,
      closing: () => this.closing,
      stopRef: (ref, reason) => { void this.stopRef(app.name, ref, reason) },
      emit: e => this.emitEvent(e),
      persist: () => this.persist(env),
      log: this.log
    }, env, generation, sha, kind, done, existing)
  }

  private startTask (env: Env, generation: number, existing?: TaskRef): void {
    env.wakeStartedAt = Date.now()
    env.task = existing
    const sha = existing?.sha || env.sha
    this.launch(env, generation, sha, 'wake', out => {
      if (env.m.generation !== generation) return
      if (!out.ok) {
        if (out.cancelled) return
        this.counters.wakeFailures++
        this.log.error({ env: env.key, generation, code: out.error.code, reason: out.error.detail }, 'wake failed')
        this.apply(env, { type: 'wake-failed', code: out.error.code, reason: out.error.detail ?? out.error.message })
        return
      }
      env.route = out.upstream
      env.task = out.ref
      env.runningSha = sha
      env.readyAt = Date.now()
      env.lastWakeMs = env.readyAt - env.wakeStartedAt
      env.coldPending = env.wakeByRequest
      env.wakeByRequest = false
      env.lastSeen = env.readyAt
      this.apply(env, { type: 'ready' })
      // A push arrived while waking: bring the newest code up behind this one.
      if (env.sha !== sha && env.state === 'running') this.apply(env, { type: 'redeploy' })
    }, existing)
  }

  /**
   * New code for an env. Running: start the next generation beside the current one and
   * switch when it is reachable. Waking: redeploy once ready. Asleep: the next wake uses it.
   */
  redeploy (env: Env, sha: string | undefined, cause: string): void {
    const changed = sha !== undefined && sha !== env.sha
    if (sha) env.sha = sha
    if (env.state === 'failed' && changed) this.apply(env, { type: 'clear-backoff' })
    if (env.state !== 'running') return
    this.log.info({ env: env.key, sha: env.sha, cause }, 'redeploy')
    this.apply(env, { type: 'redeploy' })
  }

  private startPending (env: Env, generation: number, existing?: TaskRef): void {
    const sha = existing?.sha || env.sha
    env.pendingTask = existing
    env.pendingSha = sha
    this.launch(env, generation, sha, 'redeploy', out => {
      if (env.m.pending !== generation) { if (out.ok) void out.upstream.destroy(); return }
      if (!out.ok) {
        if (out.cancelled) return
        this.counters.wakeFailures++
        const reason = out.error.detail ?? out.error.message
        this.log.error({ env: env.key, generation, code: out.error.code, reason }, 'redeploy failed; current generation keeps serving')
        this.emitEvent(env.emit({ type: 'info', message: `redeploy of ${sha.slice(0, 12)} failed: ${reason}`, generation }))
        this.emit('redeploy-failed', env, reason)
        this.apply(env, { type: 'pending-failed', generation, reason })
        return
      }
      env.pendingRoute = out.upstream
      env.pendingTask = out.ref
      this.apply(env, { type: 'pending-ready', generation })
    }, existing)
  }

  /** One step: new requests go to the new generation; the old one drains, then stops. */
  private switchTo (env: Env, generation: number): void {
    const next = env.pendingRoute
    if (!next || next.generation !== generation) return
    const old = env.route
    const oldTask = env.task
    env.route = next
    env.task = env.pendingTask
    env.runningSha = env.pendingSha
    env.pendingRoute = undefined
    env.pendingTask = undefined
    env.readyAt = Date.now()
    this.emitEvent(env.emit({ type: 'info', message: `switched to generation ${generation} (${env.runningSha.slice(0, 12)})`, generation }))
    this.emit('switched', env, generation)
    const stop = (ref: TaskRef) => { void this.stopRef(env.app.config.name, ref, 'redeploy: old generation drained') }
    if (old) drainGeneration(env, old, oldTask, { timeout: () => this.emit('drain-timeout', env, old), stop, emit: e => this.emitEvent(e) })
    // Another push arrived meanwhile.
    if (env.sha !== env.runningSha && env.state === 'running') this.apply(env, { type: 'redeploy' })
  }

  private stopTask (env: Env, reason: string): void {
    const ref = env.task
    env.task = undefined
    const gen = env.m.generation
    const done = () => {
      if (env.state !== 'stopping' || env.m.generation !== gen) return
      // A wake asked for meanwhile starts now: the caps decide as for any other wake.
      if (env.m.wakeAfterStop) this.admit(env, { type: 'stopped' }, 'wake after stop')
      this.apply(env, { type: 'stopped' })
    }
    if (!ref) {
      // A wake still between start() and its ref: runWake sees wanted() false and stops it.
      queueMicrotask(done)
      return
    }
    this.stopRef(env.app.config.name, ref, reason).finally(done)
  }

  private stopRef (app: string, ref: TaskRef, reason: string): Promise<void> {
    this.counters.stops++
    this.log.info({ env: `${ref.app}/${ref.pr}`, task: ref.id, reason }, 'stopping task')
    return this.backends.get(app)!.stop(ref, `wakegate: ${reason}`).catch(err => {
      this.log.error({ err, task: ref.id }, 'stop failed')
    })
  }

  /** Idle reaper: walks only envs that have a task, so its cost is independent of asleep envs. */
  reap (now = Date.now()): void {
    for (const env of this.active) {
      if (env.state !== 'running') continue
      // In-flight requests and streams with real traffic lately are activity; heartbeats are not.
      if (env.inflight > 0 || (env.streams > 0 && now - env.streamActiveAt < env.app.config.streamQuietTimeout)) { env.lastSeen = now; continue }
      if (env.keepAwakeUntil > now) continue
      if (now - env.lastSeen >= this.idleTimeoutFor(env, now)) this.apply(env, { type: 'idle' })
    }
  }

  /** The idle timeout that applies to `env` now. */
  idleTimeoutFor (env: Env, _now: number): number {
    return env.app.config.idleTimeout
  }

  private emitEvent (e: EnvEvent): void { this.emit('event', e) }

  /**
   * Fencing token of the leader lease this manager acts under (several replicas): every write
   * carries it, so once a newer leader has written an env, an older one cannot.
   */
  fence: number | undefined

  /** Writes the env's record to the store, not awaited (nothing waits on the store); 'persist' tells mirrors. */
  persist (env: Env): void {
    this.emit('persist', env)
    this.store.put(envRecord(env), this.fence === undefined ? undefined : { fence: this.fence }).catch(err => {
      if (err instanceof StaleWriteError && err.reason === 'fence') this.emit('fenced', err)
      else this.log.warn({ err, env: env.key }, 'store write failed')
    })
  }

  /** Stop waking, fail waiters, and let the backend decide what happens to its tasks. */
  async close (): Promise<void> {
    this.closing = true
    if (this.reaper) clearInterval(this.reaper)
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
