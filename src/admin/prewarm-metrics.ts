// Image prewarm tasks per app and outcome, read from the backends at scrape time.
import { Counter, type Registry } from 'prom-client'
import type { Backend } from '../backends/backend.js'

export function registerPrewarmMetrics (registry: Registry, backends: Map<string, Backend>): void {
  new Counter({
    name: 'wakegate_prewarm_tasks_total',
    help: 'Image prewarm tasks by app and outcome: started, completed, failed, unplaced (no container instance left for it), timed-out; error counts prewarms whose AWS calls failed',
    labelNames: ['app', 'outcome'],
    registers: [registry],
    collect () {
      this.reset()
      // Apps on one cluster share a backend: each is read once.
      for (const b of new Set(backends.values())) {
        for (const [app, counts] of b.prewarmCounts ?? []) {
          for (const [outcome, n] of Object.entries(counts)) this.inc({ app, outcome }, n)
        }
      }
    }
  })
}
