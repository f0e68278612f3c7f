// The lifecycle owner's side of the mirrors: pushes every env change to its peers (cluster
// workers over IPC, other replicas through the store's pub/sub), answers their wakes and
// lookups, and folds their activity reports into the manager's envs, so idle stops and drains
// see every process's traffic. How peers are reached is the caller's: a Peer sends one message.
import type { EnvManager } from '../lifecycle/manager.js'
import type { Env, EnvEvent } from '../lifecycle/env.js'
import type { Upstream } from '../proxy/upstream.js'
import type { Gateway, GatewayCounters } from '../proxy/gateway.js'
import type { ResolvedConfig } from '../config/load.js'
import { errorInfo } from '../errors.js'
import { snapshot, type ActivityEntry, type ClientEntry, type ToPrimary, type ToWorker } from './protocol.js'

export interface Peer {
  readonly id: string
  /** Reached by the hub's one `shared` send for every such peer (replicas on pub/sub), except for replies and init. */
  readonly shared?: boolean
  send (msg: ToWorker): void
  /** Still reachable: a peer behind on a switch counts as sending to the old generation only while connected. */
  connected (): boolean
}

interface Activity { lastSeen: number, inflight: number, streams: number, gens: Array<[number, number, number]>, streamActiveAt: number, passive: number }

export interface PeerState {
  peer: Peer
  ready: boolean
  /** Last update this peer confirmed having applied. */
  ackSeq: number
  activity: Map<string, Activity>
  requests: number
  /** Open WebSocket tunnels and held requests at its last report. */
  tunnels: number
  held: number
  /** When it was last heard from. */
  heardAt: number
}

export interface HubOptions {
  manager: EnvManager
  gateway: Gateway
  config: ResolvedConfig
  /** Where peers pass requests for hosts that are not env hosts (webhooks, pages). */
  fallback: { host: string, port: number }
  /** One send that reaches every `shared` peer at once (a publish), for updates and events. */
  shared?: (msg: ToWorker) => void
}

export class Hub {
  readonly peers = new Map<string, PeerState>()
  private seq = 0
  private readonly dirtyKeys = new Set<string>()
  /** Env events waiting for the next flush: they go out after the snapshots they describe. */
  private readonly events: EnvEvent[] = []
  private flushing = false
  /** Route generation last pushed per env, to notice switches. */
  private readonly pushedGen = new Map<string, number | null>()
  /** Update that told peers about an env's last switch; drains wait for every peer to confirm it. */
  private readonly switchSeq = new Map<string, number>()
  private readonly manager: EnvManager
  private readonly unsubscribe: () => void
  private closed = false

  constructor (private readonly opts: HubOptions) {
    const m = this.manager = opts.manager
    for (const env of m.envs.values()) this.pushedGen.set(env.key, env.route ? env.route.generation : null)
    const onEvent = (e: EnvEvent) => { this.events.push(e); this.dirty(e.key) }
    const onSwitched = (env: Env) => this.dirty(env.key)
    const onDrainTimeout = (env: Env, upstream: Upstream) => this.broadcast({ t: 'drain-timeout', key: env.key, generation: upstream.generation })
    const onPersist = (env: Env) => this.dirty(env.key)
    m.on('event', onEvent)
    m.on('switched', onSwitched)
    m.on('drain-timeout', onDrainTimeout)
    m.on('persist', onPersist)
    this.unsubscribe = () => {
      m.off('event', onEvent)
      m.off('switched', onSwitched)
      m.off('drain-timeout', onDrainTimeout)
      m.off('persist', onPersist)
    }
  }

  addPeer (peer: Peer): PeerState {
    const state: PeerState = { peer, ready: false, ackSeq: 0, activity: new Map(), requests: 0, tunnels: 0, held: 0, heardAt: Date.now() }
    this.peers.set(peer.id, state)
    return state
  }

  removePeer (id: string): void {
    const p = this.peers.get(id)
    if (p === undefined) return
    this.peers.delete(id)
    for (const key of p.activity.keys()) this.recompute(key)
    this.sumRemote()
  }

  private broadcast (msg: ToWorker): void {
    if (this.closed) return
    let shared = false
    for (const p of this.peers.values()) {
      if (!p.ready && msg.t === 'event') continue
      if (p.peer.shared) shared = true
      else p.peer.send(msg)
    }
    if (shared) this.opts.shared?.(msg)
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
    // After the snapshots: a peer that tells a waking page `failed` (or `ready`) already
    // mirrors the env's reason (or route).
    for (const e of this.events.splice(0)) this.broadcast({ t: 'event', e })
    for (const key of switched) this.recompute(key)
  }

  /** Everything a new peer needs, before any incremental update. */
  init (p: PeerState): void {
    if (this.closed) return
    const m = this.manager
    p.peer.send({
      t: 'init',
      config: this.opts.config,
      fallback: this.opts.fallback,
      hasResolver: m.prResolver !== undefined,
      seq: this.seq,
      envs: [...m.envs.values()].map(snapshot)
    })
    p.ackSeq = this.seq
    p.ready = true
  }

