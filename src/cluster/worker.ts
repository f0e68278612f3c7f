// A worker process of `--workers N`: serves the shared public listener with its own
// Gateway (hot path unchanged, no IPC per request) over a mirror of the primary's envs.
// Cold requests ask the primary to wake (one start, whichever worker asked); non-env hosts
// (webhooks, 404 pages) are passed to the primary's internal listener.
import { request as httpRequest, Agent, type IncomingMessage, type ServerResponse, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import type { Backend, TaskRef } from '../backends/backend.js'
import { EnvManager } from '../lifecycle/manager.js'
import { Env, wakeWaiters, type EnvEvent } from '../lifecycle/env.js'
import { MemoryStore } from '../stores/memory.js'
import { Gateway, type GatewayCounters } from '../proxy/gateway.js'
import { closePublicServer, createPublicServer } from '../proxy/listener.js'
import { Upstream } from '../proxy/upstream.js'
import { HOP, forwardRequestHeaders } from '../proxy/headers.js'
import { WakegateError } from '../errors.js'
import { createLogger } from '../log.js'
import type { ActivityEntry, EnvSnapshot, ToPrimary, ToWorker } from './protocol.js'

type Send = (msg: ToPrimary) => void
type Reply = Extract<ToWorker, { t: 'reply' }>

/** Workers start nothing themselves: the primary's backends do. */
class PrimaryOwnsTasks implements Backend {
  readonly kind = 'primary'
  private no (): never { throw new Error('tasks are started by the primary process') }
  async start (): Promise<TaskRef> { this.no() }
  async describe (): Promise<never> { this.no() }
  async stop (): Promise<void> {}
  async list (): Promise<TaskRef[]> { return [] }
  async close (): Promise<void> {}
}

/**
 * The worker's EnvManager: the same envs and routes the Gateway reads, kept in step with the
 * primary. Lifecycle actions are requests to the primary; its reaper tick reports activity.
 */
export class WorkerManager extends EnvManager {
  /** Last primary update applied (activity reports carry it). */
  seq = 0
  private nextId = 0
  private readonly pending = new Map<number, (r: Reply) => void>()
  /** Envs with a route, draining generations or traffic: what activity reports cover. */
  private readonly tracked = new Set<Env>()
  private lastCounters: GatewayCounters | null = null
  private stopped = false
  gateway: Gateway | undefined
  hasResolver = false

  constructor (private readonly cfg: ResolvedConfig, log: Logger, private readonly send: Send) {
    super({
      config: cfg,
      backends: new Map(cfg.apps.map(a => [a.name, new PrimaryOwnsTasks()])),
      store: new MemoryStore(),
      log,
      // Activity reports: often enough for idle timeouts and drains, cheap either way.
      reapInterval: Math.max(50, Math.min(1000, Math.min(...cfg.apps.map(a => a.idleTimeout)) / 4))
    })
  }

  private request (msg: { t: 'wake' | 'resolve' } & Record<string, unknown>): Promise<Reply> {
    const id = ++this.nextId
    return new Promise(resolve => {
      this.pending.set(id, resolve)
      this.send({ ...msg, id } as ToPrimary)
    })
  }

  reply (r: Reply): void {
    const fn = this.pending.get(r.id)
    if (fn) { this.pending.delete(r.id); fn(r) }
  }

  /** Applies the primary's view of an env; creates the mirror env when new. */
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
    env.readyAt = s.readyAt
    // One cold-start header per wake across workers: not again once this worker sent it,
    // and not once the primary says another did.
    env.coldPending = env.coldServedFor !== s.readyAt ? s.coldPending : false
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
        // A redeploy switched generations: the old one drains here as in the primary.
        env.draining.add({ upstream: cur, task: undefined, since: Date.now(), generation: cur.generation })
        void cur.close()
      }
      this.tracked.add(env)
    }
    return env
  }

  /** An env event from the primary, for waking pages following this env. */
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

  override wake (env: Env, cause: string, byRequest: boolean | 'navigation' = false): Promise<Upstream> {
    if (env.route && env.state === 'running') return Promise.resolve(env.route)
    if (this.stopped) return Promise.reject(new WakegateError('WAKEGATE_SHUTTING_DOWN'))
    if (env.state === 'destroyed') return Promise.reject(new WakegateError('WAKEGATE_ENV_DESTROYED'))
    if (env.wake) return env.wake.promise
    const w = wakeWaiters()
    env.wake = w
    this.request({ t: 'wake', app: env.app.config.name, pr: env.pr, cause, byRequest }).then(r => {
      if (env.wake === w) env.wake = null
      if (!r.ok) { w.reject(WakegateError.from(r.error)); return }
      if (r.env) this.applySnapshot(r.env)
      if (env.route) w.resolve(env.route)
      else w.reject(new WakegateError('WAKEGATE_BACKEND_FAILED', `env is ${env.state}`))
    })
    return w.promise
  }

  override resolveUnknown (app: string, pr: number): Promise<Env | undefined> {
    const known = this.envs.get(`${app}/${pr}`)
    if (known) return Promise.resolve(known)
    return this.request({ t: 'resolve', app, pr }).then(r => {
      if (!r.ok) throw WakegateError.from(r.error)
      return r.env ? this.applySnapshot(r.env) : undefined
    })
  }

  override taskLost (env: Env, upstream: Upstream, reason: string): void {
    if (env.route !== upstream) return
    // Stop sending here at once; the primary re-wakes (once, whichever worker noticed).
    env.route = null
    env.m = { ...env.m, state: 'waking' }
    void upstream.close()
    this.send({ t: 'task-lost', key: env.key, generation: upstream.generation, reason })
  }

  override checkTask (env: Env, upstream: Upstream): void {
    this.send({ t: 'check-task', key: env.key, generation: upstream.generation })
  }

  override sleep (env: Env, cause: string): void { this.send({ t: 'control', op: 'sleep', key: env.key, cause }) }
  override destroy (env: Env): void { this.send({ t: 'control', op: 'destroy', key: env.key }) }
  override forget (env: Env): void { this.send({ t: 'control', op: 'forget', key: env.key }) }
  override redeploy (env: Env, sha: string | undefined, cause: string): void { this.send({ t: 'control', op: 'redeploy', key: env.key, sha, cause }) }
  override adopt (): boolean { return false }
  override taskGone (): void {}

  override coldServed (env: Env): void {
    env.coldPending = false
    env.coldServedFor = env.readyAt
    this.send({ t: 'cold-served', key: env.key, readyAt: env.readyAt })
  }

  /** The reaper tick of a worker: report activity to the primary. */
  override reap (): void {
    if (this.stopped) return
    const envs: ActivityEntry[] = []
    for (const env of this.tracked) {
      const gens: Array<[number, number, number]> = []
      if (env.route) gens.push([env.route.generation, env.route.inflight, env.route.streams])
      for (const d of env.draining) {
        gens.push([d.generation, d.upstream.inflight, d.upstream.streams])
        if (d.upstream.inflight === 0 && d.upstream.streams === 0) env.draining.delete(d)
      }
      envs.push([env.key, env.lastSeen, env.inflight, env.streams, gens])
      if (env.route === null && env.draining.size === 0 && env.inflight === 0 && env.streams === 0) this.tracked.delete(env)
    }
    const gw = this.gateway
    this.send({ t: 'activity', seq: this.seq, envs, counters: this.counterDeltas(), tunnels: gw ? gw.upgrades.tunnels.size : 0, held: gw ? gw.holding : 0 })
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

  override async close (): Promise<void> {
    this.stopped = true
    await super.close() // fails waiters, closes the pools
  }
}

