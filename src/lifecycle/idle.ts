// Which idle timeout applies to an env now: the fixed idleTimeout, the adaptive one learned
// from its visits (apps[].idle), or outside office hours the schedule's (apps[].schedule). Also
// the timers that put envs to sleep when office hours end. The reaper asks timeoutFor for
// every running env on every tick: it reads cached values and recomputes only after a visit.
import type { Logger } from 'pino'
import type { AppConfig } from '../config/load.js'
import type { Env } from './env.js'
import type { IdleNote } from '../github/comment.js'
import { adaptiveTimeout } from './idle-policy.js'
import { isOpen, nextChange, type OfficeHours } from './schedule.js'
import { Visits, VISIT_GAP } from './visits.js'

export type IdlePolicyName = 'fixed' | 'adaptive' | 'schedule'

/** The idle part of an env's admin view. */
export interface IdleView {
  timeoutMs: number
  policy: IdlePolicyName
  visits: number
  coldVisits: number
  keepAwakeUntil?: string
}

export interface IdleHost {
  /** Envs with a task (the manager's `active`). */
  active: Iterable<Env>
  /** Puts an env to sleep for the schedule (sleptBy 'schedule'). */
  sleep: (env: Env, cause: string) => void
  log: Logger
}

/** A cached adaptive timeout is refreshed after the app's pooled gaps changed at most this often. */
const PRIOR_REFRESH = 60_000
/** setTimeout's longest delay. */
const MAX_DELAY = 2 ** 31 - 1

interface AppSchedule {
  app: AppConfig
  hours: OfficeHours
  outside: number
  open: boolean
  /** Office hours as of the last boundary the timer handled. */
  timerOpen: boolean
  /** `open` holds from `from` until `until` (the next change). */
  from: number
  until: number
  timer?: NodeJS.Timeout
}

interface Cached { timeout: number, version: number, appVersion: number, at: number }

/** The shortest idle timeout an env of `app` can get: the reaper's tick follows it. */
export function shortestIdleTimeout (app: AppConfig): number {
  return Math.min(app.idleTimeout, app.idle?.min ?? Infinity, app.schedule?.outsideIdleTimeout ?? Infinity)
}

/** A keep-awake persisted in env.meta (a restart, a new leader) applies again while it lasts. */
export function restoreKeepAwake (env: Env, now = Date.now()): void {
  const until = Number(env.meta.keepAwakeUntil ?? 0)
  if (until > now) env.keepAwakeUntil = until
  else delete env.meta.keepAwakeUntil
}

export class IdleTimeouts {
  readonly visits = new Visits(env => env.app.config.idle?.visitGap ?? VISIT_GAP)
  private readonly schedules = new Map<string, AppSchedule>()
  private readonly cache = new WeakMap<Env, Cached>()
  private closed = false

  constructor (apps: AppConfig[], private readonly host: IdleHost) {
    for (const app of apps) {
      if (!app.schedule) continue
      const s: AppSchedule = { app, hours: app.schedule.hours, outside: app.schedule.outsideIdleTimeout, open: false, timerOpen: false, from: 0, until: 0 }
      this.schedules.set(app.name, s)
      s.timerOpen = this.openAt(s, Date.now())
      this.arm(s, Date.now())
    }
  }

  /** The idle timeout (ms) that applies to `env` at `now`. */
  timeoutFor (env: Env, now: number): number {
    const app = env.app.config
    const usual = app.idle ? this.adaptive(env, now) : app.idleTimeout
    const s = this.schedules.get(app.name)
    return s && !this.openAt(s, now) ? Math.min(s.outside, usual) : usual
  }

  /** What a PR comment says about when the env (or a new one of `app`) goes to sleep. */
  note (app: AppConfig, env: Env | undefined, now: number): IdleNote {
    const usual = !app.idle ? app.idleTimeout : env ? this.adaptive(env, now) : this.fresh(app)
    return {
      timeoutMs: usual,
      ...(app.idle ? { adaptive: { min: app.idle.min, max: app.idle.max } } : {}),
      ...(app.schedule ? { officeHours: { text: `${app.schedule.officeHours.join(', ')}, ${app.schedule.timeZone}`, outsideMs: Math.min(app.schedule.outsideIdleTimeout, usual) } } : {}),
      ...(env && env.keepAwakeUntil > now ? { keepAwakeUntil: env.keepAwakeUntil } : {})
    }
  }

