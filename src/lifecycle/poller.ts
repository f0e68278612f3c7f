// Batches status requests from every waking env into one backend.describe() per round, so
// N envs waking at once cost ⌈N/100⌉ DescribeTasks calls on ECS, not N.
import type { Backend, TaskRef, TaskStatus } from '../backends/backend.js'

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
