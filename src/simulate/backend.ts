// A backend whose tasks exist only in virtual time: each start samples its phases from a
// PhaseModel and reports pending → pulling → running at those moments, and the readiness
// probe passes once the app would be healthy. Instances keep the images they pulled, so a
// push makes the next start of that PR pull again. Every task's run is recorded: task-hours.
import type { Backend, TaskRef, TaskSpec, TaskStatus } from '../backends/backend.js'
import type { ProbeResult, ProbeTarget } from '../lifecycle/probe.js'
import type { PhaseModel, StartTimes } from './phases.js'
import type { Rng } from './prng.js'

export interface SimTask {
  ref: TaskRef
  instance: number
  /** The start was asked for (RunTask): task time counts from here… */
  requestedAt: number
  /** …until it was stopped (undefined: still there). */
  endedAt?: number
  times: StartTimes
  /** ECS's timestamps, ms. */
  createdAt: number
  pullStartedAt: number
  pullStoppedAt: number
  startedAt: number
  /** The app answers its health check from here on. */
  healthyAt: number
  cached: boolean
  port: number
}

/** Placement is random over this many container instances, each with its own image cache. */
export const DEFAULT_INSTANCES = 3

export class SimulatedBackend implements Backend {
  readonly kind = 'simulated'
  readonly outlivesGateway = false
  readonly tasks: SimTask[] = []
  private readonly byId = new Map<string, SimTask>()
  private readonly byPort = new Map<number, SimTask>()
  /** Per instance: image (SHA) → when its pull completes there (a pull in progress is shared). */
  private readonly images: Array<Map<string, number>>
  private nextId = 1

  constructor (private readonly model: PhaseModel, private readonly rng: Rng, instances = DEFAULT_INSTANCES) {
    this.images = Array.from({ length: instances }, () => new Map())
  }

  start (spec: TaskSpec): Promise<TaskRef> {
    const now = Date.now()
    const instance = Math.floor(this.rng.next() * this.images.length)
    const have = this.images[instance].get(spec.sha)
    const times = this.model.sample(this.rng, have !== undefined)
    const id = `sim-${this.nextId++}`
    const createdAt = now + times.queue
    const pullStartedAt = createdAt + times.placement
    // An image still being pulled there for another task is waited for, not pulled twice.
    const pullStoppedAt = Math.max(pullStartedAt + times.pull, have ?? 0)
    if (have === undefined) this.images[instance].set(spec.sha, pullStoppedAt)
    const startedAt = pullStoppedAt + times.start
    const task: SimTask = {
      ref: { id, app: spec.app, pr: spec.pr, sha: spec.sha, generation: spec.generation },
      instance, requestedAt: now, times, createdAt, pullStartedAt, pullStoppedAt, startedAt,
      healthyAt: startedAt + times.health, cached: have !== undefined, port: 32768 + this.nextId
    }
    this.tasks.push(task)
    this.byId.set(id, task)
    this.byPort.set(task.port, task)
    return new Promise(resolve => setTimeout(() => resolve(task.ref), times.queue))
  }

  async describe (refs: TaskRef[]): Promise<TaskStatus[]> {
    const now = Date.now()
    return refs.map(ref => {
      const t = this.byId.get(ref.id)
      if (!t || t.endedAt !== undefined) return { ref, phase: 'stopped', reason: t ? 'stopped' : 'task not found' }
      // As ECS dates them: each moment once it has happened.
      const timing = { createdAt: t.createdAt, ...Object.fromEntries((['pullStartedAt', 'pullStoppedAt', 'startedAt'] as const).filter(k => t[k] <= now).map(k => [k, t[k]])) }
      if (now < t.pullStartedAt || (now >= t.pullStoppedAt && now < t.startedAt)) return { ref, phase: 'pending', timing }
      if (now < t.pullStoppedAt) return { ref, phase: 'pulling', reason: `pulling image ${t.ref.sha}`, timing }
      return { ref, phase: 'running', endpoint: { host: `10.0.${t.instance}.10`, port: t.port }, timing }
    })
  }

  async stop (ref: TaskRef): Promise<void> {
    const t = this.byId.get(ref.id)
    if (t && t.endedAt === undefined) t.endedAt = Date.now()
  }

  async list (): Promise<TaskRef[]> {
    return this.tasks.filter(t => t.endedAt === undefined).map(t => t.ref)
  }

  async close (): Promise<void> {
    const now = Date.now()
    for (const t of this.tasks) t.endedAt ??= now
  }

  /** The readiness probe in virtual time: refused until the app is healthy (what a real probe sees). */
  readonly probe = async (target: ProbeTarget): Promise<ProbeResult> => {
    const t = this.byPort.get(target.port)
    if (!t || t.endedAt !== undefined || Date.now() < t.healthyAt) return { ok: false, reason: 'ECONNREFUSED' }
    return { ok: true }
  }

  /** ms of task time inside [from, to): tasks still there count until `to`. */
  taskMs (from: number, to: number): number {
    let ms = 0
    for (const t of this.tasks) ms += Math.max(0, Math.min(to, t.endedAt ?? to) - Math.max(from, t.requestedAt))
    return ms
  }
}
