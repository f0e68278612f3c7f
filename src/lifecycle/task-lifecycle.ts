// The task side of the lifecycle: applies state-machine transitions and carries out their
// effects (start, switch, drain and stop tasks; routes; waiters), and mirrors records to
// the store. EnvManager (manager.ts) builds the envs' public operations on it.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Backend, TaskRef } from '../backends/backend.js'
import { StaleWriteError, type Store } from '../stores/store.js'
import type { UpstreamOptions } from '../proxy/upstream.js'
import { WakegateError } from '../errors.js'
import { transition, type LifecycleEvent, type Effect } from './machine.js'
import { envRecord, type Env, type EnvEvent } from './env.js'
import type { StatusPoller } from './poller.js'
import { launchTask, type LaunchDeps, type LaunchKind, type LaunchOutcome } from './launch.js'
import { drainGeneration } from './drain.js'
import type { IdleTimeouts } from './idle.js'

export abstract class TaskLifecycle extends EventEmitter {
  /** Envs with a task (waking/running/stopping): the reaper walks only these. */
  readonly active = new Set<Env>()
  readonly counters = { starts: 0, stops: 0, wakeFailures: 0 }
  /** Transitions by "from→to", for metrics. */
  readonly transitions = new Map<string, number>()
  protected closing = false
  /** Idle timeouts (fixed, adaptive, office hours), visits, and the office-hours timers. */
  abstract readonly idle: IdleTimeouts

  constructor (
    readonly backends: Map<string, Backend>,
    protected readonly pollers: Map<string, StatusPoller>,
    protected readonly store: Store,
    protected readonly log: Logger,
    /** Pool settings of every Upstream this process creates. */
    protected readonly upstreamOptions: UpstreamOptions,
    /** Readiness probe of wakes (default: real HTTP/TCP). */
    private readonly probe: LaunchDeps['probe']
  ) {
    super()
    this.setMaxListeners(0)
  }

  /** Running caps, before `ev` is applied (see EnvManager): false when the wake was refused. */
  protected abstract admit (env: Env, ev: LifecycleEvent, cause: string): boolean

  protected apply (env: Env, ev: LifecycleEvent): void {
    const app = env.app.config
    const before = env.state
    const t = transition(env.m, ev, Date.now(), app.failureBackoff)
    if (!t.changed) return
    // A refused wake changes nothing but its waiters: no record to write.
    const moved = t.next !== env.m
    env.m = t.next
    // The idle policy put it to sleep (sleep() says who for itself); back at work, nobody did.
    if (ev.type === 'idle') env.sleptBy = 'policy'
    else if (env.state === 'waking' || env.state === 'running') env.sleptBy = ''
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

  protected effect (env: Env, eff: Effect): void {
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
  protected launch (env: Env, generation: number, sha: string, kind: LaunchKind, done: (out: LaunchOutcome) => void, existing?: TaskRef): void {
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
      log: this.log,
      probe: this.probe
    }, env, generation, sha, kind, done, existing)
  }

  protected startTask (env: Env, generation: number, existing?: TaskRef): void {
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
      env.lastSeen = env.readyAt
      this.idle.visits.ready(env, env.wakeByRequest !== false)
      env.wakeByRequest = false
      this.apply(env, { type: 'ready' })
      // A push arrived while waking: bring the newest code up behind this one.
      if (env.sha !== sha && env.state === 'running') this.apply(env, { type: 'redeploy' })
    }, existing)
  }

  protected startPending (env: Env, generation: number, existing?: TaskRef): void {
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
  protected switchTo (env: Env, generation: number): void {
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

  protected stopTask (env: Env, reason: string): void {
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

  protected stopRef (app: string, ref: TaskRef, reason: string): Promise<void> {
    this.counters.stops++
    this.log.info({ env: `${ref.app}/${ref.pr}`, task: ref.id, reason }, 'stopping task')
    return this.backends.get(app)!.stop(ref, `wakegate: ${reason}`).catch(err => {
      this.log.error({ err, task: ref.id }, 'stop failed')
    })
  }

  protected emitEvent (e: EnvEvent): void { this.emit('event', e) }

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

}
