// Requests to env hosts by who sent them: a reviewer's (human) or a machine's (link unfurler,
// crawler, scanner, uptime monitor), which never wakes nor keeps an env awake; and reconnects
// (WebSocket, EventSource, dev-server pings) refused because their env was put to sleep.
// Read at scrape time from each app's counters (workers' and replicas' are added in by the hub).
import { Counter, type Registry } from 'prom-client'
import type { EnvManager } from '../lifecycle/manager.js'

export function registerClientMetrics (registry: Registry, manager: EnvManager): void {
  new Counter({
    name: 'wakegate_client_requests_total',
    help: 'Requests and WebSocket upgrades to env hosts by app and client kind (human; machine: unfurlers, crawlers, scanners, monitors — never activity)',
    labelNames: ['app', 'client'],
    registers: [registry],
    collect () {
      this.reset()
      for (const [app, rt] of manager.apps) {
        this.inc({ app, client: 'human' }, rt.clients.human)
        this.inc({ app, client: 'machine' }, rt.clients.machine)
      }
    }
  })
  new Counter({
    name: 'wakegate_reconnects_refused_total',
    help: 'Reconnects (WebSocket upgrades, EventSource and dev-server pings) answered WAKEGATE_ENV_ASLEEP because their env was put to sleep, by app',
    labelNames: ['app'],
    registers: [registry],
    collect () {
      this.reset()
      for (const [app, rt] of manager.apps) this.inc({ app }, rt.clients.asleepRefused)
    }
  })
}
