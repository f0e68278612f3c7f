// `wakegate serve --workers N` (or `workers: N`): N worker processes share the public
// listener (node:cluster); this primary process owns the lifecycle.
//
// Why this shape: a wake must start exactly one task however many processes see the cold
// requests, and the in-memory store gives no cross-process lock. So one process keeps the
// EnvManager, backends, store, reconcile, admin listener and webhooks (a full gateway on an
// internal loopback listener, which also serves the pages and webhooks workers pass on), and
// the workers, which do the proxying, hold a mirror of its envs. A worker asks the primary
// to wake an env and gets back the route (endpoint + generation); every change of an env
// (state, phase, route switch or drop) is pushed to all workers; workers report in-flight
// requests, open streams and last-seen times per generation, so idle stops and drains see
// the traffic of every worker. The hot path in a worker makes no IPC call.
import cluster, { type Worker } from 'node:cluster'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ResolvedConfig } from '../config/load.js'
import { createWakegate, type Wakegate, type WakegateOptions } from '../server.js'
import type { EnvManager } from '../lifecycle/manager.js'
import type { Env, EnvEvent } from '../lifecycle/env.js'
import type { Upstream } from '../proxy/upstream.js'
import type { GatewayCounters } from '../proxy/gateway.js'
import { MemoryStore } from '../stores/memory.js'
import type { Store } from '../stores/store.js'
import { errorInfo } from '../errors.js'
import { snapshot, type ActivityEntry, type ToPrimary, type ToWorker } from './protocol.js'

export interface ClusterOptions extends WakegateOptions {
  workers: number
}

export interface Cluster {
  /** The primary's gateway (internal listener, admin, lifecycle). */
  wg: Wakegate
  manager: EnvManager
  /** http://host:port of the shared public listener. */
  url: string
  /** Requests each live worker reported, by worker id (for tests and the benchmark). */
  workerRequests (): Map<number, number>
  close (): Promise<void>
}

interface Activity { lastSeen: number, inflight: number, streams: number, gens: Array<[number, number, number]> }

interface WorkerState {
  worker: Worker
  ready: boolean
  /** Last primary update this worker confirmed having applied. */
  ackSeq: number
  activity: Map<string, Activity>
  requests: number
  /** Open WebSocket tunnels and held requests at its last report. */
  tunnels: number
  held: number
}

/** Path of the worker entry next to this module (.ts under tsx, .js in dist). */
function workerEntry (): string {
  const here = fileURLToPath(import.meta.url)
  return join(dirname(here), `worker-main${extname(here)}`)
}

