// A replica taking the leadership starts from the envs the store holds (PRs registered by
// webhooks or the known-PR gate, closed PRs' tombstones, GitHub feedback ids). Their tasks
// are not taken from the records: reconcile asks the backends what really runs and adopts it.
import type { Logger } from 'pino'
import type { EnvManager } from '../lifecycle/manager.js'
import type { Store } from '../stores/store.js'

export async function restoreEnvs (manager: EnvManager, store: Store, log: Logger): Promise<number> {
  let records
  try {
    records = await store.list()
  } catch (err) {
    log.warn({ err }, 'envs could not be read from the store; starting from the config')
    return 0
  }
  let n = 0
  for (const r of records) {
    if (!manager.apps.has(r.app)) continue
    const env = manager.register(r.app, r.pr, { branch: r.branch, sha: r.sha, title: r.title, author: r.author, source: r.source })
    env.meta = { ...(r.meta ?? {}), ...env.meta }
    if (r.state === 'destroyed') manager.destroy(env)
    n++
  }
  if (n) log.info({ envs: n }, 'envs restored from the store')
  return n
}
