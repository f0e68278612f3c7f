// The in-memory env: what the hot path reads (route) and what the lifecycle mutates.
import type { AppConfig, ResolvedConfig } from '../config/load.js'
import type { TaskRef } from '../backends/backend.js'
import type { EnvRecord } from '../stores/store.js'
import type { Upstream } from '../proxy/upstream.js'
import { clientCounts, type ClientCounts } from '../proxy/clients.js'
import { compileHostTemplate, type HostTemplate } from '../routing/template.js'
import { WakegateError, type ErrorCode } from '../errors.js'
import { initialState, type MachineState, type WakePhase } from './machine.js'
import { WakeStats } from './wake-stats.js'
import type { TimelinePhase, WakeTimeline } from './wake-timeline.js'

export interface AppRuntime {
  config: AppConfig
  template: HostTemplate
  /** Builds the URL people open for a PR (scheme and port from `public`). */
  urlFor: (pr: number) => string
  /** Exponentially weighted mean of recent wake durations (ms), for the waking page. */
  typicalWake: number
  /** Recent durations of each wake phase: typical times, /api/wake-phases, the phase histogram. */
  readonly wakeStats: WakeStats
  /** Requests by client kind (human, machine) and reconnects refused while put to sleep, for /metrics. */
  readonly clients: ClientCounts
}

export function appRuntime (config: AppConfig, pub: ResolvedConfig['public']): AppRuntime {
  const template = compileHostTemplate(config.host, config.name)
  const portPart = pub.port && pub.port !== (pub.scheme === 'https' ? 443 : 80) ? `:${pub.port}` : ''
  return { config, template, urlFor: pr => `${pub.scheme}://${template.hostFor(pr)}${portPart}/`, typicalWake: 0, wakeStats: new WakeStats(), clients: clientCounts() }
}

/** The callers of one wake: they all get its promise. */
export interface WakeWaiters { promise: Promise<Upstream>, resolve: (u: Upstream) => void, reject: (e: Error) => void }

export function wakeWaiters (): WakeWaiters {
  let resolve!: (u: Upstream) => void
  let reject!: (e: Error) => void
  const promise = new Promise<Upstream>((res, rej) => { resolve = res; reject = rej })
  promise.catch(() => {}) // callers attach their own handlers; no unhandled rejection if none do
  return { promise, resolve, reject }
}

/** Why an env was put to sleep: see Env.sleptBy. */
export type SleepBy = '' | 'operator' | 'schedule' | 'policy'

/** Who asked for a wake: nobody (a warm start), some request, or a page load among them. */
export type ColdBy = false | 'request' | 'navigation'

export interface EnvEvent {
  at: number
  key: string
  type: 'state' | 'phase' | 'info'
  state?: string
  phase?: WakePhase
  /** The finer phase of a wake in progress (placement, pull, start, …): the waking page's step. */
  step?: TimelinePhase
  message: string
  generation?: number
  /** An info event about a wake that was refused (WAKEGATE_AT_CAPACITY): waking pages show it as a failure. */
  code?: ErrorCode
}

export interface Draining {
  upstream: Upstream
  task: TaskRef | undefined
  since: number
  generation: number
}

export type EnvListener = (e: EnvEvent) => void

