// A mirror of the lifecycle owner's envs: the EnvDirectory of a process that proxies but does
// not own the lifecycle (a cluster worker, a replica that is not the leader). The owner pushes
// every change of an env (state, phase, route); the hot path reads only this mirror. Wakes,
// PR lookups, task-lost and control actions are messages to the owner; activity (in-flight
// requests, open streams, last seen, per generation) is reported in batches, so idle stops
// and drains see every process's traffic.
import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import { Env, appRuntime, wakeWaiters, type AppRuntime, type EnvEvent } from '../lifecycle/env.js'
import type { EnvDirectory } from '../lifecycle/directory.js'
import { shortestIdleTimeout } from '../lifecycle/idle.js'
import { Upstream, upstreamOptions, type UpstreamOptions } from '../proxy/upstream.js'
import type { GatewayCounters } from '../proxy/gateway.js'
import { WakegateError } from '../errors.js'
import type { ActivityEntry, ClientEntry, EnvSnapshot, ToPrimary, ToWorker } from './protocol.js'

export type Send = (msg: ToPrimary) => void
type Reply = Extract<ToWorker, { t: 'reply' }>
type Ask = { t: 'wake', app: string, pr: number, cause: string, byRequest: boolean | 'navigation' } | { t: 'resolve', app: string, pr: number }

/** What activity reports add about the process's proxy (the Gateway, once it exists). */
export interface MirrorGateway { counters: GatewayCounters, holding: number, upgrades: { tunnels: { size: number } } }

export class MirrorDirectory extends EventEmitter implements EnvDirectory {
  readonly apps = new Map<string, AppRuntime>()
  readonly envs = new Map<string, Env>()
  /** Last owner update applied (activity reports carry it; drains wait for it). */
  seq = 0
  /** Set when the owner has a PR resolver; resolveUnknown asks the owner. */
  prResolver: true | undefined
  gateway: MirrorGateway | undefined
  /** See EnvDirectory.relay: set by a replica, which knows when the leader can only be reached directly. */
  relay: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined
  private readonly upstreamOptions: UpstreamOptions
  private nextId = 0
  /** Questions to the owner not answered yet, kept so they can be asked again of a new owner. */
  private readonly pending = new Map<number, { ask: Ask, done: (r: Reply) => void }>()
  /** Envs with a route, draining generations or traffic: what activity reports cover. */
  private readonly tracked = new Set<Env>()
  private lastCounters: GatewayCounters | null = null
  /** Per app, the client counts at the last report (reports carry what was added since). */
  private readonly lastClients = new Map<string, [number, number, number]>()
  private stopped = false

  constructor (config: ResolvedConfig, private readonly log: Logger, private readonly send: Send) {
    super()
    this.setMaxListeners(0)
    this.upstreamOptions = upstreamOptions(config.proxy)
    for (const app of config.apps) this.apps.set(app.name, appRuntime(app, config.public))
  }

  /** The owner's full state (a new owner, or the first contact): envs it does not know lose their routes. */
  init (seq: number, envs: EnvSnapshot[], hasResolver: boolean): void {
    this.prResolver = hasResolver ? true : undefined
    const known = new Set<string>()
    for (const s of envs) { this.applySnapshot(s); known.add(s.key) }
    for (const env of this.envs.values()) {
      if (known.has(env.key) || env.route === null) continue
      const r = env.route
      env.route = null
      env.m = { ...env.m, state: 'asleep' }
      void r.close()
    }
    this.seq = seq
    // Whatever the previous owner left unanswered is asked again.
    for (const [id, p] of this.pending) this.send({ ...p.ask, id } as ToPrimary)
  }

  lookup (app: string, pr: number): Env | undefined {
    const env = this.envs.get(`${app}/${pr}`)
    if (env) return env
    const rt = this.apps.get(app)
    if (!rt?.config.anyPr) return undefined
    const created = new Env(rt, pr, { branch: 'main', sha: '0000000', source: 'any-pr' })
    this.envs.set(created.key, created)
    return created
  }

