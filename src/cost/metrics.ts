// Cost metrics, read from the tracker at scrape time. Amounts only for apps whose task size
// and price are known. Authors are PR authors: as many label values as people opening PRs.
import { Counter, type Registry } from 'prom-client'
import type { CostTracker, CostTotals } from './tracker.js'

export function registerCostMetrics (registry: Registry, tracker: CostTracker): void {
  const totals = (): CostTotals => tracker.totals()
  new Counter({
    name: 'wakegate_env_running_seconds_total', help: "Task time of each app's environments (a redeploy's task beside the current one and draining ones count too)", labelNames: ['app'], registers: [registry],
    collect () {
      this.reset()
      for (const a of totals().apps) this.inc({ app: a.app }, a.runningMs / 1000)
    }
  })
  new Counter({
    name: 'wakegate_cost_total', help: "What each app's environments cost so far at cost.prices", labelNames: ['app', 'currency'], registers: [registry],
    collect () {
      this.reset()
      const t = totals()
      for (const a of t.apps) if (a.amount !== undefined) this.inc({ app: a.app, currency: t.currency }, a.amount)
    }
  })
  new Counter({
    name: 'wakegate_cost_by_author_total', help: 'What the environments of each PR author cost so far, per app', labelNames: ['app', 'author', 'currency'], registers: [registry],
    collect () {
      this.reset()
      const t = totals()
      for (const a of t.byAppAuthor) this.inc({ app: a.app, author: a.author, currency: t.currency }, a.amount)
    }
  })
  new Counter({
    name: 'wakegate_always_on_cost_total', help: "What each app's environments would have cost running from PR open to close (one task each)", labelNames: ['app', 'currency'], registers: [registry],
    collect () {
      this.reset()
      const t = totals()
      for (const a of t.apps) if (a.alwaysOnAmount !== undefined) this.inc({ app: a.app, currency: t.currency }, a.alwaysOnAmount)
    }
  })
}
