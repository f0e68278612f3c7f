// A replica taking the leadership starts from the envs the store holds (PRs registered by
// webhooks or the known-PR gate, closed PRs' tombstones, GitHub feedback ids). Their tasks
// are not taken from the records: reconcile asks the backends what really runs and adopts it.
import type { Logger } from 'pino'
import type { EnvManager } from '../lifecycle/manager.js'
import type { EnvRecord, Store } from '../stores/store.js'
import type { Env } from '../lifecycle/env.js'
import type { EnvState } from '../lifecycle/machine.js'
import { restoreKeepAwake } from '../lifecycle/idle.js'

/** The stored env records, or none when the store cannot be read (the config's PRs still are). */
export async function readRecords (store: Store, log: Logger): Promise<EnvRecord[]> {
  try {
    return await store.list()
  } catch (err) {
    log.warn({ err }, 'envs could not be read from the store; starting from the config')
    return []
  }
}

export function restoreEnvs (manager: EnvManager, records: EnvRecord[], log: Logger): number {
  let n = 0
  for (const r of records) {
    if (!manager.apps.has(r.app)) continue
    const env = manager.register(r.app, r.pr, { branch: r.branch, sha: r.sha, title: r.title, author: r.author, source: r.source })
    env.meta = { ...(r.meta ?? {}), ...env.meta }
    env.createdAt = Math.min(env.createdAt, r.createdAt)
    restoreKeepAwake(env)
    if (restoreSleptBy(env, r.state)) manager.persist(env) // register wrote the record without it
    if (r.state === 'destroyed') manager.destroy(env)
    n++
  }
  if (n) log.info({ envs: n }, 'envs restored from the store')
  return n
}

/** Who put a restored env to sleep (envRecord keeps it in meta): its reconnects stay refused under the new leader. */
function restoreSleptBy (env: Env, state: EnvState): boolean {
  const by = env.meta.sleptBy
  delete env.meta.sleptBy
  if ((by !== 'operator' && by !== 'schedule' && by !== 'policy') || (state !== 'asleep' && state !== 'stopping') || env.state !== 'asleep') return false
  env.sleptBy = by
  return true
}