/** Marks an env for a push to the workers whenever the manager persists it. */
function notifyingStore (inner: Store, dirty: (key: string) => void): Store {
  return new Proxy(inner, {
    get (target, prop, receiver) {
      if (prop === 'put') return (...args: Parameters<Store['put']>) => { dirty(args[0].key); return target.put(...args) }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
}

export async function startCluster (config: ResolvedConfig, opts: ClusterOptions): Promise<Cluster> {
  if (!cluster.isPrimary) throw new Error('startCluster runs in the primary process')
  // Updates before the hub exists are covered by the full state new workers get.
  const ref: { hub?: Hub } = {}
  const store = notifyingStore(opts.store ?? new MemoryStore(), key => ref.hub?.dirty(key))
  // The primary's own listener is internal: workers pass it what is not an env host.
  const internal: ResolvedConfig = { ...config, listen: { host: '127.0.0.1', port: 0 } }
  const wg = await createWakegate(internal, { ...opts, store })
  await wg.listen()
  const hub = ref.hub = new Hub(wg, config, Math.max(1, Math.floor(opts.workers)))
  const url = await hub.start()
  return {
    wg,
    manager: wg.manager,
    url,
    workerRequests: () => new Map([...hub.workers].map(([id, w]) => [id, w.requests])),
    close: () => hub.close()
  }
}

class Hub {
  readonly workers = new Map<number, WorkerState>()
  private seq = 0
  private readonly dirtyKeys = new Set<string>()
  /** Env events waiting for the next flush: they go out after the snapshots they describe. */
  private readonly events: EnvEvent[] = []
  private flushing = false
  /** Route generation last pushed per env, to notice switches. */
  private readonly pushedGen = new Map<string, number | null>()
  /** Update that told workers about an env's last switch; drains wait for every worker to confirm it. */
  private readonly switchSeq = new Map<string, number>()
  private closing = false
  private restarts: number[] = []
  private readonly manager: EnvManager
  private readonly fallback: { host: string, port: number }
  private onReady: (() => void) | undefined
  private publicUrl = ''

  constructor (private readonly wg: Wakegate, private readonly config: ResolvedConfig, private readonly count: number) {
    this.manager = wg.manager
    const u = new URL(wg.url)
    this.fallback = { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) }
    this.manager.on('event', (e: EnvEvent) => {
      this.events.push(e)
      this.dirty(e.key)
    })
    this.manager.on('switched', (env: Env) => this.dirty(env.key))
    this.manager.on('drain-timeout', (env: Env, upstream: Upstream) => this.broadcast({ t: 'drain-timeout', key: env.key, generation: upstream.generation }))
  }

  async start (): Promise<string> {
    cluster.setupPrimary({ exec: workerEntry(), args: [] })
    const ready = new Promise<void>(resolve => { this.onReady = resolve })
    for (let i = 0; i < this.count; i++) this.fork()
    await ready
    return this.publicUrl
  }

  private fork (): void {
    const worker = cluster.fork()
    const state: WorkerState = { worker, ready: false, ackSeq: 0, activity: new Map(), requests: 0, tunnels: 0, held: 0 }
    this.workers.set(worker.id, state)
    worker.on('message', (msg: ToPrimary) => this.onMessage(state, msg))
    worker.on('exit', (code, signal) => this.onExit(state, code, signal))
  }

  private send (w: WorkerState, msg: ToWorker): void {
    if (w.worker.isConnected()) w.worker.send(msg)
  }

  private broadcast (msg: ToWorker): void {
    for (const w of this.workers.values()) if (w.ready || msg.t !== 'event') this.send(w, msg)
  }

  dirty (key: string): void {
    this.dirtyKeys.add(key)
    if (this.flushing) return
    this.flushing = true
    // After the transition's effects (routes are set or dropped after its event).
    queueMicrotask(() => this.flush())
  }

  private flush (): void {
    this.flushing = false
    const switched: string[] = []
    for (const key of this.dirtyKeys) {
      const env = this.manager.envs.get(key)
      if (env === undefined) continue
      const s = snapshot(env)
      const seq = ++this.seq
      const gen = s.route ? s.route.generation : null
      const before = this.pushedGen.get(key)
      if (before !== undefined && before !== null && gen !== null && before !== gen) {
        this.switchSeq.set(key, seq)
        switched.push(key)
      }
      this.pushedGen.set(key, gen)
      this.broadcast({ t: 'env', seq, s })
    }
    this.dirtyKeys.clear()
    // After the snapshots: a worker that tells a waking page `failed` (or `ready`) already
    // mirrors the env's reason (or route).
    for (const e of this.events.splice(0)) this.broadcast({ t: 'event', e })
    for (const key of switched) this.recompute(key)
  }

  private onMessage (w: WorkerState, msg: ToPrimary): void {
    const m = this.manager
    switch (msg.t) {
      case 'hello': {
        // Everything a new worker needs, before any incremental update.
        for (const env of m.envs.values()) if (!this.pushedGen.has(env.key)) this.pushedGen.set(env.key, env.route ? env.route.generation : null)
        this.send(w, {
          t: 'init',
          config: this.config,
          fallback: this.fallback,
          hasResolver: m.prResolver !== undefined,
          seq: this.seq,
          envs: [...m.envs.values()].map(snapshot)
        })
        w.ackSeq = this.seq
        break
      }
      case 'ready':
        w.ready = true
        if (!this.publicUrl) this.publicUrl = `http://${msg.address.includes(':') ? `[${msg.address}]` : msg.address}:${msg.port}`
        if ([...this.workers.values()].every(x => x.ready)) this.onReady?.()
        break
      case 'wake': {
        const env = m.envs.get(`${msg.app}/${msg.pr}`) ?? m.lookup(msg.app, msg.pr)
        if (env === undefined) { this.send(w, { t: 'reply', id: msg.id, ok: false, error: { code: 'WAKEGATE_UNKNOWN_PR' } }); break }
        m.wake(env, msg.cause, msg.byRequest).then(
          () => this.send(w, { t: 'reply', id: msg.id, ok: true, env: snapshot(env) }),
          err => this.send(w, { t: 'reply', id: msg.id, ok: false, error: errorInfo(err) }))
        break
      }
      case 'resolve':
        m.resolveUnknown(msg.app, msg.pr).then(
          env => this.send(w, { t: 'reply', id: msg.id, ok: true, env: env ? snapshot(env) : null }),
          err => this.send(w, { t: 'reply', id: msg.id, ok: false, error: errorInfo(err, 'WAKEGATE_PR_LOOKUP_FAILED') }))
        break
      case 'task-lost': {
        const env = m.envs.get(msg.key)
        if (env?.route && env.route.generation === msg.generation) m.taskLost(env, env.route, msg.reason)
        else if (env) this.dirty(env.key) // that worker is behind: tell it the current route again
        break
      }
      case 'check-task': {
        const env = m.envs.get(msg.key)
        if (env?.route && env.route.generation === msg.generation) m.checkTask(env, env.route)
        break
      }
      case 'cold-served': {
        const env = m.envs.get(msg.key)
        if (env?.coldPending && env.readyAt === msg.readyAt) {
          env.coldPending = false
          this.dirty(env.key)
        }
        break
      }
      case 'control': {
        const env = m.envs.get(msg.key)
        if (env === undefined) break
        if (msg.op === 'sleep') m.sleep(env, msg.cause ?? 'worker')
        else if (msg.op === 'destroy') m.destroy(env)
        else if (msg.op === 'forget') m.forget(env)
        else m.redeploy(env, msg.sha, msg.cause ?? 'worker')
        break
      }
      case 'activity': {
        w.ackSeq = msg.seq
        const changed = new Set<string>(w.activity.keys())
        w.activity.clear()
        for (const [key, lastSeen, inflight, streams, gens] of msg.envs as ActivityEntry[]) {
          w.activity.set(key, { lastSeen, inflight, streams, gens })
          changed.add(key)
        }
        for (const key of this.switchSeq.keys()) changed.add(key)
        for (const key of changed) this.recompute(key)
        this.addCounters(w, msg.counters)
        w.tunnels = msg.tunnels
        w.held = msg.held
        this.sumRemote()
        break
      }
    }
  }

  /** Totals of every worker's activity onto the primary's env and its upstreams. */
  private recompute (key: string): void {
    const env = this.manager.envs.get(key)
    if (env === undefined) return
    let inflight = 0
    let streams = 0
    let lastSeen = env.lastSeen
    const gens = new Map<number, [number, number]>()
    const since = this.switchSeq.get(key)
    let behind = 0
    for (const w of this.workers.values()) {
      if (since !== undefined && w.ackSeq < since && w.worker.isConnected()) behind++
      const a = w.activity.get(key)
      if (a === undefined) continue
      inflight += a.inflight
      streams += a.streams
      if (a.lastSeen > lastSeen) lastSeen = a.lastSeen
      for (const [g, i, s] of a.gens) {
        const t = gens.get(g)
        if (t) { t[0] += i; t[1] += s } else gens.set(g, [i, s])
      }
    }
    if (since !== undefined && behind === 0) this.switchSeq.delete(key)
    env.inflight = inflight
    env.streams = streams
    env.lastSeen = lastSeen
    const set = (u: Upstream, old: boolean) => {
      const t = gens.get(u.generation)
      // A worker that has not confirmed the switch may still be sending to the old generation.
      u.inflight = (t ? t[0] : 0) + (old ? behind : 0)
      u.streams = t ? t[1] : 0
    }
    if (env.route) set(env.route, false)
    for (const d of env.draining) set(d.upstream, true)
  }

  private addCounters (w: WorkerState, delta: Partial<GatewayCounters>): void {
    const c = this.wg.gateway.counters
    for (const k of Object.keys(delta) as Array<keyof GatewayCounters>) c[k] += delta[k] ?? 0
    w.requests += delta.requests ?? 0
  }

  /** Workers' open tunnels and held requests, for /metrics. */
  private sumRemote (): void {
    const r = this.wg.gateway.remote
    r.tunnels = 0
    r.held = 0
    for (const w of this.workers.values()) { r.tunnels += w.tunnels; r.held += w.held }
  }

  private onExit (w: WorkerState, code: number | null, signal: string | null): void {
    this.workers.delete(w.worker.id)
    for (const key of w.activity.keys()) this.recompute(key)
    this.sumRemote()
    if (this.closing) return
    const now = Date.now()
    this.restarts = this.restarts.filter(t => now - t < 60_000)
    this.wg.log.error({ worker: w.worker.process.pid, code, signal }, 'worker exited; starting another')
    if (this.restarts.length >= 10) {
      this.wg.log.fatal('workers keep exiting; not starting more')
      return
    }
    this.restarts.push(now)
    this.fork()
  }

  async close (): Promise<void> {
    if (this.closing) return
    this.closing = true
    const exited = [...this.workers.values()].map(w => new Promise<void>(resolve => {
      if (w.worker.isDead()) { resolve(); return }
      w.worker.once('exit', () => resolve())
      const kill = setTimeout(() => w.worker.process.kill('SIGKILL'), this.config.proxy.shutdownGrace + 5_000)
      kill.unref()
      this.send(w, { t: 'shutdown' })
    }))
    await Promise.all(exited)
    await this.wg.close()
  }
}
