// maxRunning per app: when an env starts and the app would run more than allowed, the idle
// envs used longest ago are put to sleep. Busy envs (requests in flight, streams open,
// requests held) are never picked, so the limit can be exceeded while all are in use.
import type { Logger } from 'pino'
import type { EnvManager } from '../lifecycle/manager.js'
import type { EnvEvent } from '../lifecycle/env.js'
import type { AppPolicy } from './config.js'
import { evictions } from './policy.js'

export class Capacity {
  evicted = 0

  constructor (private readonly manager: EnvManager, private readonly policies: Map<string, AppPolicy>, private readonly log: Logger) {
    manager.on('event', this.onEvent)
  }

  private onEvent = (e: EnvEvent): void => {
    try { this.check(e) } catch (err) { this.log.error({ err, env: e.key }, 'maxRunning check failed') }
  }

  private check (e: EnvEvent): void {
    if (e.type !== 'state' || e.state !== 'waking') return
    const env = this.manager.envs.get(e.key)
    if (!env) return
    const app = env.app.config.name
    const max = this.policies.get(app)?.maxRunning
    if (!max) return
    // The env starting may not be in `active` yet (events come before the effects).
    const mine = new Set([...this.manager.active].filter(x => x.app.config.name === app))
    mine.add(env)
    const victims = evictions([...mine].map(x => ({ key: x.key, state: x.state, lastSeen: x.lastSeen, busy: x.inflight > 0 || x.streams > 0 || x.held > 0 })), max, env.key)
    for (const key of victims) {
      const victim = this.manager.envs.get(key)
      if (!victim) continue
      this.evicted++
      this.log.info({ env: key, for: env.key, maxRunning: max }, 'putting the oldest idle env to sleep (maxRunning)')
      // Not from inside the emitting transition: let it finish first.
      queueMicrotask(() => {
        try { this.manager.sleep(victim, `maxRunning ${max}: making room for ${env.key}`) } catch (err) { this.log.error({ err, env: key }, 'maxRunning sleep failed') }
      })
    }
  }

  close (): void { this.manager.off('event', this.onEvent) }
}
