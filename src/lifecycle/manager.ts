// Owns the envs: applies state-machine transitions, carries out their effects (start/stop
// tasks, routes, waiters), keeps single-flight wakes and mirrors records to the store.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import type { Backend, TaskRef } from '../backends/backend.js'
import { taskEnv } from '../backends/backend.js'
import type { Store, EnvRecord } from '../stores/store.js'
import { compileHostTemplate } from '../routing/template.js'
import { Upstream } from '../proxy/upstream.js'
import { WakegateError } from '../errors.js'
import { transition, type LifecycleEvent, type Effect } from './machine.js'
import { Env, type AppRuntime, type EnvEvent } from './env.js'
import { StatusPoller } from './poller.js'
import { runWake } from './waker.js'

export interface ManagerOptions {
  config: ResolvedConfig
  backends: Map<string, Backend>
  store: Store
  log: Logger
  /** ms between idle-reaper ticks */
  reapInterval?: number
}

export interface PrInfo { branch?: string, sha?: string, title?: string, author?: string, source: string }

export class EnvManager extends EventEmitter {
  readonly apps = new Map<string, AppRuntime>()
  readonly envs = new Map<string, Env>()
  /** Envs with a task (waking/running/stopping): the reaper walks only these. */
  readonly active = new Set<Env>()
  readonly backends: Map<string, Backend>
  private readonly pollers = new Map<string, StatusPoller>()
  private readonly store: Store
  private readonly log: Logger
  private readonly config: ResolvedConfig
  private reaper: NodeJS.Timeout | undefined
  private closing = false
  readonly counters = { starts: 0, stops: 0, wakeFailures: 0, backendCalls: 0 }

