// The ecs backend's `prewarm` settings: checks the schema cannot express and their resolved
// form. Kept apart from prewarm.ts so loading a config never loads the AWS SDK.
import type { EcsBackendConfig } from '../../config/schema.js'
import { parseDuration } from '../../config/duration.js'

export interface PrewarmConfig {
  enabled: boolean
  instances: number
  command: string[]
  /** ms */
  timeout: number
}

/** Prewarm fetches each SHA's own image: without a per-SHA image there is nothing new to fetch. */
export function prewarmProblems (backend: EcsBackendConfig, at: string): Array<{ path: string, message: string }> {
  if (!backend.prewarm?.enabled || backend.image) return []
  return [{ path: `${at}.prewarm`, message: 'needs backend.image (a per-SHA image template such as repo/app:{sha}): prewarm pulls each pushed SHA\'s image' }]
}

/** The settings with durations in ms; undefined when not set (prewarm off). */
export function resolvePrewarm (backend: EcsBackendConfig): PrewarmConfig | undefined {
  const p = backend.prewarm
  return p && { ...p, timeout: parseDuration(p.timeout) }
}
