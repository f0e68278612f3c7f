// Store shared by gateway replicas through one Redis (ioredis): `store: { kind: redis }`.
//
// Keys (after keyPrefix):   env:<key>      hash: data (record JSON), version, fence
//                           envs           set of env keys that have a record
//                           lock:<key>     the holder's token, with PX ttl
//                           lockseq:<key>  INCR counter the tokens come from
//                           delivery:<id>  SET NX PX marker
// Channel <keyPrefix>events carries StoreEvents as JSON (ioredis does not prefix channels).
// Compare-and-set, fencing and lock ownership run as Lua scripts, so each is one atomic step.
// No keyspace notifications: managed Redis forbids CONFIG SET.
import { randomUUID } from 'node:crypto'
import type { ConnectionOptions } from 'node:tls'
import { Redis } from 'ioredis'
import { StaleWriteError, recordBody, type EnvRecord, type Lock, type PutOptions, type Store, type StoreEvent, type StoredRecord } from './store.js'

export interface RedisStoreOptions {
  /** redis://[user:pass@]host:port[/db], or rediss:// for TLS. */
  url: string
  /** Prefix of every key and of the event channel; replicas of one gateway share it. Default `wakegate:`. */
  keyPrefix?: string
  /** TLS towards Redis (true = defaults; rediss:// URLs enable it too). */
  tls?: boolean | ConnectionOptions
  /** Redis Sentinel: where to ask for the current primary named `sentinelName`. */
  sentinels?: Array<{ host: string, port: number }>
  sentinelName?: string
}

// A deleted record keeps its version and fence this long, so neither is reused meanwhile.
const TOMBSTONE_MS = 24 * 3600_000