/** Requests for non-env hosts go to the primary, which serves webhooks and gateway pages. */
function passToPrimary (target: { host: string, port: number }, gateway: () => Gateway): (req: IncomingMessage, res: ServerResponse) => void {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  return (req, res) => {
    const sock = req.socket
    const headers = forwardRequestHeaders(req.rawHeaders, {
      remoteAddress: sock.remoteAddress ?? '',
      proto: (sock as { encrypted?: boolean }).encrypted ? 'https' : 'http',
      host: req.headers.host ?? '',
      append: false
    })
    const up = httpRequest({ host: target.host, port: target.port, method: req.method, path: req.url, headers, agent }, ur => {
      const out: string[] = []
      const raw = ur.rawHeaders
      for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1])
      res.writeHead(ur.statusCode ?? 502, ur.statusMessage, out)
      ur.pipe(res)
    })
    up.on('error', () => gateway().sendError(res, 'WAKEGATE_UPSTREAM_RESET', 'primary process unreachable'))
    res.on('close', () => { if (!res.writableFinished) up.destroy() })
    req.pipe(up)
  }
}

/** Runs this process as a worker until the primary says to stop (or goes away). */
export async function runWorker (): Promise<void> {
  const send: Send = msg => { if (process.connected) process.send!(msg) }
  const init = await new Promise<Extract<ToWorker, { t: 'init' }>>(resolve => {
    // The primary answers 'hello' with 'init' before anything else.
    const onMessage = (msg: ToWorker) => {
      if (msg.t === 'init') { process.removeListener('message', onMessage); resolve(msg) }
    }
    process.on('message', onMessage)
    send({ t: 'hello' })
  })
  const config = init.config
  const log = createLogger(config.log.level).child({ worker: process.pid })
  const manager = new WorkerManager(config, log, send)
  manager.hasResolver = init.hasResolver
  if (init.hasResolver) manager.prResolver = async () => null // stands for the primary's; resolveUnknown asks it
  for (const s of init.envs) manager.applySnapshot(s)
  manager.seq = init.seq

  const gateway: Gateway = new Gateway(config, manager, log, passToPrimary(init.fallback, () => gateway))
  manager.gateway = gateway
  const { server, connections } = createPublicServer(config.proxy, gateway)

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    gateway.shuttingDown = true
    await shutdownWorker(server, manager, gateway, connections, config.proxy.shutdownGrace)
    process.exit(0)
  }
  process.on('message', (msg: ToWorker) => {
    switch (msg.t) {
      case 'env': manager.seq = msg.seq; manager.applySnapshot(msg.s); break
      case 'event': manager.event(msg.e); break
      case 'reply': manager.reply(msg); break
      case 'drain-timeout': manager.drainTimeout(msg.key, msg.generation); break
      case 'shutdown': void stop(); break
    }
  })
  process.on('disconnect', () => { void stop() })
  process.on('SIGTERM', () => { void stop() }) // the primary signals the group; it also says 'shutdown'
  process.on('SIGINT', () => {})

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.listen.port, config.listen.host, () => resolve())
  })
  const a = server.address()
  if (a && typeof a === 'object') send({ t: 'ready', port: a.port, address: a.address })
}

/** The public listener closes as in a single process; then the last activity report. */
async function shutdownWorker (server: Server, manager: WorkerManager, gateway: Gateway, connections: Set<Socket>, grace: number): Promise<void> {
  await closePublicServer({ server, connections }, gateway, grace)
  manager.reap() // last activity report
  await manager.close()
}

