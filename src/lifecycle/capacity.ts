// Running caps: at most `maxRunning` envs of an app (the smaller of apps[].maxRunning and
// apps[].github.maxRunning) and at most `limits.maxRunning` of all apps together. A wake
// that would start a task past a cap first puts to sleep the idle envs used longest ago;
// when not enough of them are idle (requests in flight, streams open, requests held), the
// wake is refused with WAKEGATE_AT_CAPACITY before anything starts. Waking and running
// envs count; stopping ones do not (their task is on its way out).
import type { AppConfig, ResolvedConfig } from '../config/load.js'
import { WakegateError } from '../errors.js'
import type { Env } from './env.js'

/** Retry-After (seconds) of a refusal: how soon an env may have gone idle and been stopped is unknowable. */
export const AT_CAPACITY_RETRY_AFTER = 60

export interface RunningEnv {
  key: string
  state: string
  lastSeen: number
  /** Requests in flight or streams open: never evicted. */
  busy: boolean
}

/**
 * Envs to put to sleep so that at most `max` run, sparing `keep` (the one starting):
 * the idle ones that were used longest ago go first; busy ones are never picked (fewer
 * than needed come back when too few are idle).
 */
export function evictions (envs: RunningEnv[], max: number, keep: string): string[] {
  const counted = envs.filter(e => e.state === 'waking' || e.state === 'running')
  const excess = counted.length - max
  if (excess <= 0) return []
  return counted
    .filter(e => e.key !== keep && e.state === 'running' && !e.busy)
    .sort((a, b) => a.lastSeen - b.lastSeen)
    .slice(0, excess)
    .map(e => e.key)
}

/** The cap of one app: the smaller of its own maxRunning and its github.maxRunning. */
export function appCap (app: AppConfig): number | undefined {
  const own = app.maxRunning
  const gh = app.github?.maxRunning
  if (own === undefined) return gh
  if (gh === undefined) return own
  return Math.min(own, gh)
}

export type Admission = { ok: true, victims: Env[] } | { ok: false, error: WakegateError }

/** Busy envs are never put to sleep to make room. */
export function busy (env: Env): boolean {
  // As the idle reaper sees it: machines' requests and heartbeat-only streams are not use;
  // a keep-awake (operator, warm-up) is.
  const now = Date.now()
  return env.inflight > env.passive || env.held > 0 || env.keepAwakeUntil > now ||
    (env.streams > 0 && now - env.streamActiveAt < env.app.config.streamQuietTimeout)
}

const counts = (e: Env) => e.state === 'waking' || e.state === 'running'
const evictable = (e: Env) => e.state === 'running' && !busy(e)
const oldestFirst = (a: Env, b: Env) => a.lastSeen - b.lastSeen

export class Capacity {
  /** Envs put to sleep to make room. */
  evicted = 0
  /** Wakes refused because nothing could be put to sleep. */
  refused = 0
  private readonly globalCap: number | undefined

  constructor (config: Pick<ResolvedConfig, 'limits'>) {
    this.globalCap = config.limits?.maxRunning
  }

  /** Whether any cap applies to `app` (no work on the wake path otherwise). */
  limited (app: AppConfig): boolean {
    return this.globalCap !== undefined || appCap(app) !== undefined
  }

  /**
   * May `env` start a task now, given the envs that have one (`active`)? Either the envs
   * to put to sleep first (oldest idle first; none when under every cap), or the refusal.
   */
  admit (env: Env, active: Iterable<Env>): Admission {
    const app = env.app.config
    const cap = appCap(app)
    const global = this.globalCap
    if (cap === undefined && global === undefined) return { ok: true, victims: [] }
    const others: Env[] = []
    for (const e of active) if (e !== env && counts(e)) others.push(e)
    const victims: Env[] = []
    if (cap !== undefined) {
      const mine = others.filter(e => e.app.config.name === app.name)
      const need = mine.length + 1 - cap
      if (need > 0) {
        const idle = mine.filter(evictable).sort(oldestFirst)
        if (idle.length < need) return this.refuse(mine.length, `of ${app.name} `, `${capName(app)} ${cap}`, idle.length)
        victims.push(...idle.slice(0, need))
      }
    }
    if (global !== undefined) {
      const need = others.length + 1 - global - victims.length
      if (need > 0) {
        const idle = others.filter(e => evictable(e) && !victims.includes(e)).sort(oldestFirst)
        if (idle.length < need) return this.refuse(others.length, '', `limits.maxRunning ${global}`, idle.length + victims.length)
        victims.push(...idle.slice(0, need))
      }
    }
    this.evicted += victims.length
    return { ok: true, victims }
  }

  /** "2 environments of web are running (maxRunning 2) and all of them are in use." */
  private refuse (running: number, of: string, limit: string, idle: number): Admission {
    this.refused++
    const one = running === 1
    const why = idle > 0 ? `only ${idle} of them ${idle === 1 ? 'is' : 'are'} idle` : one ? 'it is in use' : 'all of them are in use'
    const detail = `${running} environment${one ? '' : 's'} ${of}${one ? 'is' : 'are'} running (${limit}) and ${why}.`
    return { ok: false, error: new WakegateError('WAKEGATE_AT_CAPACITY', detail, { retryAfter: AT_CAPACITY_RETRY_AFTER }) }
  }
}

function capName (app: AppConfig): string {
  const gh = app.github?.maxRunning
  return gh !== undefined && (app.maxRunning === undefined || gh < app.maxRunning) ? 'github.maxRunning' : 'maxRunning'
}