const SCRIPTS = {
  // KEYS: env hash, envs set. ARGV: record JSON, env key, ifVersion|'', fence|''.
  wgPut: {
    numberOfKeys: 2,
    lua: `
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if ARGV[3] ~= '' then
  local live = version
  if redis.call('HEXISTS', KEYS[1], 'data') == 0 then live = 0 end
  if live ~= tonumber(ARGV[3]) then return {0, 'version', live} end
end
if ARGV[4] ~= '' then
  local seen = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
  if tonumber(ARGV[4]) < seen then return {0, 'fence', seen} end
  redis.call('HSET', KEYS[1], 'fence', ARGV[4])
end
version = version + 1
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'version', version)
redis.call('PERSIST', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[2])
return {1, version}`
  },
  // KEYS: env hash, envs set. ARGV: env key, tombstone ms.
  wgDelete: {
    numberOfKeys: 2,
    lua: `
redis.call('HDEL', KEYS[1], 'data')
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
redis.call('SREM', KEYS[2], ARGV[1])
return 1`
  },
  // KEYS: lock, lockseq. ARGV: ttl. The token is taken only when the lock is free, so none is wasted.
  wgLock: {
    numberOfKeys: 2,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'NX', 'PX', ARGV[1])
return token`
  },
  // KEYS: lock. ARGV: token, ttl.
  wgRenew: {
    numberOfKeys: 1,
    lua: `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])`
  },
  // KEYS: lock. ARGV: token.
  wgRelease: {
    numberOfKeys: 1,
    lua: `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`
  }
}

/** The scripts above as ioredis adds them (defineCommand through the `scripts` option). */
interface ScriptCommands {
  wgPut (env: string, envs: string, data: string, key: string, ifVersion: string, fence: string): Promise<[0, 'version' | 'fence', number] | [1, number]>
  wgDelete (env: string, envs: string, key: string, tombstoneMs: number): Promise<number>
  wgLock (lock: string, seq: string, ttl: number): Promise<number | null>
  wgRenew (lock: string, token: number, ttl: number): Promise<number>
  wgRelease (lock: string, token: number): Promise<number>
}
type Client = Redis & ScriptCommands

export class RedisStore implements Store {
  readonly kind = 'redis'
  readonly id = randomUUID()
  private readonly redis: Client
  /** Subscriber mode takes a connection for itself. */
  private readonly sub: Redis
  private readonly channel: string
  private readonly listeners = new Set<(e: StoreEvent) => void>()
  private readonly subscribed: Promise<unknown>
  private closed = false

  constructor (opts: RedisStoreOptions) {
    const keyPrefix = opts.keyPrefix ?? 'wakegate:'
    this.channel = `${keyPrefix}events`
    this.redis = new Redis(opts.url, {
      keyPrefix,
      ...(opts.sentinels ? { sentinels: opts.sentinels, name: opts.sentinelName } : {}),
      tls: opts.tls === true ? {} : opts.tls || undefined,
      scripts: SCRIPTS,
      // While Redis is unreachable calls fail at once instead of queueing: the lifecycle
      // falls back to what it has in memory, and the outage shows in healthy().
      enableOfflineQueue: false,
      // Commands in flight when the connection drops fail on the first reconnect attempt.
      maxRetriesPerRequest: 0,
      // A reply that never comes (a stalled server) fails the call rather than hanging it.
      commandTimeout: 5000,
      connectTimeout: 5000,
      // Keep trying to reconnect, at most a second apart.
      retryStrategy: times => Math.min(times * 100, 1000)
    }) as Client
    // The subscriber may queue its SUBSCRIBE until connected; ioredis resubscribes after reconnects.
    this.sub = this.redis.duplicate({ keyPrefix: '', enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined })
    // Connection errors are reported through healthy(); without a listener ioredis prints them.
    this.redis.on('error', () => {})
    this.sub.on('error', () => {})
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.deliver(message)
    })
    this.subscribed = this.sub.subscribe(this.channel)
    this.subscribed.catch(() => {})
  }

  /**
   * Resolves once both connections are up and the event channel is subscribed; calls made
   * before that reject. Waits as long as Redis stays unreachable (race it for a deadline).
   */
  async ready (): Promise<void> {
    if (this.redis.status !== 'ready') await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => { this.redis.off('ready', ok); this.redis.off('end', fail); if (err) reject(err); else resolve() }
      const ok = () => done()
      const fail = () => done(new Error('redis store closed before it was ready'))
      this.redis.once('ready', ok)
      this.redis.once('end', fail)
    })
    await this.subscribed
  }

  async get (key: string) {
    const [data, version] = await this.redis.hmget(`env:${key}`, 'data', 'version')
    return data === null ? undefined : stored(data, version)
  }

  async put (record: EnvRecord, opts: PutOptions = {}) {
    const r = await this.redis.wgPut(`env:${record.key}`, 'envs', JSON.stringify(recordBody(record)), record.key,
      opts.ifVersion === undefined ? '' : String(opts.ifVersion), opts.fence === undefined ? '' : String(opts.fence))
    if (r[0] === 1) return r[1]
    const offered = r[1] === 'version' ? opts.ifVersion! : opts.fence!
    throw new StaleWriteError(record.key, r[1], Number(r[2]), offered)
  }

  async delete (key: string) {
    await this.redis.wgDelete(`env:${key}`, 'envs', key, TOMBSTONE_MS)
  }

  async list () {
    const keys = await this.redis.smembers('envs')
    if (keys.length === 0) return []
    const pipe = this.redis.pipeline()
    for (const k of keys) pipe.hmget(`env:${k}`, 'data', 'version')
    const out: StoredRecord[] = []
    for (const [err, reply] of (await pipe.exec()) ?? []) {
      if (err) throw err
      const [data, version] = reply as Array<string | null>
      if (data !== null) out.push(stored(data, version))
    }
    return out
  }

  async lock (key: string, ttl: number): Promise<Lock | null> {
    const lockKey = `lock:${key}`
    const token = await this.redis.wgLock(lockKey, `lockseq:${key}`, ttl)
    if (token === null) return null
    return {
      key,
      token,
      renew: async (next = ttl) => (await this.redis.wgRenew(lockKey, token, next)) === 1,
      release: async () => { await this.redis.wgRelease(lockKey, token) }
    }
  }

  async publish (event: StoreEvent) {
    // PUBLISH goes out on the command connection; channels are not prefixed by ioredis.
    await this.redis.publish(this.channel, JSON.stringify({ ...event, origin: this.id }))
  }

  subscribe (fn: (e: StoreEvent) => void) {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  async firstDelivery (id: string, ttl: number) {
    return (await this.redis.set(`delivery:${id}`, '1', 'PX', ttl, 'NX')) === 'OK'
  }

  async forgetDelivery (id: string) { await this.redis.del(`delivery:${id}`) }

  healthy () {
    return !this.closed && this.redis.status === 'ready' && this.sub.status === 'ready'
  }

  async close () {
    if (this.closed) return
    this.closed = true
    this.listeners.clear()
    await Promise.all([this.redis, this.sub].map(c => c.status === 'ready' ? c.quit().catch(() => c.disconnect()) : c.disconnect()))
  }

  private deliver (message: string) {
    // A copy per subscriber; one that throws stops neither the others nor ioredis's reader
    // (subscribers own their errors; a message that is not JSON is not ours).
    for (const fn of this.listeners) {
      try { fn(JSON.parse(message) as StoreEvent) } catch {}
    }
  }
}

function stored (data: string, version: string | null): StoredRecord {
  return { ...(JSON.parse(data) as EnvRecord), version: Number(version) }
}