  onMessage (p: PeerState, msg: ToPrimary): void {
    const m = this.manager
    p.heardAt = Date.now()
    // A hub that closed (its process left the leadership) answers nothing: the asker asks the next one.
    const reply = (r: Extract<ToWorker, { t: 'reply' }>) => { if (!this.closed) p.peer.send(r) }
    switch (msg.t) {
      case 'hello': this.init(p); break
      case 'ready': break
      case 'wake': {
        const env = m.envs.get(`${msg.app}/${msg.pr}`) ?? m.lookup(msg.app, msg.pr)
        if (env === undefined) { reply({ t: 'reply', id: msg.id, ok: false, error: { code: 'WAKEGATE_UNKNOWN_PR' } }); break }
        m.wake(env, msg.cause, msg.byRequest).then(
          () => reply({ t: 'reply', id: msg.id, ok: true, env: snapshot(env) }),
          err => reply({ t: 'reply', id: msg.id, ok: false, error: errorInfo(err) }))
        break
      }
      case 'resolve':
        m.resolveUnknown(msg.app, msg.pr).then(
          env => reply({ t: 'reply', id: msg.id, ok: true, env: env ? snapshot(env) : null }),
          err => reply({ t: 'reply', id: msg.id, ok: false, error: errorInfo(err, 'WAKEGATE_PR_LOOKUP_FAILED') }))
        break
      case 'task-lost': {
        const env = m.envs.get(msg.key)
        if (env?.route && env.route.generation === msg.generation) m.taskLost(env, env.route, msg.reason)
        else if (env) this.dirty(env.key) // that peer is behind: tell it the current route again
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
        if (msg.op === 'sleep') m.sleep(env, msg.cause ?? 'peer')
        else if (msg.op === 'destroy') m.destroy(env)
        else if (msg.op === 'forget') m.forget(env)
        else m.redeploy(env, msg.sha, msg.cause ?? 'peer')
        break
      }
      case 'activity': {
        p.ackSeq = msg.seq
        const changed = new Set<string>(p.activity.keys())
        p.activity.clear()
        for (const [key, lastSeen, inflight, streams, gens, streamActiveAt, passive] of msg.envs as ActivityEntry[]) {
          p.activity.set(key, { lastSeen, inflight, streams, gens, streamActiveAt: streamActiveAt ?? 0, passive: passive ?? 0 })
          changed.add(key)
        }
        for (const key of this.switchSeq.keys()) changed.add(key)
        for (const key of changed) this.recompute(key)
        this.addCounters(p, msg.counters)
        if (msg.clients) this.addClients(msg.clients)
        p.tunnels = msg.tunnels
        p.held = msg.held
        this.sumRemote()
        break
      }
    }
  }

  /** Totals of every peer's activity onto the manager's env and its upstreams. */
  private recompute (key: string): void {
    const env = this.manager.envs.get(key)
    if (env === undefined) return
    let inflight = 0
    let streams = 0
    let passive = 0
    let lastSeen = env.lastSeen
    let streamActiveAt = env.streamActiveAt
    const gens = new Map<number, [number, number]>()
    const since = this.switchSeq.get(key)
    let behind = 0
    for (const p of this.peers.values()) {
      if (since !== undefined && p.ackSeq < since && p.peer.connected()) behind++
      const a = p.activity.get(key)
      if (a === undefined) continue
      inflight += a.inflight
      streams += a.streams
      passive += a.passive
      if (a.lastSeen > lastSeen) lastSeen = a.lastSeen
      if (a.streamActiveAt > streamActiveAt) streamActiveAt = a.streamActiveAt
      for (const [g, i, s] of a.gens) {
        const t = gens.get(g)
        if (t) { t[0] += i; t[1] += s } else gens.set(g, [i, s])
      }
    }
    if (since !== undefined && behind === 0) this.switchSeq.delete(key)
    env.inflight = inflight
    env.streams = streams
    env.passive = passive
    env.lastSeen = lastSeen
    env.streamActiveAt = streamActiveAt
    const set = (u: Upstream, old: boolean) => {
      const t = gens.get(u.generation)
      // A peer that has not confirmed the switch may still be sending to the old generation.
      u.inflight = (t ? t[0] : 0) + (old ? behind : 0)
      u.streams = t ? t[1] : 0
    }
    if (env.route) set(env.route, false)
    for (const d of env.draining) set(d.upstream, true)
  }

  private addCounters (p: PeerState, delta: Partial<GatewayCounters>): void {
    const c = this.opts.gateway.counters
    for (const k of Object.keys(delta) as Array<keyof GatewayCounters>) c[k] += delta[k] ?? 0
    p.requests += delta.requests ?? 0
  }

  /** Peers' requests by client kind per app, onto the owner's app counters (read by /metrics). */
  private addClients (entries: ClientEntry[]): void {
    for (const [name, human, machine, asleepRefused] of entries) {
      const c = this.manager.apps.get(name)?.clients
      if (c === undefined) continue
      c.human += human
      c.machine += machine
      c.asleepRefused += asleepRefused
    }
  }

  /** Peers' open tunnels and held requests, for /metrics. */
  private sumRemote (): void {
    const r = this.opts.gateway.remote
    r.tunnels = 0
    r.held = 0
    for (const p of this.peers.values()) { r.tunnels += p.tunnels; r.held += p.held }
  }

  close (): void {
    this.closed = true
    this.unsubscribe()
  }
}
