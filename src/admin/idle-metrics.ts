// Metrics of the idle policy, read at scrape time: the idle timeout that applies per app and
// the visits that found their env running (warm) or asleep (cold).
import { Gauge, Counter, type Registry } from 'prom-client'
import type { EnvManager } from '../lifecycle/manager.js'

export function registerIdleMetrics (registry: Registry, manager: EnvManager): void {
  new Gauge({
    name: 'wakegate_idle_timeout_seconds', help: "Idle timeout that applies per app now: the median over its running environments, or a new environment's when none runs", labelNames: ['app'], registers: [registry],
    collect () {
      this.reset()
      const now = Date.now()
      const by = new Map<string, number[]>()
      for (const env of manager.active) {
        if (env.state !== 'running') continue
        const name = env.app.config.name
        if (!by.has(name)) by.set(name, [])
        by.get(name)!.push(manager.idle.timeoutFor(env, now))
      }
      for (const [name, rt] of manager.apps) {
        const ts = by.get(name)?.sort((a, b) => a - b)
        const t = ts ? ts[(ts.length - 1) >> 1] : manager.idle.appTimeout(rt.config, now)
        this.set({ app: name }, t / 1000)
      }
    }
  })
  new Counter({
    name: 'wakegate_visits_total', help: 'Visits (activity after a quiet gap) per app; cold="true": the environment was not running and the visit waited for a wake', labelNames: ['app', 'cold'], registers: [registry],
    collect () {
      this.reset()
      for (const name of manager.apps.keys()) {
        const v = manager.idle.visits.apps.get(name)
        this.inc({ app: name, cold: 'false' }, v ? v.visits - v.cold : 0)
        this.inc({ app: name, cold: 'true' }, v ? v.cold : 0)
      }
    }
  })
}
