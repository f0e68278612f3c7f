// The policies compared, each as the app config a user would write for it: the simulator
// selects behaviour only through config, as a gateway would.
import { MINUTE } from './calendar.js'

export interface Policy {
  id: string
  label: string
  kind: 'always-on' | 'fixed' | 'adaptive'
  /** fixed: apps[].idleTimeout in ms */
  idleTimeout?: number
  /** apps[].warmup: {} (every signal on, with wakegate's defaults) */
  warmup: boolean
}

/** apps[].idle of the adaptive policies as a user would write it: 5% cold visits, wakegate's default bounds (5 min – 1 h). */
export const ADAPTIVE_IDLE = { target: { coldVisits: 0.05 } }

export const FIXED_MINUTES = [5, 15, 30, 60]

export const POLICIES: Policy[] = [
  { id: 'always-on', label: 'always on', kind: 'always-on', warmup: false },
  ...FIXED_MINUTES.map((m): Policy => ({ id: `fixed-${m}m`, label: `fixed ${m} min`, kind: 'fixed', idleTimeout: m * MINUTE, warmup: false })),
  { id: 'adaptive', label: 'adaptive', kind: 'adaptive', warmup: false },
  { id: 'adaptive-warmup', label: 'adaptive + warm-up', kind: 'adaptive', warmup: true }
]

export const APP = 'web'

/**
 * The config of one run. Tasks are on ECS (EC2 launch type) as far as the lifecycle can tell:
 * describe rounds every second as for a real ECS app; the backend behind them is simulated.
 * `windowMs`: always-on's idle timeout is longer than the whole trace.
 */
export function policyConfig (p: Policy, windowMs: number): Record<string, unknown> {
  const app: Record<string, unknown> = {
    name: APP,
    host: 'pr-{pr}.review.example.com',
    backend: { kind: 'ecs', cluster: 'simulated', taskDefinition: APP, container: 'app', launchType: 'EC2', pollInterval: '1s' },
    idleTimeout: p.kind === 'always-on' ? windowMs + 24 * 60 * MINUTE : p.idleTimeout ?? 15 * MINUTE
  }
  if (p.kind === 'adaptive') app.idle = ADAPTIVE_IDLE
  if (p.warmup) app.warmup = {}
  return {
    admin: { enabled: false },
    log: { level: 'silent' },
    limits: { wakesPerMinute: 0 },
    apps: [app]
  }
}
