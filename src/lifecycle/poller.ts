// Batches status requests from every waking env into one backend.describe() per round, so
// N envs waking at once cost ⌈N/100⌉ DescribeTasks calls on ECS, not N. Apps sharing a
// backend (all apps on one ECS cluster) share its poller, so their rounds are one too.
import type { Backend, TaskRef, TaskStatus } from '../backends/backend.js'
import type { AppConfig } from '../config/load.js'

interface Pending { ref: TaskRef, resolve: (s: TaskStatus) => void, reject: (e: unknown) => void }

export class StatusPoller {
  private queue: Pending[] = []
  private timer: NodeJS.Timeout | undefined

  /** @param interval ms between rounds; 0 means as soon as the current tick ends. */
  constructor (private readonly backend: Backend, private readonly interval: number) {}

  status (ref: TaskRef): Promise<TaskStatus> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ref, resolve, reject })
      if (!this.timer) this.timer = setTimeout(() => this.flush(), this.interval)
    })
  }

  private flush (): void {
    this.timer = undefined
    const batch = this.queue
    this.queue = []
    // One entry per task even if several callers asked about it.
    const unique = new Map<string, TaskRef>()
    for (const p of batch) unique.set(p.ref.id, p.ref)
    const refs = [...unique.values()]
    this.backend.describe(refs).then(statuses => {
      const byId = new Map(statuses.map(s => [s.ref.id, s]))
      for (const p of batch) p.resolve(byId.get(p.ref.id) ?? { ref: p.ref, phase: 'stopped', reason: 'task not found' })
    }, err => {
      for (const p of batch) p.reject(err)
    })
  }

  close (): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.queue
    this.queue = []
    for (const p of batch) p.reject(new Error('poller closed'))
  }
}

/** Each app's poller: one per backend instance, every pollInterval (the shortest of its apps; 0 for local). */
export function pollersFor (apps: AppConfig[], backends: Map<string, Backend>): Map<string, StatusPoller> {
  const interval = new Map<Backend, number>()
  for (const app of apps) {
    const backend = backends.get(app.name)
    if (!backend) throw new Error(`no backend for app ${app.name}`)
    const every = app.backend.kind === 'ecs' ? app.backend.pollInterval : 0
    interval.set(backend, Math.min(every, interval.get(backend) ?? Infinity))
  }
  const pollers = new Map([...interval].map(([backend, every]) => [backend, new StatusPoller(backend, every)]))
  return new Map(apps.map(app => [app.name, pollers.get(backends.get(app.name)!)!]))
}
