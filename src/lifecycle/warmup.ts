// Predictive warm-up: a sign that a reviewer is about to come (a review request, a push to a
// PR somebody looked at lately, a comment naming the env) starts the env, or keeps it running,
// for `usedWithin`, so the reviewer finds it up. Each warm-up is judged afterwards: *used* when
// a human visit came within its window, *wasted* when none did. Nothing here knows GitHub:
// the webhook handler and the simulator both call `signal`.
import type { Logger } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import type { EnvManager } from './manager.js'
import type { Env, EnvEvent } from './env.js'

export type WarmUpSignal = 'review-requested' | 'push' | 'mention'
export const WARM_UP_SIGNALS: readonly WarmUpSignal[] = ['review-requested', 'push', 'mention']

/** apps[].warmup, durations in ms. */
export interface WarmUpConfig {
  reviewRequested: boolean
  /** A push warms only an env a human visited within this long (0: pushes never warm). */
  pushVisitedWithin: number
  commentMention: boolean
  /** How long a warm-up keeps the env awake, and the window a visit must fall in to count it as used. */
  usedWithin: number
}

/** Per app and signal. `signals`: signals acted on; `warmUps`: windows they opened (a signal inside an open window extends it). */
export interface WarmUpCounts { signals: number, warmUps: number, starts: number, used: number, wasted: number }

export interface SignalResult {
  /** started: the env was asleep and is woken; kept: it was up already; extended: an open window was made longer; skipped: nothing done. */
  action: 'started' | 'kept' | 'extended' | 'skipped'
  reason?: string
}

interface Window {
  env: Env
  /** The signal that opened the window; later ones extend it and count as the same warm-up. */
  signal: WarmUpSignal
  at: number
  until: number
  timer: NodeJS.Timeout | undefined
}

const CAUSE: Record<WarmUpSignal, string> = {
  'review-requested': 'warm-up: review requested',
  push: 'warm-up: push to a recently visited PR',
  mention: 'warm-up: mentioned in a PR comment'
}

export class WarmUps {
  private readonly windows = new Map<Env, Window>()
  /**
   * The lastSeen an env got from a start nobody asked for (a warm start, an adopted task):
   * lastSeen above it is a human's. Kept per Env object, so a forgotten env takes its mark along.
   */
  private readonly machineSeen = new WeakMap<Env, number>()
  private readonly tally = new Map<string, WarmUpCounts>()

  constructor (private readonly manager: EnvManager, config: ResolvedConfig, private readonly log: Logger) {
    // Series at zero for every enabled signal, so dashboards see them before the first one.
    for (const app of config.apps) {
      for (const s of WARM_UP_SIGNALS) if (app.warmup && enabled(app.warmup, s)) this.count(app.name, s)
    }
    manager.on('event', this.onEvent)
  }

  /**
   * A sign that someone is about to look at `env`. Starts it if asleep (a warm start) or keeps
   * it if up, until `usedWithin` from now; a signal while a window is open extends that window.
   */
  signal (env: Env, kind: WarmUpSignal, detail?: string): SignalResult {
    const cfg = env.app.config.warmup
    const now = Date.now()
    if (!cfg || !enabled(cfg, kind)) return { action: 'skipped', reason: `${kind} warm-ups are off` }
    if (env.state === 'destroyed') return { action: 'skipped', reason: 'the env is destroyed' }
    if (kind === 'push') {
      const seen = this.lastVisit(env, now)
      if (seen === 0) return this.skip(env, kind, 'never visited')
      if (now - seen > cfg.pushVisitedWithin) return this.skip(env, kind, 'not visited lately')
    }
    // Our own wake, so the start carries the signal as its cause; still asleep or failed after
    // it, the start was refused (running caps, failure backoff) and there is nothing to keep.
    const started = env.state !== 'running' && env.state !== 'waking'
    if (started) {
      this.manager.wake(env, CAUSE[kind]).catch(err => this.log.debug({ env: env.key, signal: kind, err: (err as Error).message }, 'warm-up start failed'))
      if (env.state === 'asleep' || env.state === 'failed') return this.skip(env, kind, 'the start was refused (running caps or failure backoff)')
    }
    const app = env.app.config.name
    const c = this.count(app, kind)
    c.signals++
    if (started) c.starts++
    const until = now + cfg.usedWithin
    let w = this.windows.get(env)
    if (w && w.until <= now) { this.settle(w, now); w = undefined }
    const extended = w !== undefined
    if (w) w.until = Math.max(w.until, until)
    else {
      w = { env, signal: kind, at: now, until, timer: undefined }
      this.windows.set(env, w)
      c.warmUps++
      this.arm(w, now)
    }
    this.manager.keepAwake(env, Math.max(env.keepAwakeUntil, w.until), CAUSE[kind])
    const action = started ? 'started' : extended ? 'extended' : 'kept'
    this.log.info({ env: env.key, signal: kind, detail, action, until: new Date(w.until).toISOString() }, 'warm-up')
    return { action }
  }

