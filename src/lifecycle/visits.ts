// Visits: a reviewer's activity after a quiet gap. Per env the recent gaps and whether each
// visit found the env asleep (a cold wake); per app the pooled recent gaps, the prior of the
// adaptive idle timeout for PRs with little history of their own.
//
// The manager reports what it sees and never waits on this: a request that wakes an env
// (coldRequest), a finished wake (ready), and on every reaper tick env.lastSeen (observe),
// whose jump past the visit gap since the last look is a warm visit. So a gap is measured to
// within one reaper tick, and the hot path does nothing more than it did.
//
// In memory only: the leader's manager owns it. A restarted gateway or a new leader starts
// with empty history, and the adaptive policy starts again from the app's idleTimeout.
import type { Env } from './env.js'

/** Recent gaps kept per env and per app. */
export const ENV_GAPS = 50
export const APP_GAPS = 250
/** Activity after at least this long without any is a new visit (apps without `idle`). */
export const VISIT_GAP = 60_000

/** A bounded ring of numbers, oldest overwritten first. */
export class Ring {
  private readonly buf: number[] = []
  private at = 0
  constructor (readonly size: number) {}
  push (v: number): void {
    if (this.buf.length < this.size) this.buf.push(v)
    else { this.buf[this.at] = v; this.at = (this.at + 1) % this.size }
  }
  get values (): readonly number[] { return this.buf }
  get length (): number { return this.buf.length }
}

export class EnvVisits {
  /** Last human activity known (ms); 0 until the first visit. */
  human = 0
  /** env.lastSeen when last looked at: a later value is new activity. */
  seen: number
  /** A cold visit's wake is in progress: more requests of it are the same visit. */
  coldOpen = false
  readonly gaps = new Ring(ENV_GAPS)
  visits = 0
  cold = 0
  /** Bumped with every visit: the cached timeout is recomputed after one. */
  version = 0
  constructor (lastSeen: number) { this.seen = lastSeen }
}

export class AppVisits {
  readonly gaps = new Ring(APP_GAPS)
  visits = 0
  cold = 0
  version = 0
}

export class Visits {
  private readonly envs = new WeakMap<Env, EnvVisits>()
  readonly apps = new Map<string, AppVisits>()

  /** @param gapOf the visit gap of an env's app (ms) */
  constructor (private readonly gapOf: (env: Env) => number) {}

  of (env: Env): EnvVisits {
    let s = this.envs.get(env)
    if (!s) { s = new EnvVisits(env.lastSeen); this.envs.set(env, s) }
    return s
  }

  app (name: string): AppVisits {
    let a = this.apps.get(name)
    if (!a) { a = new AppVisits(); this.apps.set(name, a) }
    return a
  }

  /** Reaper tick (running env): activity since the last look that follows a quiet gap is a warm visit. */
  observe (env: Env): void {
    const s = this.of(env)
    const last = env.lastSeen
    if (last <= s.seen) return
    s.seen = last
    if (!s.human || last - s.human >= this.gapOf(env)) this.record(env, s, last, false)
    s.human = last
  }

  /** A request asks a non-running env to wake: a cold visit, unless it belongs to one already waking. */
  coldRequest (env: Env, now: number): void {
    const s = this.of(env)
    this.observe(env)
    if (!s.coldOpen || now - s.human >= this.gapOf(env)) {
      this.record(env, s, now, true)
      s.coldOpen = true
    }
    s.human = Math.max(s.human, now)
  }

  /**
   * The env's task is up (a wake, or a task adopted); env.lastSeen was set to now by the
   * lifecycle, not by a person. When a request waited for it, the reviewer was there all along.
   */
  ready (env: Env, byRequest: boolean): void {
    const s = this.of(env)
    s.seen = env.lastSeen
    if (byRequest) s.human = Math.max(s.human, env.lastSeen)
    s.coldOpen = false
  }

  private record (env: Env, s: EnvVisits, at: number, cold: boolean): void {
    const app = this.app(env.app.config.name)
    if (s.human) {
      const gap = at - s.human
      s.gaps.push(gap)
      app.gaps.push(gap)
      app.version++
    }
    s.visits++
    app.visits++
    if (cold) { s.cold++; app.cold++ }
    s.version++
  }
}
