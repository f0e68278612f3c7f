// Prometheus metrics, read from the live counters at scrape time (nothing on the hot path).
import { Registry, Gauge, Counter, collectDefaultMetrics } from 'prom-client'
import type { EnvManager } from '../lifecycle/manager.js'
import type { Gateway } from '../proxy/gateway.js'
import type { Store } from '../stores/store.js'
import type { GithubIntegration } from '../github/index.js'
import { registerWarmUpMetrics } from './warmup-metrics.js'
import { registerClientMetrics } from './client-metrics.js'
import { wakePhaseHistogram } from './wake-phases.js'
import { registerIdleMetrics } from './idle-metrics.js'
import { registerCostMetrics } from '../cost/metrics.js'
import { costTracker } from '../cost/tracker.js'
import { registerPrewarmMetrics } from './prewarm-metrics.js'

/**
 * `certExpiry`: when the public listener's TLS certificate expires (ms since the epoch;
 * undefined until known), for an install that serves TLS itself (`listen.tls`).
 */
export function createMetrics (manager: EnvManager, gateway: Gateway, store: Store, github?: GithubIntegration, certExpiry?: () => number | undefined): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'wakegate_process_' })

  if (certExpiry) {
    new Gauge({
      name: 'wakegate_tls_cert_expiry_seconds', help: 'When the TLS certificate of the public listener expires (Unix time, seconds)', registers: [registry],
      collect () {
        const at = certExpiry()
        if (at !== undefined) this.set(Math.floor(at / 1000))
      }
    })
  }

  new Gauge({
    name: 'wakegate_envs', help: 'Environments by app and state', labelNames: ['app', 'state'], registers: [registry],
    collect () {
      this.reset()
      for (const env of manager.envs.values()) this.inc({ app: env.app.config.name, state: env.state })
    }
  })
  new Gauge({
    name: 'wakegate_inflight_requests', help: 'Proxied requests in flight', registers: [registry],
    collect () { let n = 0; for (const e of manager.active) n += e.inflight; this.set(n) }
  })
  new Gauge({
    name: 'wakegate_open_streams', help: 'Open WebSocket tunnels', registers: [registry],
    collect () { this.set(gateway.upgrades.tunnels.size + gateway.remote.tunnels) }
  })
  new Gauge({
    name: 'wakegate_held_requests', help: 'Requests held while their env wakes', registers: [registry],
    collect () { this.set(gateway.holding + gateway.remote.held) }
  })
  new Gauge({
    name: 'wakegate_store_up', help: '1 when the store is reachable', labelNames: ['kind'], registers: [registry],
    collect () { this.set({ kind: store.kind }, store.healthy() ? 1 : 0) }
  })
  registerIdleMetrics(registry, manager)
  registerCostMetrics(registry, costTracker(manager))
  wakePhaseHistogram(registry, manager.apps)
  new Gauge({
    name: 'wakegate_typical_wake_seconds', help: 'Recent typical wake time per app', labelNames: ['app'], registers: [registry],
    collect () { for (const [name, app] of manager.apps) this.set({ app: name }, app.typicalWake / 1000) }
  })
  new Counter({
    name: 'wakegate_transitions_total', help: 'Env state transitions', labelNames: ['from', 'to'], registers: [registry],
    collect () {
      this.reset()
      for (const [edge, n] of manager.transitions) {
        const [from, to] = edge.split('→')
        this.inc({ from, to }, n)
      }
    }
  })
  const counter = (name: string, help: string, read: () => number) => new Counter({
    name, help, registers: [registry],
    collect () { this.reset(); this.inc(read()) }
  })
  counter('wakegate_requests_total', 'Requests received on the public listener', () => gateway.counters.requests)
  registerClientMetrics(registry, manager)
  counter('wakegate_proxied_total', 'Requests forwarded to an upstream', () => gateway.counters.proxied)
  counter('wakegate_cold_requests_total', 'Requests that found their env not running', () => gateway.counters.cold)
  counter('wakegate_rejected_total', 'Requests answered 404/503 without reaching an env', () => gateway.counters.rejected)
  counter('wakegate_upstream_errors_total', 'Upstream connection failures', () => gateway.counters.upstreamErrors)
  counter('wakegate_upstream_queue_timeouts_total', 'Requests answered 503 after waiting proxy.queueTimeout for an upstream connection', () => gateway.counters.queueTimeouts)
  counter('wakegate_responses_cut_total', 'Responses cut mid-body (upstream idle timeout, reset or broken framing)', () => gateway.counters.responsesCut)
  counter('wakegate_access_allowed_total', 'Requests and upgrades to restricted apps the access gate let in after checking credentials', () => gateway.access.gate.counters.allowed)
  counter('wakegate_access_refused_total', 'Requests and upgrades the access gate refused (nothing woken)', () => gateway.access.gate.counters.refused)
  counter('wakegate_wakes_at_capacity_total', 'Wakes refused because every env under a maxRunning cap was in use', () => manager.capacity.refused)
  counter('wakegate_evicted_total', 'Idle envs put to sleep to make room under a maxRunning cap', () => manager.capacity.evicted)
  counter('wakegate_retries_total', 'Requests retried after passive health re-woke their env', () => gateway.counters.retries)
  counter('wakegate_task_starts_total', 'Tasks started', () => manager.counters.starts)
  counter('wakegate_task_stops_total', 'Tasks stopped', () => manager.counters.stops)
  counter('wakegate_wake_failures_total', 'Wakes that failed', () => manager.counters.wakeFailures)
  registerPrewarmMetrics(registry, manager.backends)
  if (github) {
    // One labelled counter per GitHub part, read from its own counters.
    const parts: Array<[string, string, () => Record<string, number>]> = [
      ['wakegate_github_webhooks_total', 'Webhook deliveries by outcome', () => ({ ...github.webhooks.counters })],
      ['wakegate_github_api_total', 'GitHub API calls, retries, rate limits and failures', () => ({ ...github.client.counters })],
      ['wakegate_github_feedback_total', 'PR comments, Deployments and statuses written', () => ({ ...github.feedback.counters })],
      ['wakegate_github_pr_lookups_total', 'Known-PR gate lookups by outcome', () => ({ ...github.knownPrs.counters })],
      ['wakegate_github_pr_sweep_total', 'Closed-PR sweep: runs, envs of closed PRs destroyed (swept), failed API calls', () => ({ ...github.prSweep.counters })]
    ]
    for (const [name, help, read] of parts) {
      new Counter({
        name, help, labelNames: ['kind'], registers: [registry],
        collect () {
          this.reset()
          for (const [kind, n] of Object.entries(read())) this.inc({ kind }, n)
        }
      })
    }
    registerWarmUpMetrics(registry, github.warmups)
  }
  return registry
}
