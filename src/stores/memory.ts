// Single-replica store: maps in memory.
import type { EnvRecord, Lock, Store, StoreEvent } from './store.js'

export class MemoryStore implements Store {
  readonly kind = 'memory'
  private records = new Map<string, EnvRecord>()
  private seen = new Map<string, number>()
  private locks = new Map<string, { token: number, until: number }>()
  private deliveries = new Map<string, number>()
  private listeners = new Set<(e: StoreEvent) => void>()
  private fence = 0

  async get (key: string) { const r = this.records.get(key); return r && structuredClone(r) }
  async put (record: EnvRecord) { this.records.set(record.key, structuredClone(record)) }
  async delete (key: string) { this.records.delete(key); this.seen.delete(key) }
  async list () { return [...this.records.values()].map(r => structuredClone(r)) }

  async lock (key: string, ttl: number): Promise<Lock | null> {
    const now = Date.now()
    const held = this.locks.get(key)
    if (held && held.until > now) return null
    const token = ++this.fence
    this.locks.set(key, { token, until: now + ttl })
    return {
      key,
      token,
      release: async () => {
        if (this.locks.get(key)?.token === token) this.locks.delete(key)
      }
    }
  }

  async touch (entries: Array<[string, number]>) {
    for (const [k, at] of entries) if ((this.seen.get(k) ?? 0) < at) this.seen.set(k, at)
  }

  async expired (before: number) {
    const out: string[] = []
    for (const [k, at] of this.seen) if (at < before) out.push(k)
    return out
  }

  async publish (event: StoreEvent) {
    for (const fn of this.listeners) fn(event)
  }

  subscribe (fn: (e: StoreEvent) => void) {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  async firstDelivery (id: string, ttl: number) {
    const now = Date.now()
    if (this.deliveries.size > 10_000) for (const [k, until] of this.deliveries) if (until < now) this.deliveries.delete(k)
    const until = this.deliveries.get(id)
    if (until !== undefined && until > now) return false
    this.deliveries.set(id, now + ttl)
    return true
  }

  async forgetDelivery (id: string) { this.deliveries.delete(id) }

  healthy () { return true }
  async close () { this.listeners.clear() }
}
