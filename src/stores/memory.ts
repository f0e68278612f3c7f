// Single-replica store: maps in memory, with the same versions, fences, lock expiry and
// event delivery as the Redis store so both pass one contract suite.
import { randomUUID } from 'node:crypto'
import { StaleWriteError, recordBody, type EnvRecord, type Lock, type PutOptions, type Store, type StoreEvent, type StoredRecord } from './store.js'

export interface MemoryStoreOptions {
  /** Clock for lock and delivery-id expiry (ms since epoch); tests can drive it. */
  now?: () => number
}

interface Slot {
  /** Absent after a delete: the slot stays so versions and fences are never reused. */
  record?: EnvRecord
  version: number
  fence: number
}

export class MemoryStore implements Store {
  readonly kind = 'memory'
  readonly id = randomUUID()
  private readonly now: () => number
  private slots = new Map<string, Slot>()
  private locks = new Map<string, { token: number, until: number }>()
  private lockTokens = new Map<string, number>()
  private deliveries = new Map<string, number>()
  private listeners = new Set<(e: StoreEvent) => void>()

  constructor (opts: MemoryStoreOptions = {}) {
    this.now = opts.now ?? Date.now
  }

  async get (key: string) {
    const s = this.slots.get(key)
    return s?.record && { ...structuredClone(s.record), version: s.version }
  }

  async put (record: EnvRecord, opts: PutOptions = {}) {
    const s = this.slots.get(record.key) ?? { version: 0, fence: 0 }
    if (opts.ifVersion !== undefined) {
      const live = s.record ? s.version : 0
      if (live !== opts.ifVersion) throw new StaleWriteError(record.key, 'version', live, opts.ifVersion)
    }
    if (opts.fence !== undefined) {
      if (opts.fence < s.fence) throw new StaleWriteError(record.key, 'fence', s.fence, opts.fence)
      s.fence = opts.fence
    }
    s.record = structuredClone(recordBody(record))
    s.version++
    this.slots.set(record.key, s)
    return s.version
  }

  async delete (key: string) {
    const s = this.slots.get(key)
    if (s) delete s.record
  }

  async list () {
    const out: StoredRecord[] = []
    for (const s of this.slots.values()) if (s.record) out.push({ ...structuredClone(s.record), version: s.version })
    return out
  }

  async lock (key: string, ttl: number): Promise<Lock | null> {
    const held = this.locks.get(key)
    if (held && held.until > this.now()) return null
    const token = (this.lockTokens.get(key) ?? 0) + 1
    this.lockTokens.set(key, token)
    this.locks.set(key, { token, until: this.now() + ttl })
    const mine = () => {
      const l = this.locks.get(key)
      return l?.token === token && l.until > this.now() ? l : undefined
    }
    return {
      key,
      token,
      renew: async (next = ttl) => {
        const l = mine()
        if (l) l.until = this.now() + next
        return l !== undefined
      },
      release: async () => { if (mine()) this.locks.delete(key) }
    }
  }

  async publish (event: StoreEvent) {
    // A JSON copy, as over Redis, delivered after publish returns; a subscriber that
    // throws does not stop the others (subscribers own their errors).
    const wire = JSON.stringify({ ...event, origin: this.id })
    queueMicrotask(() => {
      for (const fn of this.listeners) {
        try { fn(JSON.parse(wire)) } catch {}
      }
    })
  }

  subscribe (fn: (e: StoreEvent) => void) {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  async firstDelivery (id: string, ttl: number) {
    const now = this.now()
    if (this.deliveries.size > 10_000) for (const [k, until] of this.deliveries) if (until <= now) this.deliveries.delete(k)
    const until = this.deliveries.get(id)
    if (until !== undefined && until > now) return false
    this.deliveries.set(id, now + ttl)
    return true
  }

  async forgetDelivery (id: string) { this.deliveries.delete(id) }

  healthy () { return true }
  async close () { this.listeners.clear() }
}
