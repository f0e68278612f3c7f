// Builds the backends the apps' configs ask for: one per local app; one per ECS cluster,
// shared by every app on it, so status rounds and reconcile listings are per cluster.
import type { Logger } from 'pino'
import type { AppConfig } from '../config/load.js'
import type { Backend } from './backend.js'
import { LocalBackend } from './local.js'
import type { EcsApp } from './ecs.js'

/** Backends by app name; apps on one ECS cluster get the same instance. */
/**
 * @param taskDirFor where a local app's tasks are recorded when the config gives no taskDir
 *   (several replicas on one machine adopt each other's tasks through it)
 */
export async function createBackends (apps: AppConfig[], log: Logger, taskDirFor?: (app: string) => string): Promise<Map<string, Backend>> {
  const out = new Map<string, Backend>()
  const clusters = new Map<string, EcsApp[]>()
  let clusterKey: ((cfg: EcsApp['config']) => string) | undefined
  for (const app of apps) {
    const b = app.backend
    if (b.kind === 'local') {
      out.set(app.name, new LocalBackend({ app: app.name, command: b.command, cwd: b.cwd ?? process.cwd(), stopGrace: b.stopGrace, logDir: b.logDir, taskDir: b.taskDir ?? taskDirFor?.(app.name) }))
      continue
    }
    // Loaded only when an app uses ECS, so local-only gateways never load the AWS SDK.
    clusterKey ??= (await import('./ecs.js')).clusterKey
    const key = clusterKey(b)
    clusters.set(key, [...(clusters.get(key) ?? []), { app: app.name, port: app.port, config: b }])
  }
  if (clusters.size) {
    const { EcsBackend } = await import('./ecs.js')
    for (const group of clusters.values()) {
      const backend = new EcsBackend({ apps: group, log: log.child({ backend: 'ecs', cluster: group[0].config.cluster }) })
      for (const a of group) out.set(a.app, backend)
    }
  }
  return out
}

/** The backend of one app on its own (nothing shared with other apps). */
export async function createBackend (app: AppConfig, log: Logger): Promise<Backend> {
  return (await createBackends([app], log)).get(app.name)!
}