  private ask (ask: Ask): Promise<Reply> {
    const id = ++this.nextId
    return new Promise(resolve => {
      this.pending.set(id, { ask, done: resolve })
      this.send({ ...ask, id } as ToPrimary)
    })
  }

  reply (r: Reply): void {
    const p = this.pending.get(r.id)
    if (p) { this.pending.delete(r.id); p.done(r) }
  }


  /** Applies the owner's view of an env; creates the mirror env when new. */
  applySnapshot (s: EnvSnapshot): Env | undefined {
    let env = this.envs.get(s.key)
    if (env === undefined) {
      const rt = this.apps.get(s.app)
      if (rt === undefined) return undefined
      env = new Env(rt, s.pr, { branch: s.branch, sha: s.sha, title: s.title, author: s.author, source: s.source })
      this.envs.set(env.key, env)
    }
    env.branch = s.branch
    env.sha = s.sha
    env.title = s.title
    env.author = s.author
    env.m = s.m
    env.phase = s.phase
    env.phaseDetail = s.phaseDetail
    env.lastWakeMs = s.lastWakeMs
    env.app.typicalWake = s.typicalWake
    if (s.typicalPhases) env.app.wakeStats.useTypicals(s.typicalPhases)
    env.readyAt = s.readyAt
    // One cold-start header per wake across processes: not again once this one sent it,
    // and not once the owner says another did.
    env.coldPending = env.coldServedFor !== s.readyAt ? s.coldPending : false
    env.sleptBy = s.sleptBy ?? ''
    const cur = env.route
    const next = s.route
    if (next === null) {
      if (cur !== null) {
        // Dropped (idle, sleep, task lost): in-flight requests finish on the old pool.
        env.route = null
        void cur.close()
      }
    } else if (cur === null || cur.generation !== next.generation || cur.port !== next.port || cur.host !== next.host) {
      env.route = new Upstream(next.host, next.port, next.generation, this.upstreamOptions)
      if (cur !== null) {
        // A redeploy switched generations: the old one drains here as at the owner.
        env.draining.add({ upstream: cur, task: undefined, since: Date.now(), generation: cur.generation })
        void cur.close()
      }
      this.tracked.add(env)
    }
    if (env.route && env.wake) {
      // The route arrived before (or instead of) the answer to this process's wake.
      const w = env.wake
      env.wake = null
      w.resolve(env.route)
    }
    return env
  }

  /** An env event from the owner, for waking pages following this env. */
  event (e: EnvEvent): void {
    const env = this.envs.get(e.key)
    if (env === undefined) return
    env.recent.push(e)
    if (env.recent.length > 50) env.recent.shift()
    for (const fn of env.listeners) fn(e)
  }

  drainTimeout (key: string, generation: number): void {
    const env = this.envs.get(key)
    if (env === undefined) return
    for (const d of env.draining) if (d.generation === generation) this.emit('drain-timeout', env, d.upstream)
  }

  wake (env: Env, cause: string, byRequest: boolean | 'navigation' = false): Promise<Upstream> {
    if (env.route && env.state === 'running') return Promise.resolve(env.route)
    if (this.stopped) return Promise.reject(new WakegateError('WAKEGATE_SHUTTING_DOWN'))
    if (env.state === 'destroyed') return Promise.reject(new WakegateError('WAKEGATE_ENV_DESTROYED'))
    if (env.wake) return env.wake.promise
    // A page load or an API call asks (the owner clears it too): this process's reconnects may come in now.
    env.sleptBy = ''
    const w = wakeWaiters()
    env.wake = w
    this.ask({ t: 'wake', app: env.app.config.name, pr: env.pr, cause, byRequest }).then(r => {
      if (env.wake === w) env.wake = null
      if (!r.ok) { w.reject(WakegateError.from(r.error)); return }
      if (r.env) this.applySnapshot(r.env)
      if (env.route) w.resolve(env.route)
      else w.reject(new WakegateError('WAKEGATE_BACKEND_FAILED', `env is ${env.state}`))
    })
    return w.promise
  }