  constructor (opts: ManagerOptions) {
    super()
    this.setMaxListeners(0)
    this.config = opts.config
    this.backends = opts.backends
    this.store = opts.store
    this.log = opts.log
    for (const app of opts.config.apps) {
      const template = compileHostTemplate(app.host, app.name)
      const { scheme, port } = opts.config.public
      const portPart = port && port !== (scheme === 'https' ? 443 : 80) ? `:${port}` : ''
      this.apps.set(app.name, { config: app, template, urlFor: pr => `${scheme}://${template.hostFor(pr)}${portPart}/`, typicalWake: 0 })
      const backend = opts.backends.get(app.name)
      if (!backend) throw new Error(`no backend for app ${app.name}`)
      const interval = app.backend.kind === 'ecs' ? app.backend.pollInterval : 0
      this.pollers.set(app.name, new StatusPoller(backend, interval))
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

  register (app: string, pr: number, info: PrInfo): Env {
    const rt = this.apps.get(app)
    if (!rt) throw new Error(`unknown app ${app}`)
    let env = this.envs.get(`${app}/${pr}`)
    if (env) {
      if (info.branch) env.branch = info.branch
      if (info.title !== undefined) env.title = info.title
      if (info.author !== undefined) env.author = info.author
      if (info.sha) env.sha = info.sha
      if (env.state === 'destroyed') this.revive(env)
    } else {
      env = new Env(rt, pr, { branch: info.branch ?? 'main', sha: info.sha ?? '0000000', title: info.title, author: info.author, source: info.source })
      this.envs.set(env.key, env)
      this.emitEvent(env.emit({ type: 'info', message: `registered from ${info.source}` }))
    }
    this.persist(env)
    return env
  }

  private revive (env: Env): void {
    env.m = { ...env.m, state: 'asleep', reason: '' }
    this.emitEvent(env.emit({ type: 'state', state: 'asleep', message: 'reopened' }))
  }

  /**
   * Single-flight: every caller during one wake gets the same promise. Resolves with the
   * upstream once reachable; rejects with a WakegateError saying why not.
   */
  wake (env: Env, cause: string): Promise<Upstream> {
    if (env.route && env.state === 'running') return Promise.resolve(env.route)
    if (this.closing) return Promise.reject(new WakegateError('WAKEGATE_SHUTTING_DOWN'))
    if (env.state === 'destroyed') return Promise.reject(new WakegateError('WAKEGATE_ENV_DESTROYED'))
    if (!env.wake) {
      let resolve!: (u: Upstream) => void
      let reject!: (e: Error) => void
      const promise = new Promise<Upstream>((res, rej) => { resolve = res; reject = rej })
      promise.catch(() => {}) // callers attach their own handlers; no unhandled rejection if none do
      env.wake = { promise, resolve, reject }
    }
    const pending = env.wake.promise
    this.apply(env, { type: 'wake', cause })
    if (env.state === 'failed' && env.wake) {
      // Still inside the failure backoff: answer with the kept reason, start nothing.
      const w = env.wake
      env.wake = null
      w.reject(new WakegateError('WAKEGATE_ENV_FAILED', env.m.reason))
    }
    return pending
  }

  sleep (env: Env, cause: string): void { this.apply(env, { type: 'sleep', cause }) }

  destroy (env: Env): void {
    this.apply(env, { type: 'destroy' })
  }

  /** Forget a destroyed env entirely (after the tombstone period). */
  forget (env: Env): void {
    if (env.state !== 'destroyed') return
    this.envs.delete(env.key)
    this.store.delete(env.key).catch(err => this.log.warn({ err, env: env.key }, 'store delete failed'))
  }

  /** Passive health: the proxy could not reach a running upstream. */
  taskLost (env: Env, upstream: Upstream, reason: string): void {
    if (env.route !== upstream || env.state !== 'running') return
    this.log.warn({ env: env.key, reason }, 'upstream unreachable; re-waking')
    if (!env.wake) {
      let resolve!: (u: Upstream) => void
      let reject!: (e: Error) => void
      const promise = new Promise<Upstream>((res, rej) => { resolve = res; reject = rej })
      promise.catch(() => {})
      env.wake = { promise, resolve, reject }
    }
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

  private apply (env: Env, ev: LifecycleEvent): void {
    const app = env.app.config
    const before = env.state
    const t = transition(env.m, ev, Date.now(), app.failureBackoff)
    if (!t.changed) return
    env.m = t.next
    if (env.state !== before) {
      const message = env.m.reason ? `${before} → ${env.state}: ${env.m.reason}` : `${before} → ${env.state}`
      this.log.info({ env: env.key, from: before, to: env.state, event: ev.type, generation: env.m.generation, reason: env.m.reason || undefined }, 'transition')
      this.emitEvent(env.emit({ type: 'state', state: env.state, message, generation: env.m.generation }))
    }
    if (env.state === 'waking' || env.state === 'running' || env.state === 'stopping') this.active.add(env)
    else this.active.delete(env)
    for (const eff of t.effects) this.effect(env, eff)
    this.persist(env)
  }

  private effect (env: Env, eff: Effect): void {
    switch (eff.type) {
      case 'start-task': this.startTask(env, eff.generation); break
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
      case 'fail-waiters': {
        const w = env.wake
        env.wake = null
        if (w) w.reject(eff.reason === 'destroyed' ? new WakegateError('WAKEGATE_ENV_DESTROYED') : new WakegateError('WAKEGATE_BACKEND_FAILED', eff.reason))
        break
      }
    }
  }

  private startTask (env: Env, generation: number): void {
    const app = env.app.config
    const backend = this.backends.get(app.name)!
    env.wakeStartedAt = Date.now()
    env.task = undefined
    env.phase = 'queued'
    this.counters.starts++
    const spec = {
      app: app.name, pr: env.pr, branch: env.branch, sha: env.sha, generation, port: app.port,
      env: taskEnv({ app: app.name, pr: env.pr, branch: env.branch, sha: env.sha }, app.env)
    }
    const setPhase = (phase: Env['phase'], detail: string) => {
      env.phase = phase
      env.phaseDetail = detail
      this.emitEvent(env.emit({ type: 'phase', phase, message: detail, generation }))
    }
    setPhase('queued', 'wake requested')
    const wanted = () => !this.closing && env.m.generation === generation && env.state === 'waking'
    runWake({
      spec,
      backend,
      poller: this.pollers.get(app.name)!,
      deadline: env.wakeStartedAt + app.startTimeout,
      health: app.health,
      hostHeader: env.app.template.hostFor(env.pr),
      statusEvery: app.backend.kind === 'ecs' ? app.backend.pollInterval : 250,
      wanted,
      onTask: ref => { if (env.m.generation === generation) { env.task = ref; this.persist(env) } },
      onPhase: setPhase
    }).then(out => {
      if (!out.ok) {
        if (out.ref && (out.cancelled || env.task?.id !== out.ref.id)) this.stopRef(app.name, out.ref, 'wake cancelled')
        if (out.cancelled || env.m.generation !== generation) return
        this.counters.wakeFailures++
        this.log.error({ env: env.key, generation, reason: out.reason }, 'wake failed')
        this.apply(env, { type: 'wake-failed', reason: out.reason })
        return
      }
      if (!wanted()) { this.stopRef(app.name, out.ref, 'wake no longer wanted'); return }
      const { host, port } = out.endpoint
      env.route = new Upstream(host, port, generation, { connections: this.config.proxy.upstreamConnections, headersTimeout: this.config.proxy.headersTimeout })
      env.readyAt = Date.now()
      env.lastWakeMs = env.readyAt - env.wakeStartedAt
      env.app.typicalWake = env.app.typicalWake ? Math.round(env.app.typicalWake * 0.7 + env.lastWakeMs * 0.3) : env.lastWakeMs
      env.coldPending = true
      env.lastSeen = env.readyAt
      setPhase('ready', `ready in ${env.lastWakeMs} ms`)
      this.apply(env, { type: 'ready' })
    }, err => {
      this.log.error({ err, env: env.key }, 'wake crashed')
      if (env.m.generation === generation) this.apply(env, { type: 'wake-failed', reason: (err as Error).message })
    })
  }

  private stopTask (env: Env, reason: string): void {
    const ref = env.task
    env.task = undefined
    const gen = env.m.generation
    const done = () => { if (env.state === 'stopping' && env.m.generation === gen) this.apply(env, { type: 'stopped' }) }
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
      if (env.inflight > 0 || env.streams > 0) { env.lastSeen = now; continue }
      if (now - env.lastSeen >= env.app.config.idleTimeout) this.apply(env, { type: 'idle' })
    }
  }

  private emitEvent (e: EnvEvent): void { this.emit('event', e) }

  record (env: Env): EnvRecord {
    return {
      key: env.key, app: env.app.config.name, pr: env.pr, branch: env.branch, sha: env.sha, title: env.title, author: env.author,
      state: env.state, generation: env.m.generation, task: env.task, reason: env.m.reason || undefined,
      lastSeen: env.lastSeen, createdAt: env.createdAt, updatedAt: Date.now(), source: env.source, meta: env.meta
    }
  }

  private persist (env: Env): void {
    this.store.put(this.record(env)).catch(err => this.log.warn({ err, env: env.key }, 'store write failed'))
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
    await Promise.all([...this.backends.values()].map(b => b.close().catch(err => this.log.error({ err }, 'backend close failed'))))
  }
}