export class Env {
  readonly key: string
  branch: string
  sha: string
  title: string | undefined
  author: string | undefined
  source: string
  m: MachineState = initialState()
  /** The upstream new requests go to; null unless running. The hot path reads only this. */
  route: Upstream | null = null
  task: TaskRef | undefined
  /** Task of the redeploy waking beside the current one. */
  pendingTask: TaskRef | undefined
  pendingSha = ''
  pendingRoute: Upstream | undefined
  /** SHA the current task runs (env.sha is the one wanted). */
  runningSha = ''
  /** Old generations finishing their requests and streams after a switch. */
  readonly draining = new Set<Draining>()
  phase: WakePhase = 'queued'
  phaseDetail = ''
  wakeStartedAt = 0
  readyAt = 0
  lastWakeMs = 0
  /** Timelines of the recent wakes and redeploys, oldest first (at most WAKES_KEPT). */
  readonly wakes: WakeTimeline[] = []
  /**
   * Set on ready; the next proxied response says it was a cold start. 'navigation': a page
   * load was part of the wake, so the header waits for a document (not a favicon held beside it).
   */
  coldPending: ColdBy = false
  /** readyAt of the wake whose cold-start header this process sent (cluster workers). */
  coldServedFor = 0
  /** Some request asked for the wake in progress ('navigation': a page load among them). */
  wakeByRequest: ColdBy = false
  /** Requests (and upgrades) held while waking. */
  held = 0
  /** Open WebSocket and other long streams. */
  streams = 0
  inflight = 0
  /**
   * Of `inflight`, those that are not activity by being in flight: machines' requests (unfurlers,
   * crawlers, monitors) and event streams (their traffic is judged instead, see streamActiveAt).
   */
  passive = 0
  /** Last human activity (a reviewer's request, or real traffic on an open stream); machines never move it. */
  lastSeen: number
  /** Last real (non-heartbeat) traffic on any open stream of this env: open streams count as activity until streamQuietTimeout after it. */
  streamActiveAt = 0
  /**
   * Who put the env to sleep last: an operator, a schedule or a policy (idle, caps, TTL). Such
   * an env is not woken by a reconnecting WebSocket or event stream, only by a navigation or
   * an API request; '' when it was not put to sleep (never ran, task lost, woken since).
   */
  sleptBy: SleepBy = ''
  /** Until this time (ms) the env is not stopped for idleness (admin keep-awake, a warm-up). 0: none. */
  keepAwakeUntil = 0
  createdAt: number
  wake: WakeWaiters | null = null
  readonly listeners = new Set<EnvListener>()
  readonly recent: EnvEvent[] = []
  meta: Record<string, string | number | boolean> = {}

  constructor (readonly app: AppRuntime, readonly pr: number, init: { branch: string, sha: string, title?: string, author?: string, source: string }) {
    this.key = `${app.config.name}/${pr}`
    this.branch = init.branch
    this.sha = init.sha
    this.title = init.title
    this.author = init.author
    this.source = init.source
    this.lastSeen = this.createdAt = Date.now()
  }

  get state () { return this.m.state }
  get url () { return this.app.urlFor(this.pr) }

  emit (e: Omit<EnvEvent, 'at' | 'key'>): EnvEvent {
    const ev: EnvEvent = { at: Date.now(), key: this.key, ...e }
    this.recent.push(ev)
    if (this.recent.length > 50) this.recent.shift()
    for (const fn of this.listeners) fn(ev)
    return ev
  }
}

/** What the store keeps of an env. */
export function envRecord (env: Env): EnvRecord {
  return {
    key: env.key, app: env.app.config.name, pr: env.pr, branch: env.branch, sha: env.sha, title: env.title, author: env.author,
    state: env.state, generation: env.m.generation, task: env.task, reason: env.m.reason || undefined,
    lastSeen: env.lastSeen, createdAt: env.createdAt, updatedAt: Date.now(), source: env.source,
    // Who put it to sleep rides in meta, so a new leader restoring the record still refuses reconnects.
    meta: env.sleptBy ? { ...env.meta, sleptBy: env.sleptBy } : env.meta
  }
}

/**
 * What a request to a failed env inside its backoff is answered with: WAKEGATE_ENV_FAILED,
 * the failure's own code as its cause, its reason, and the seconds until a request may retry.
 */
export function backoffError (env: Env, now = Date.now()): WakegateError {
  const left = env.app.config.failureBackoff - (now - env.m.failedAt)
  return new WakegateError('WAKEGATE_ENV_FAILED', env.m.reason || undefined, { causeCode: env.m.code || undefined, retryAfter: Math.max(1, Math.ceil(left / 1000)) })
}