  policyOf (env: Env, now: number): IdlePolicyName {
    const s = this.schedules.get(env.app.config.name)
    if (s && !this.openAt(s, now)) return 'schedule'
    return env.app.config.idle ? 'adaptive' : 'fixed'
  }

  /** Inside office hours (true for apps without a schedule). */
  officeHours (app: string, now: number): boolean {
    const s = this.schedules.get(app)
    return !s || this.openAt(s, now)
  }

  /** The timeout an env of `app` without visits of its own would get now. */
  appTimeout (app: AppConfig, now: number): number {
    const usual = this.fresh(app)
    const s = this.schedules.get(app.name)
    return s && !this.openAt(s, now) ? Math.min(s.outside, usual) : usual
  }

  view (env: Env, now: number): IdleView {
    const v = this.visits.of(env)
    return {
      timeoutMs: this.timeoutFor(env, now),
      policy: this.policyOf(env, now),
      visits: v.visits,
      coldVisits: v.cold,
      ...(env.keepAwakeUntil > now ? { keepAwakeUntil: new Date(env.keepAwakeUntil).toISOString() } : {})
    }
  }

  close (): void {
    this.closed = true
    for (const s of this.schedules.values()) clearTimeout(s.timer)
  }

  /** Inside office hours, for an env without visits of its own. */
  private fresh (app: AppConfig): number {
    return app.idle ? adaptiveTimeout([], this.visits.app(app.name).gaps.values, app.idle, app.idleTimeout) : app.idleTimeout
  }

  private adaptive (env: Env, now: number): number {
    const app = env.app.config
    const own = this.visits.of(env)
    const pool = this.visits.app(app.name)
    const c = this.cache.get(env)
    if (c && c.version === own.version && (c.appVersion === pool.version || now - c.at < PRIOR_REFRESH)) return c.timeout
    const timeout = adaptiveTimeout(own.gaps.values, pool.gaps.values, app.idle!, app.idleTimeout)
    this.cache.set(env, { timeout, version: own.version, appVersion: pool.version, at: now })
    return timeout
  }

  /** Whether office hours are on at `now`, recomputed only past the cached span. */
  private openAt (s: AppSchedule, now: number): boolean {
    if (now < s.from || now >= s.until) {
      s.open = isOpen(s.hours, now)
      s.from = now
      s.until = nextChange(s.hours, now)
    }
    return s.open
  }

  /** A timer to the next change of office hours; at their end, idle envs go to sleep. */
  private arm (s: AppSchedule, now: number): void {
    if (this.closed) return
    this.openAt(s, now)
    if (!Number.isFinite(s.until)) return
    s.timer = setTimeout(() => this.boundary(s), Math.min(MAX_DELAY, Math.max(0, s.until - now)))
    s.timer.unref?.()
  }

  private boundary (s: AppSchedule): void {
    const now = Date.now()
    const open = this.openAt(s, now)
    if (s.timerOpen && !open) this.closeHours(s, now)
    s.timerOpen = open
    this.arm(s, now)
  }

  /** Office hours ended: running envs nobody is using go to sleep (kept-awake ones stay); as for the reaper, machines' requests are no use. */
  private closeHours (s: AppSchedule, now: number): void {
    const app = s.app
    const idle = [...this.host.active].filter(env => env.app.config.name === app.name && env.state === 'running' &&
      env.inflight <= env.passive && !(env.streams > 0 && now - env.streamActiveAt < app.streamQuietTimeout) && env.keepAwakeUntil <= now)
    if (idle.length) this.host.log.info({ app: app.name, envs: idle.length }, 'office hours ended: putting idle envs to sleep')
    for (const env of idle) this.host.sleep(env, 'schedule: outside office hours')
  }
}
