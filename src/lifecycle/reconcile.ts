// Reconcile: make the gateway's envs agree with the tasks the backends really run. On boot,
// tasks left by the previous gateway are adopted (no second start), running or still
// starting, and tasks nobody owns are stopped; periodically, a current task stopped outside
// wakegate (console, Spot reclaim) is noticed and its env goes asleep, so the next request
// wakes it again.
import type { Logger } from 'pino'
import type { Backend, TaskRef, TaskStatus } from '../backends/backend.js'
import type { AppConfig } from '../config/load.js'
import type { Env } from './env.js'
import type { EnvManager } from './manager.js'

export interface ReconcileReport {
  /** Tasks the backends listed (deduplicated). */
  listed: number
  adopted: number
  stopped: number
  /** Current tasks found stopped outside wakegate (their envs went asleep). */
  lost: number
  /** Backend calls that failed (the run carries on with what it has). */
  errors: number
}

/** Backends that do not say: tasks of anything but the plain local backend are taken to outlive the gateway. */
function outlives (b: Backend | undefined): boolean {
  return b !== undefined && (b.outlivesGateway ?? b.kind !== 'local')
}

/** Local tasks recorded in a task dir are listed from disk: cheap, so often. */
const LOCAL_RECONCILE_INTERVAL = 5_000

interface Found { ref: TaskRef, backend: Backend }

/** A start is in flight whose task the env does not know yet: leave its tasks alone. */
function starting (env: Env): boolean {
  return (env.state === 'waking' && !env.task) || (env.m.pending > 0 && !env.pendingTask)
}

function owns (env: Env, id: string): boolean {
  if (env.task?.id === id || env.pendingTask?.id === id) return true
  for (const d of env.draining) if (d.task?.id === id) return true
  return false
}

export class Reconciler {
  private timer: NodeJS.Timeout | undefined
  private inflight: Promise<ReconcileReport> | undefined
  private stopped = false

  constructor (private readonly manager: EnvManager, private readonly log: Logger) {}

  /**
   * Apps whose tasks can outlive a gateway (ecs; local with a task dir, as replicas use).
   * Other local tasks die with the gateway that started them, so there is nothing to find,
   * and an unknown-PR request still costs no backend call at all.
   */
  private apps (): AppConfig[] {
    return [...this.manager.apps.values()].map(rt => rt.config).filter(a => outlives(this.manager.backends.get(a.name)))
  }

