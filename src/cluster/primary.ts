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
import { Hub, type Peer, type PeerState } from './hub.js'
import type { ToPrimary, ToWorker } from './protocol.js'

export interface ClusterOptions extends WakegateOptions {
  workers: number
}

export interface Cluster {
  /** The primary's gateway (internal listener, admin, lifecycle). */
  wg: Wakegate
  manager: EnvManager
  /** http(s)://host:port of the shared public listener. */
  url: string
  /** Requests each live worker reported, by worker id (for tests and the benchmark). */
  workerRequests (): Map<number, number>
  close (): Promise<void>
}

/** Path of the worker entry next to this module (.ts under tsx, .js in dist). */
function workerEntry (): string {
  const here = fileURLToPath(import.meta.url)
  return join(dirname(here), `worker-main${extname(here)}`)
}

export async function startCluster (config: ResolvedConfig, opts: ClusterOptions): Promise<Cluster> {
  if (!cluster.isPrimary) throw new Error('startCluster runs in the primary process')
  // The primary's own listener is internal: workers pass it what is not an env host.
  // (Plain HTTP: TLS, with its redirect listener, is the workers' part of listen.)
  const internal: ResolvedConfig = { ...config, listen: { host: '127.0.0.1', port: 0 } }
  // The metrics show the certificate the workers serve, known once they are started.
  let certExpiry = (): number | undefined => undefined
  const wg = await createWakegate(internal, { certExpiry: config.listen.tls ? () => certExpiry() : undefined, ...opts })
  await wg.listen()
  const workers = new Workers(wg, config, Math.max(1, Math.floor(opts.workers)))
  certExpiry = () => workers.certExpiry()
  const url = await workers.start()
  return { wg, manager: wg.manager, url, workerRequests: () => workers.requests(), close: () => workers.close() }
}

interface WorkerEntry {
  worker: Worker
  state: PeerState
  listening: boolean
  /** When the TLS certificate this worker serves expires (listen.tls). */
  certExpiry?: number
}

/** The node:cluster side: forks workers, restarts them when they die, shuts them down. */
class Workers {
  private readonly hub: Hub
  private readonly states = new Map<number, WorkerEntry>()
  private closing = false
  private restarts: number[] = []
  private onReady: (() => void) | undefined
  private publicUrl = ''

  constructor (private readonly wg: Wakegate, private readonly config: ResolvedConfig, private readonly count: number) {
    const u = new URL(wg.url)
    this.hub = new Hub({ manager: wg.manager, gateway: wg.gateway, config, fallback: { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) } })
  }

  requests (): Map<number, number> { return new Map([...this.states].map(([id, w]) => [id, w.state.requests])) }

  /** The soonest expiry among the TLS certificates the workers serve (each reloads its own). */
  certExpiry (): number | undefined {
    let soonest: number | undefined
    for (const w of this.states.values()) if (w.certExpiry !== undefined && (soonest === undefined || w.certExpiry < soonest)) soonest = w.certExpiry
    return soonest
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
    const peer: Peer = {
      id: String(worker.id),
      send: msg => { if (worker.isConnected()) worker.send(msg) },
      connected: () => worker.isConnected()
    }
    const entry: WorkerEntry = { worker, state: this.hub.addPeer(peer), listening: false }
    this.states.set(worker.id, entry)
    worker.on('message', (msg: ToPrimary) => {
      if (msg.t === 'tls') { entry.certExpiry = msg.certExpiry; return }
      if (msg.t !== 'ready') { this.hub.onMessage(entry.state, msg); return }
      entry.listening = true
      entry.certExpiry = msg.certExpiry
      if (!this.publicUrl) this.publicUrl = `${this.config.listen.tls ? 'https' : 'http'}://${msg.address.includes(':') ? `[${msg.address}]` : msg.address}:${msg.port}`
      if ([...this.states.values()].every(w => w.listening)) this.onReady?.()
    })
    worker.on('exit', (code, signal) => this.onExit(worker, code, signal))
  }

  private onExit (worker: Worker, code: number | null, signal: string | null): void {
    this.states.delete(worker.id)
    this.hub.removePeer(String(worker.id))
    if (this.closing) return
    const now = Date.now()
    this.restarts = this.restarts.filter(t => now - t < 60_000)
    this.wg.log.error({ worker: worker.process.pid, code, signal }, 'worker exited; starting another')
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
    const exited = [...this.states.values()].map(({ worker }) => new Promise<void>(resolve => {
      if (worker.isDead()) { resolve(); return }
      worker.once('exit', () => resolve())
      const kill = setTimeout(() => worker.process.kill('SIGKILL'), this.config.proxy.shutdownGrace + 5_000)
      kill.unref()
      if (worker.isConnected()) worker.send({ t: 'shutdown' } satisfies ToWorker)
    }))
    await Promise.all(exited)
    this.hub.close()
    await this.wg.close()
  }
}