  /**
   * Counts per app and signal: { signals, warmUps, starts, used, wasted }. Open windows are
   * in warmUps but in neither used nor wasted yet.
   */
  counts (): Record<string, Partial<Record<WarmUpSignal, WarmUpCounts>>> {
    const out: Record<string, Partial<Record<WarmUpSignal, WarmUpCounts>>> = {}
    for (const [key, c] of this.tally) {
      const [app, signal] = key.split('\0') as [string, WarmUpSignal]
      out[app] ??= {}
      out[app][signal] = { ...c }
    }
    return out
  }

  /** Warm-ups whose window is still open. */
  get open (): number { return this.windows.size }

  /**
   * Judges every open window now (end of a simulated run, shutdown accounting): used if a
   * visit came since its signal, wasted otherwise.
   */
  settleAll (now = Date.now()): void {
    for (const w of [...this.windows.values()]) this.settle(w, now)
  }

  close (): void {
    this.manager.off('event', this.onEvent)
    for (const w of this.windows.values()) if (w.timer) clearTimeout(w.timer)
    this.windows.clear()
  }

  /**
   * When a human last visited `env`, 0 if never: lastSeen counts once it is past what the
   * last machine start set. A request in flight or waiting for a wake is a visit now.
   */
  lastVisit (env: Env, now = Date.now()): number {
    if (env.inflight > env.passive || (env.state === 'waking' && env.wakeByRequest)) return now
    const mark = Math.max(env.createdAt, this.machineSeen.get(env) ?? 0)
    return env.lastSeen > mark ? env.lastSeen : 0
  }

  /** A start nobody waited for (warm start, adoption) sets lastSeen: remember that value as a machine's. */
  private readonly onEvent = (e: EnvEvent): void => {
    if (e.type !== 'state' || e.state !== 'running') return
    const env = this.manager.envs.get(e.key)
    if (env && !env.coldPending) this.machineSeen.set(env, env.lastSeen)
  }

  /** Wakes up when the window ends (again later if a signal extended it). Unref'd: never holds the process. */
  private arm (w: Window, now: number): void {
    w.timer = setTimeout(() => {
      w.timer = undefined
      const t = Date.now()
      if (this.windows.get(w.env) !== w) return
      if (w.until > t) this.arm(w, t)
      else this.settle(w, t)
    }, Math.max(0, w.until - now))
    w.timer.unref?.()
  }

  private settle (w: Window, now: number): void {
    if (w.timer) clearTimeout(w.timer)
    w.timer = undefined
    if (this.windows.get(w.env) === w) this.windows.delete(w.env)
    const used = this.lastVisit(w.env, now) > w.at
    const c = this.count(w.env.app.config.name, w.signal)
    if (used) c.used++
    else c.wasted++
    this.log.info({ env: w.env.key, signal: w.signal, outcome: used ? 'used' : 'wasted' }, 'warm-up settled')
  }

  private skip (env: Env, kind: WarmUpSignal, reason: string): SignalResult {
    this.log.debug({ env: env.key, signal: kind, reason }, 'no warm-up')
    return { action: 'skipped', reason }
  }

  private count (app: string, signal: WarmUpSignal): WarmUpCounts {
    const key = `${app}\0${signal}`
    let c = this.tally.get(key)
    if (!c) { c = { signals: 0, warmUps: 0, starts: 0, used: 0, wasted: 0 }; this.tally.set(key, c) }
    return c
  }
}

export function enabled (cfg: WarmUpConfig, kind: WarmUpSignal): boolean {
  return kind === 'review-requested' ? cfg.reviewRequested : kind === 'push' ? cfg.pushVisitedWithin > 0 : cfg.commentMention
}