  /** Boot: reconcile, but do not hold the listener back longer than `limit` ms. */
  async boot (limit = 15_000): Promise<ReconcileReport | undefined> {
    const names = this.apps().map(a => a.name)
    if (names.length === 0) return undefined
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<undefined>(resolve => { timer = setTimeout(() => resolve(undefined), limit) })
    try {
      return await Promise.race([this.run(names), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Periodic runs, every reconcileInterval (the smallest among the apps). */
  start (): void {
    const apps = this.apps()
    if (this.stopped || this.timer || apps.length === 0) return
    const every = Math.max(50, Math.min(...apps.map(a => a.backend.kind === 'ecs' ? a.backend.reconcileInterval : LOCAL_RECONCILE_INTERVAL)))
    const names = apps.map(a => a.name)
    this.timer = setInterval(() => { void this.run(names) }, every)
    this.timer.unref()
  }

  stop (): void {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** One pass over these apps (all ecs apps by default); concurrent callers share the pass in flight. */
  run (apps: string[] = this.apps().map(a => a.name)): Promise<ReconcileReport> {
    if (!this.inflight) {
      this.inflight = this.pass(apps).catch(err => {
        this.log.error({ err }, 'reconcile failed')
        return { listed: 0, adopted: 0, stopped: 0, lost: 0, errors: 1 }
      }).finally(() => { this.inflight = undefined })
    }
    return this.inflight
  }

  private async pass (apps: string[]): Promise<ReconcileReport> {
    const report: ReconcileReport = { listed: 0, adopted: 0, stopped: 0, lost: 0, errors: 0 }
    const m = this.manager

    // 1. What runs: list each backend once (apps may share a cluster; tasks are deduplicated).
    const appsOf = new Map<Backend, string[]>()
    for (const app of apps) {
      const b = m.backends.get(app)
      if (b) appsOf.set(b, [...(appsOf.get(b) ?? []), app])
    }
    const found = new Map<string, Found>()
    const listedApps = new Set<string>()
    await Promise.all([...appsOf].map(async ([backend, names]) => {
      try {
        for (const ref of await backend.list()) if (!found.has(ref.id)) found.set(ref.id, { ref, backend })
        for (const n of names) listedApps.add(n)
      } catch (err) {
        report.errors++
        this.log.warn({ err, apps: names }, 'reconcile: listing tasks failed')
      }
    }))
    report.listed = found.size

    // 2. Their status, one batched describe per backend. A task of a configured app is
    //    handled by that app's backend; an unknown app's task by the backend that found it.
    const handled = [...found.values()].map(f => ({ ref: f.ref, backend: m.apps.has(f.ref.app) ? m.backends.get(f.ref.app) ?? f.backend : f.backend }))
    const status = await this.describe(handled, report)

    // 3. Decide: running tasks first, then those still starting, each newest generation
    //    first. Of an env's tasks the newest running one becomes current and a newer one
    //    still starting its pending generation (a redeploy in flight); without a running
    //    one, the newest starting one is waited for as a wake. The rest are duplicates.
    const stops: Array<Promise<void>> = []
    const stop = (f: Found, why: string) => {
      report.stopped++
      this.log.warn({ task: f.ref.id, env: `${f.ref.app}/${f.ref.pr}`, why }, 'reconcile: stopping task')
      stops.push(f.backend.stop(f.ref, `wakegate: reconcile: ${why}`).catch(err => {
        report.errors++
        this.log.error({ err, task: f.ref.id }, 'reconcile: stop failed')
      }))
    }
    const runs = (f: Found) => status.get(f.ref.id)?.phase === 'running' && !!status.get(f.ref.id)?.endpoint
    const adopted = new Set<Env>()
    for (const f of handled.sort((a, b) => Number(runs(b)) - Number(runs(a)) || b.ref.generation - a.ref.generation)) {
      if (this.stopped) break
      const s = status.get(f.ref.id)
      if (!s || s.phase === 'stopped') continue
      const { ref } = f
      if (!ref.app || !m.apps.has(ref.app) || ref.pr <= 0) {
        stop(f, ref.app ? `app "${ref.app}" is not configured` : 'task carries no wakegate tags')
        continue
      }
      const env = m.lookup(ref.app, ref.pr) ?? m.register(ref.app, ref.pr, { sha: ref.sha || undefined, source: 'reconcile' })
      if (env.state === 'destroyed') { stop(f, `${env.key} is closed`); continue }
      if (owns(env, ref.id) || starting(env)) continue
      // A task of a generation this gateway already moved past is a leftover, never adopted.
      const fresh = env.m.generation === 0 || ref.generation > env.m.generation
      if (fresh && m.adopt(env, ref, runs(f) ? s.endpoint : undefined)) { report.adopted++; adopted.add(env); continue }
      stop(f, `duplicate task for ${env.key} (its current task is ${env.task?.id ?? 'none'})`)
    }
    // An adopted task running older code than the env wants (and no newer one starting): redeploy.
    for (const env of adopted) {
      if (env.state === 'running' && !env.m.pending && env.sha !== env.runningSha) m.redeploy(env, undefined, 'reconcile: adopted task runs an older SHA')
    }

    // 4. Current tasks the listing did not show: confirm with describe, then let the env sleep.
    const missing: Array<{ env: Env, ref: TaskRef, backend: Backend }> = []
    for (const env of m.active) {
      const name = env.app.config.name
      if (env.state !== 'running' || !env.task || !listedApps.has(name) || found.has(env.task.id)) continue
      missing.push({ env, ref: env.task, backend: m.backends.get(name)! })
    }
    if (missing.length) {
      const gone = await this.describe(missing, report)
      for (const { env, ref } of missing) {
        const s = gone.get(ref.id)
        if (this.stopped || s?.phase !== 'stopped') continue
        report.lost++
        m.taskGone(env, ref, s.reason ?? 'task stopped')
      }
    }

    await Promise.all(stops)
    if (report.adopted || report.stopped || report.lost || report.errors) this.log.info(report, 'reconciled')
    return report
  }

  private async describe (items: Array<{ ref: TaskRef, backend: Backend }>, report: ReconcileReport): Promise<Map<string, TaskStatus>> {
    const byBackend = new Map<Backend, TaskRef[]>()
    for (const { ref, backend } of items) byBackend.set(backend, [...(byBackend.get(backend) ?? []), ref])
    const out = new Map<string, TaskStatus>()
    await Promise.all([...byBackend].map(async ([backend, refs]) => {
      try {
        for (const s of await backend.describe(refs)) out.set(s.ref.id, s)
      } catch (err) {
        report.errors++
        this.log.warn({ err }, 'reconcile: describing tasks failed')
      }
    }))
    return out
  }
}
