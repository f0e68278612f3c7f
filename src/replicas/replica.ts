// One gateway replica of several sharing a Redis store (`store: { kind: redis }`).
//
// Every replica serves the public listener from a mirror of the envs (the hot path reads
// memory only, as in a cluster worker). One replica at a time is the leader: it holds the
// `leader` lease (a store lock, renewed; its token fences the leader's writes) and runs the
// lifecycle (EnvManager, backends, reconcile, idle reaper, GitHub webhooks and feedback) with a
// hub that publishes every env change to the others through the store's pub/sub and answers
// their wakes. So a wake starts one task whichever replicas see the cold requests, idle stops
// see the traffic every replica reports, and leader-only work runs once.
//
// A leader that dies: its lease lapses, another replica takes it, restores the envs from the
// store, and reconcile adopts the tasks the old leader started (ECS tags; local task records),
// waking or running, so no second task starts; the replicas ask their unanswered wakes again
// of the new leader. A leader that loses the lease (Redis restarted, a newer leader fenced its
// writes) hands its tasks over and goes back to mirroring.
import { hostname, networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { ResolvedConfig, StoreConfig } from '../config/load.js'
import type { Backend } from '../backends/backend.js'
import type { Lock, Store, StoreEvent } from '../stores/store.js'
import { RedisStore } from '../stores/redis.js'
import { createWakegate, type Wakegate } from '../server.js'
import { Hub, type Peer, type PeerState } from '../cluster/hub.js'
import { MirrorGateway } from '../cluster/mirror-gateway.js'
import { addressUrl } from '../proxy/listener.js'
import type { ToPrimary, ToWorker } from '../cluster/protocol.js'
import { createLogger } from '../log.js'
import { readRecords, restoreEnvs } from './restore.js'

type RedisConfig = Extract<StoreConfig, { kind: 'redis' }>

export interface ReplicaOptions {
  log?: Logger
  /** The shared store (a RedisStore from the config when absent). */
  store?: Store
  /** Backends by app name for this replica's terms as leader (built from config when absent). */
  backends?: Map<string, Backend>
  reapInterval?: number
}

/** Messages on the store's event channel. */
interface LeaderBeat extends StoreEvent { type: 'wg-leader', leader: string, token: number }
interface FromHub extends StoreEvent { type: 'wg-hub', leader: string, to?: string, msg: ToWorker }
interface ToHub extends StoreEvent { type: 'wg-peer', from: string, to: string, msg: ToPrimary }

interface Term {
  lock: Lock
  wg: Wakegate
  hub: Hub
  self: PeerState
}

export class Replica {
  readonly id: string
  readonly log: Logger
  readonly store: Store
  readonly mg: MirrorGateway
  url = ''
  /** The replica whose hub this one's mirror follows. */
  leaderId: string | undefined
  private term: Term | undefined
  private promoting = false
  private lastBeat = 0
  /** Since when the store has been reachable (0 while it is not): followers give the leader a lease's time to renew first. */
  private healthySince = 0
  private storeDown = false
  private readonly timers: NodeJS.Timeout[] = []
  private closing: Promise<void> | undefined
  private readonly sc: RedisConfig
  private readonly unsubscribe: () => void
  readonly counters = { promotions: 0, demotions: 0 }

  constructor (readonly config: ResolvedConfig, private readonly opts: ReplicaOptions = {}) {
    if (config.store.kind !== 'redis') throw new Error('replicas need store.kind redis')
    this.sc = config.store
    this.log = opts.log ?? createLogger(config.log.level)
    this.store = opts.store ?? new RedisStore({ url: this.sc.url, keyPrefix: this.sc.keyPrefix, tls: this.sc.tls, sentinels: this.sc.sentinels, sentinelName: this.sc.sentinelName })
    this.id = this.store.id
    this.mg = new MirrorGateway(config, this.log.child({ replica: this.id.slice(0, 8) }), msg => this.toLeader(msg), {
      local: (req, res) => this.serveLocal(req, res),
      // Redis down: the leader cannot be asked to wake through it, but it can be reached directly.
      relayWhen: () => this.term === undefined && !this.store.healthy(),
      ownerWait: 3 * this.sc.leaseTtl + 2_000
    })
    this.unsubscribe = this.store.subscribe(e => this.onStoreEvent(e))
  }

  isLeader (): boolean { return this.term !== undefined }
  /** The lifecycle while this replica leads. */
  get leader (): Wakegate | undefined { return this.term?.wg }

  async start (): Promise<void> {
    // Redis may come later: the replica serves (and says the store is down) meanwhile.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.store.ready?.().catch(() => {}), new Promise<void>(resolve => { timer = setTimeout(resolve, 5_000) })])
    clearTimeout(timer)
    const a = await this.mg.listen(this.config.listen.host, this.config.listen.port)
    this.url = addressUrl(this.config.listen.tls ? 'https' : 'http', a)
    const every = Math.max(50, Math.floor(this.sc.leaseTtl / 3))
    this.timers.push(setInterval(() => { void this.tick() }, every))
    this.timers.push(setInterval(() => this.resync(), this.sc.resyncInterval))
    this.timers.push(setInterval(() => this.sweepPeers(), every))
    for (const t of this.timers) t.unref()
    await this.tick()
    this.log.info({ url: this.url, replica: this.id, leader: this.isLeader() }, 'replica listening')
  }

  /** Every message of this replica's mirror goes to the leader: in-process when it leads, else published. */
  private toLeader (msg: ToPrimary): void {
    const t = this.term
    if (t) { queueMicrotask(() => t.hub.onMessage(t.self, msg)); return }
    const leader = this.leaderId
    if (leader === undefined) return // asked again when a leader says hello
    if (!this.store.healthy()) { this.unreachable(msg); return }
    this.store.publish({ type: 'wg-peer', from: this.id, to: leader, msg } satisfies ToHub).catch(() => this.unreachable(msg))
  }

  /** A question that cannot reach the leader is answered at once: running envs are still served from memory. */
  private unreachable (msg: ToPrimary): void {
    if (msg.t === 'wake' || msg.t === 'resolve') {
      this.mg.mirror.reply({ t: 'reply', id: msg.id, ok: false, error: { code: 'WAKEGATE_STORE_UNAVAILABLE', detail: 'Redis cannot be reached', retryAfter: 5 } })
    }
  }

  private onStoreEvent (e: StoreEvent): void {
    switch (e.type) {
      case 'wg-leader': {
        const b = e as LeaderBeat
        this.lastBeat = Date.now()
        if (b.leader === this.leaderId) return
        if (this.term && b.leader !== this.id) {
          // Two leaders: the one with the older lease token steps down.
          if (b.token > this.term.lock.token) void this.demote('another replica holds a newer leader lease')
          return
        }
        this.follow(b.leader)
        return
      }
      case 'wg-hub': {
        const h = e as FromHub
        if (h.leader === this.id || (h.to !== undefined && h.to !== this.id)) return
        if (h.leader !== this.leaderId) { if (!this.term) this.follow(h.leader); else return }
        const m = h.msg
        // An update missed (pub/sub does not retry): ask for everything again.
        if (m.t === 'env' && m.seq !== this.mg.mirror.seq + 1 && this.mg.mirror.seq !== 0) this.hello()
        this.mg.deliver(m)
        return
      }
      case 'wg-peer': {
        const p = e as ToHub
        const t = this.term
        if (!t || p.to !== this.id) return
        let peer = t.hub.peers.get(p.from)
        if (peer === undefined) {
          peer = this.remotePeer(t, p.from)
          // A replica that followed an earlier leader needs the full state first.
          if (p.msg.t !== 'hello') t.hub.init(peer)
        }
        t.hub.onMessage(peer, p.msg)
        return
      }
      case 'wg-resign': {
        // The leader left on purpose: take over now rather than after its lease.
        if (e.leader === this.leaderId) { this.leaderId = undefined; this.mg.loseTarget(); this.lastBeat = 0; void this.tick() }
      }
    }
  }

  private follow (leader: string): void {
    this.leaderId = leader
    if (leader !== this.id) this.hello()
  }

  private hello (): void {
    const leader = this.leaderId
    if (leader === undefined || leader === this.id) return
    this.store.publish({ type: 'wg-peer', from: this.id, to: leader, msg: { t: 'hello' } } satisfies ToHub).catch(() => {})
  }

  private resync (): void { if (!this.term) this.hello() }

  private remotePeer (t: Term, id: string): PeerState {
    const peer: Peer = {
      id,
      shared: true,
      send: msg => { this.store.publish({ type: 'wg-hub', leader: this.id, to: id, msg } satisfies FromHub).catch(() => {}) },
      connected: () => Date.now() - (t.hub.peers.get(id)?.heardAt ?? 0) < this.peerTimeout()
    }
    return t.hub.addPeer(peer)
  }

  /** A replica not heard from for this long is gone: its traffic no longer counts. */
  private peerTimeout (): number { return Math.max(3 * 1000, this.sc.leaseTtl) }

  private sweepPeers (): void {
    const t = this.term
    if (!t) return
    const now = Date.now()
    for (const [id, p] of t.hub.peers) if (id !== this.id && now - p.heardAt > this.peerTimeout()) t.hub.removePeer(id)
  }

  /** Lease upkeep: the leader renews (or steps down); a follower takes the lease once no leader has beaten for a lease. */
  private async tick (): Promise<void> {
    if (this.closing || this.promoting) return
    if (!this.store.healthy()) {
      if (this.healthySince !== 0 || !this.storeDown) this.log.warn({ replica: this.id, leader: this.isLeader() }, 'store unreachable: running envs are served from memory; cold requests go to the leader directly')
      this.healthySince = 0
      this.storeDown = true
      return
    }
    if (this.healthySince === 0) {
      this.healthySince = Date.now()
      if (this.storeDown) this.log.info({ replica: this.id }, 'store reachable again')
      this.storeDown = false
      this.hello() // messages were lost while the store was away
    }
    const t = this.term
    if (t) {
      let held: boolean
      try { held = await t.lock.renew() } catch { return } // unreachable: nobody else can take it either
      if (!held) {
        const again = await this.store.lock('leader', this.sc.leaseTtl).catch(() => null)
        if (again === null) { await this.demote('leader lease lost'); return }
        t.lock = again
        t.wg.manager.fence = again.token
        // The lease lapsed (Redis restarted empty, or was away longer than the lease): write every env again.
        for (const env of t.wg.manager.envs.values()) t.wg.manager.persist(env)
      }
      this.beat(t)
      return
    }
    const quiet = Date.now() - Math.max(this.lastBeat, this.healthySince)
    if (quiet < this.sc.leaseTtl) return
    const lock = await this.store.lock('leader', this.sc.leaseTtl).catch(() => null)
    if (lock) await this.promote(lock)
  }

  private beat (t: Term): void {
    this.store.publish({ type: 'wg-leader', leader: this.id, token: t.lock.token } satisfies LeaderBeat).catch(() => {})
  }

  private async promote (lock: Lock): Promise<void> {
    if (this.closing) { await lock.release().catch(() => {}); return }
    this.promoting = true
    try {
      const advertise = this.sc.advertiseHost ?? advertisedHost(this.config.listen.host)
      // The leader's own listener is internal: replicas pass it webhooks and gateway pages.
      const internal: ResolvedConfig = { ...this.config, listen: { host: this.config.listen.host, port: this.sc.internalPort } }
      const prefix = this.sc.keyPrefix.replace(/[^A-Za-z0-9_-]/g, '_')
      const certs = this.mg.listener.certs
      // Read before the manager exists: it writes the config's PRs as it starts, which would
      // replace their stored records (feedback ids, keep-awake, who put them to sleep).
      const records = await readRecords(this.store, this.log)
      const wg = await createWakegate(internal, {
        log: this.log.child({ role: 'leader' }),
        store: this.store,
        backends: this.opts.backends,
        reapInterval: this.opts.reapInterval,
        handOver: true,
        taskDirFor: app => join(tmpdir(), `wakegate-tasks-${prefix}`, app),
        // The leader's listener is internal: the certificate clients see is this replica's public one.
        certExpiry: certs ? () => certs.notAfter : undefined
      })
      wg.manager.fence = lock.token
      wg.manager.on('fenced', () => { void this.demote('a newer leader wrote an env') })
      restoreEnvs(wg.manager, records, this.log)
      await wg.listen() // reconcile adopts what the previous leader started
      const port = Number(new URL(wg.url).port)
      const hub = new Hub({
        manager: wg.manager,
        gateway: wg.gateway,
        config: this.config,
        fallback: { host: advertise, port },
        shared: msg => { this.store.publish({ type: 'wg-hub', leader: this.id, msg } satisfies FromHub).catch(() => {}) }
      })
      const self = hub.addPeer({ id: this.id, send: msg => queueMicrotask(() => this.mg.deliver(msg)), connected: () => true })
      const term: Term = { lock, wg, hub, self }
      this.term = term
      this.leaderId = this.id
      this.counters.promotions++
      hub.init(self) // this replica's mirror asks its pending wakes again, now of itself
      this.beat(term)
      this.log.info({ replica: this.id, token: lock.token, internal: wg.url }, 'this replica is the leader')
    } catch (err) {
      this.log.error({ err }, 'taking the leadership failed')
      await lock.release().catch(() => {})
    } finally {
      this.promoting = false
    }
  }

  /** Leaves the leadership: tasks are handed over, not stopped; the mirror follows whoever leads next. */
  async demote (reason: string): Promise<void> {
    const t = this.term
    if (!t) return
    this.term = undefined
    this.leaderId = undefined
    this.counters.demotions++
    this.log.warn({ replica: this.id, reason }, 'stepping down as the leader')
    t.hub.close()
    await t.wg.close()
    await t.lock.release().catch(() => {})
    this.store.publish({ type: 'wg-resign', leader: this.id }).catch(() => {})
  }

  /** The replica's own health, without asking the leader. */
  private serveLocal (req: IncomingMessage, res: ServerResponse): boolean {
    if (req.url !== '/__wakegate/healthz') return false
    const body = JSON.stringify({ ok: !this.mg.gateway.shuttingDown, leader: this.isLeader(), store: this.store.healthy() })
    res.writeHead(this.mg.gateway.shuttingDown ? 503 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
    return true
  }

  close (): Promise<void> {
    this.closing ??= (async () => {
      for (const t of this.timers) clearInterval(t)
      await this.mg.stop()
      await this.demote('shutting down')
      this.unsubscribe()
      await this.store.close()
    })()
    return this.closing
  }
}

/**
 * Where other replicas reach this one: the listen address, or for a wildcard this machine's
 * first non-loopback IPv4 address (a container's or task's own, which its peers can reach;
 * a container's hostname often resolves nowhere else), else the hostname.
 */
export function advertisedHost (listenHost: string): string {
  if (!/^(0\.0\.0\.0|::|\[::\])$/.test(listenHost)) return listenHost
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return hostname()
}

export async function startReplica (config: ResolvedConfig, opts: ReplicaOptions = {}): Promise<Replica> {
  const r = new Replica(config, opts)
  await r.start()
  return r
}