  resolveUnknown (app: string, pr: number): Promise<Env | undefined> {
    const known = this.envs.get(`${app}/${pr}`)
    if (known) return Promise.resolve(known)
    return this.ask({ t: 'resolve', app, pr }).then(r => {
      if (!r.ok) throw WakegateError.from(r.error)
      return r.env ? this.applySnapshot(r.env) : undefined
    })
  }

  taskLost (env: Env, upstream: Upstream, reason: string): void {
    if (env.route !== upstream) return
    // Stop sending here at once; the owner re-wakes (once, whichever process noticed).
    env.route = null
    env.m = { ...env.m, state: 'waking' }
    void upstream.close()
    this.send({ t: 'task-lost', key: env.key, generation: upstream.generation, reason })
  }

  checkTask (env: Env, upstream: Upstream): void {
    this.send({ t: 'check-task', key: env.key, generation: upstream.generation })
  }

  coldServed (env: Env): void {
    env.coldPending = false
    env.coldServedFor = env.readyAt
    this.send({ t: 'cold-served', key: env.key, readyAt: env.readyAt })
  }

  /** Activity report to the owner: in-flight requests, streams and last seen per env and generation. */
  report (): void {
    if (this.stopped) return
    const envs: ActivityEntry[] = []
    for (const env of this.tracked) {
      const gens: Array<[number, number, number]> = []
      if (env.route) gens.push([env.route.generation, env.route.inflight, env.route.streams])
      for (const d of env.draining) {
        gens.push([d.generation, d.upstream.inflight, d.upstream.streams])
        if (d.upstream.inflight === 0 && d.upstream.streams === 0) env.draining.delete(d)
      }
      envs.push([env.key, env.lastSeen, env.inflight, env.streams, gens, env.streamActiveAt, env.passive])
      if (env.route === null && env.draining.size === 0 && env.inflight === 0 && env.streams === 0) this.tracked.delete(env)
    }
    const gw = this.gateway
    this.send({ t: 'activity', seq: this.seq, envs, counters: this.counterDeltas(), tunnels: gw ? gw.upgrades.tunnels.size : 0, held: gw ? gw.holding : 0, clients: this.clientDeltas() })
  }

  /** Requests by client kind (and reconnects refused) per app since the last report. */
  private clientDeltas (): ClientEntry[] {
    const out: ClientEntry[] = []
    for (const [name, rt] of this.apps) {
      const c = rt.clients
      const last = this.lastClients.get(name) ?? [0, 0, 0]
      if (c.human === last[0] && c.machine === last[1] && c.asleepRefused === last[2]) continue
      out.push([name, c.human - last[0], c.machine - last[1], c.asleepRefused - last[2]])
      this.lastClients.set(name, [c.human, c.machine, c.asleepRefused])
    }
    return out
  }

  private counterDeltas (): Partial<GatewayCounters> {
    const gw = this.gateway
    if (!gw) return {}
    const now = { ...gw.counters }
    const last = this.lastCounters
    this.lastCounters = now
    if (!last) return now
    const out: Partial<GatewayCounters> = {}
    for (const k of Object.keys(now) as Array<keyof GatewayCounters>) if (now[k] !== last[k]) out[k] = now[k] - last[k]
    return out
  }

  /** Fails waiters and questions, closes the pools (in-flight requests finish). */
  close (): void {
    this.stopped = true
    // Questions in flight are answered here: this process will not wait for the owner.
    for (const [id, p] of this.pending) {
      this.pending.delete(id)
      p.done({ t: 'reply', id, ok: false, error: { code: 'WAKEGATE_SHUTTING_DOWN' } })
    }
    for (const env of this.envs.values()) {
      const w = env.wake
      env.wake = null
      if (w) w.reject(new WakegateError('WAKEGATE_SHUTTING_DOWN'))
      if (env.route) void env.route.close()
    }
    this.log.debug('mirror closed')
  }
}

/** Report interval: often enough for idle timeouts and drains, cheap either way. */
export function reportInterval (config: ResolvedConfig): number {
  return Math.max(50, Math.min(1000, Math.min(...config.apps.map(shortestIdleTimeout)) / 4))
}
