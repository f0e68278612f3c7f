// Wake phases for operators: the Prometheus histogram per app and phase, and
// GET /api/wake-phases (recent samples per app and phase, which the simulator replays).
import type { FastifyInstance } from 'fastify'
import { Histogram, type Registry } from 'prom-client'
import type { AppRuntime } from '../lifecycle/env.js'
import { KEPT_SAMPLES } from '../lifecycle/wake-stats.js'

/** Seconds: 25 ms (a poll's lag) to 5 min (a large image on a cold instance). */
export const WAKE_PHASE_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300]

/**
 * wakegate_wake_phase_seconds{app,phase,kind}: each successful wake's and redeploy's phases
 * and its total (phase="total"), observed when it ends (a wake is rare; nothing per request).
 */
export function wakePhaseHistogram (registry: Registry, apps: ReadonlyMap<string, AppRuntime>): void {
  const h = new Histogram({
    name: 'wakegate_wake_phase_seconds',
    help: 'Duration of each phase of successful wakes and redeploys (queue, placement, pull, start, detect, health) and their total',
    labelNames: ['app', 'phase', 'kind'],
    buckets: WAKE_PHASE_BUCKETS,
    registers: [registry]
  })
  for (const [name, app] of apps) {
    app.wakeStats.onRecord(t => {
      for (const p of t.phases) h.observe({ app: name, phase: p.phase, kind: t.kind }, p.ms / 1000)
      h.observe({ app: name, phase: 'total', kind: t.kind }, t.totalMs / 1000)
    })
  }
}

/** The JSON of GET /api/wake-phases: per app, its backend, wakes recorded, and per phase count/mean/p50/p95/samples (ms). */
export function wakePhasesView (apps: ReadonlyMap<string, AppRuntime>) {
  return {
    samplesKept: KEPT_SAMPLES,
    apps: Object.fromEntries([...apps].map(([name, app]) => [name, { backend: app.config.backend.kind, ...app.wakeStats.summary() }]))
  }
}

export function registerWakePhases (app: FastifyInstance, apps: ReadonlyMap<string, AppRuntime>): void {
  app.get('/api/wake-phases', async () => wakePhasesView(apps))
}
