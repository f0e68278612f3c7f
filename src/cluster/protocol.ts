// Messages between the primary (which owns the lifecycle: EnvManager, backends, store,
// admin, webhooks) and the worker processes that serve the public listener.
//
// Workers keep a mirror of every env (state, phase, route endpoint + generation) that the
// primary pushes on every change; the hot path reads only that mirror. Wakes, task-lost and
// control actions go to the primary; workers report activity (in-flight requests, open
// streams, last seen, per generation) so idle stops and drains see the whole gateway.
import type { ResolvedConfig } from '../config/load.js'
import type { ColdBy, Env, EnvEvent, SleepBy } from '../lifecycle/env.js'
import type { MachineState, WakePhase } from '../lifecycle/machine.js'
import type { ErrorInfo } from '../errors.js'
import type { EnvRecord } from '../stores/store.js'
import type { StatPhase } from '../lifecycle/wake-stats.js'
import type { GatewayCounters } from '../proxy/gateway.js'

export interface RouteInfo { host: string, port: number, generation: number }

/** Everything a worker needs to know about one env: its identity as stored, and its live state. */
export interface EnvSnapshot extends Pick<EnvRecord, 'key' | 'app' | 'pr' | 'branch' | 'sha' | 'title' | 'author' | 'source'> {
  m: MachineState
  phase: WakePhase
  phaseDetail: string
  lastWakeMs: number
  typicalWake: number
  /** Median time per wake phase of this env's app (the waking page's steps). */
  typicalPhases: Partial<Record<StatPhase, number>>
  /** When the current route became ready: names the wake coldPending belongs to. */
  readyAt: number
  /** Where new requests go, or null unless running. */
  route: RouteInfo | null
  /** The next response (a document's, for 'navigation') is the first after a wake a request asked for. */
  coldPending: ColdBy
  /** Who put it to sleep: peers refuse reconnects at their edge, without asking for a wake. */
  sleptBy: SleepBy
}

export function snapshot (env: Env): EnvSnapshot {
  const r = env.route
  return {
    key: env.key,
    app: env.app.config.name,
    pr: env.pr,
    branch: env.branch,
    sha: env.sha,
    title: env.title,
    author: env.author,
    source: env.source,
    m: env.m,
    phase: env.phase,
    phaseDetail: env.phaseDetail,
    lastWakeMs: env.lastWakeMs,
    typicalWake: env.app.typicalWake,
    typicalPhases: env.app.wakeStats.typicals(),
    readyAt: env.readyAt,
    route: r ? { host: r.host, port: r.port, generation: r.generation } : null,
    coldPending: env.coldPending,
    sleptBy: env.sleptBy
  }
}

/**
 * Per env: [key, lastSeen, inflight, streams, [[generation, inflight, streams], …], streamActiveAt, passive]
 * (passive: of inflight, machines' requests and event streams, which are not activity by being in flight).
 */
export type ActivityEntry = [string, number, number, number, Array<[number, number, number]>, number, number]

/** Per app, counted since the last report: [app, human requests, machine requests, reconnects refused while asleep]. */
export type ClientEntry = [string, number, number, number]

export type ToWorker =
  | { t: 'init', config: ResolvedConfig, fallback: { host: string, port: number }, hasResolver: boolean, seq: number, envs: EnvSnapshot[] }
  | { t: 'env', seq: number, s: EnvSnapshot }
  | { t: 'event', e: EnvEvent }
  | { t: 'drain-timeout', key: string, generation: number }
  | { t: 'reply', id: number, ok: true, env: EnvSnapshot | null }
  /** The error keeps its code (and cause, Retry-After) across the process boundary. */
  | { t: 'reply', id: number, ok: false, error: ErrorInfo }
  | { t: 'shutdown' }

export type ToPrimary =
  | { t: 'hello' }
  /** `certExpiry`: when the worker's TLS certificate expires (ms since the epoch), under listen.tls. */
  | { t: 'ready', port: number, address: string, certExpiry?: number }
  /** The worker took a renewed TLS certificate into use. */
  | { t: 'tls', certExpiry: number }
  | { t: 'wake', id: number, app: string, pr: number, cause: string, byRequest: boolean | 'navigation' }
  | { t: 'resolve', id: number, app: string, pr: number }
  | { t: 'task-lost', key: string, generation: number, reason: string }
  | { t: 'check-task', key: string, generation: number }
  /** This worker sent the cold-start header of the wake that became ready at readyAt. */
  | { t: 'cold-served', key: string, readyAt: number }
  | { t: 'control', op: 'sleep' | 'destroy' | 'redeploy' | 'forget', key: string, cause?: string, sha?: string }
  /** `seq`: the last primary update this worker applied (drains wait for it). */
  | { t: 'activity', seq: number, envs: ActivityEntry[], counters: Partial<GatewayCounters>, tunnels: number, held: number, clients?: ClientEntry[] }
