// ttlDays: an env with no request and no push for that long is put to sleep and its
// record marked stale; the comment says so. The next request wakes it as usual, which
// clears the mark.
import type { Logger } from 'pino'
import type { EnvManager } from '../lifecycle/manager.js'
import type { EnvEvent } from '../lifecycle/env.js'
import type { AppPolicy } from './config.js'
import type { Feedback } from './feedback.js'
import { abandoned } from './policy.js'

export class Abandoned {
  private timer: NodeJS.Timeout | undefined

  constructor (
    private readonly manager: EnvManager,
    private readonly policies: Map<string, AppPolicy>,
    private readonly feedback: Feedback,
    private readonly persist: (key: string) => void,
    private readonly log: Logger
  ) {
    manager.on('event', this.onEvent)
    const ttls = [...policies.values()].map(p => p.ttlDays).filter((d): d is number => d !== undefined)
    if (ttls.length) {
      // Often enough to be within a tenth of the shortest TTL, at most hourly.
      const every = Math.max(1_000, Math.min(3_600_000, Math.min(...ttls) * 86_400_000 / 10))
      this.timer = setInterval(() => this.sweep(), every)
      this.timer.unref()
    }
  }

  /** Marks and puts to sleep the envs abandoned at `now`; returns their keys. */
  sweep (now = Date.now()): string[] {
    const out: string[] = []
    for (const env of this.manager.envs.values()) {
      const ttl = this.policies.get(env.app.config.name)?.ttlDays
      if (ttl === undefined || env.state === 'destroyed' || env.meta.stale === true) continue
      // In use now: a reviewer's request, a held one, or a stream with real traffic lately (not a forgotten tab's heartbeats, not a bot).
      if (env.inflight > env.passive || env.held > 0 || (env.streams > 0 && now - env.streamActiveAt < env.app.config.streamQuietTimeout)) continue
      const last = Math.max(env.lastSeen, Number(env.meta.pushedAt ?? 0))
      if (!abandoned(last, now, ttl)) continue
      env.meta.stale = true
      env.meta.staleAt = now
      out.push(env.key)
      this.log.info({ env: env.key, ttlDays: ttl, lastActivity: new Date(last).toISOString() }, 'abandoned: putting to sleep, marked stale')
      if (env.state === 'running' || env.state === 'waking') this.manager.sleep(env, `abandoned: no activity for ${ttl} days`, 'policy')
      else this.persist(env.key)
      this.feedback.refresh(env.key)
    }
    return out
  }

  private onEvent = (e: EnvEvent): void => {
    if (e.type !== 'state' || e.state !== 'waking') return
    const env = this.manager.envs.get(e.key)
    if (env?.meta.stale) {
      delete env.meta.stale
      delete env.meta.staleAt
      this.feedback.refresh(env.key)
    }
  }

  close (): void {
    if (this.timer) clearInterval(this.timer)
    this.manager.off('event', this.onEvent)
  }
}
