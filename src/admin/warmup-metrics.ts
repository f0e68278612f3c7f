// Warm-up counters, read from WarmUps at scrape time: signals acted on, and each warm-up's
// outcome once its window closed (used: a human visit came within usedWithin; wasted: none).
import { Counter, type Registry } from 'prom-client'
import type { WarmUps } from '../lifecycle/warmup.js'

export function registerWarmUpMetrics (registry: Registry, warmups: WarmUps): void {
  new Counter({
    name: 'wakegate_warmup_signals_total', help: 'Warm-up signals acted on (review requests, pushes to visited PRs, comments naming an env); a signal inside an open warm-up extends it', labelNames: ['app', 'signal'], registers: [registry],
    collect () {
      this.reset()
      for (const [app, bySignal] of Object.entries(warmups.counts())) {
        for (const [signal, c] of Object.entries(bySignal)) this.inc({ app, signal }, c.signals)
      }
    }
  })
  new Counter({
    name: 'wakegate_warmups_total', help: 'Warm-ups by outcome once their window closed: used (a visit within usedWithin) or wasted', labelNames: ['app', 'signal', 'outcome'], registers: [registry],
    collect () {
      this.reset()
      for (const [app, bySignal] of Object.entries(warmups.counts())) {
        for (const [signal, c] of Object.entries(bySignal)) {
          this.inc({ app, signal, outcome: 'used' }, c.used)
          this.inc({ app, signal, outcome: 'wasted' }, c.wasted)
        }
      }
    }
  })
}
