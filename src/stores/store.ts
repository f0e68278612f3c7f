// The seam for shared state: env records, the leader lease, events between
// replicas and webhook delivery ids. The hot path never awaits a store. Shaped for several
// gateway replicas on one store: records carry a version (compare-and-set) and writes can
// carry a fencing token, so a replica whose lock lapsed cannot overwrite a newer holder.
import type { EnvState } from '../lifecycle/machine.js'
import type { TaskRef } from '../backends/backend.js'

export interface EnvRecord {
  key: string
  app: string
  pr: number
  branch: string
  sha: string
  title?: string
  author?: string
  state: EnvState
  generation: number
  task?: TaskRef
  reason?: string
  /** ms since epoch */
  lastSeen: number
  createdAt: number
  updatedAt: number
  /** Where the record came from: config, admin, github. */
  source: string
  /** Free-form fields later parts attach (GitHub comment id, deployment id, …). */
  meta?: Record<string, string | number | boolean>
}

/** A record as read back: `version` grows by one with every accepted write of that key. */
export type StoredRecord = EnvRecord & { version: number }

export interface PutOptions {
  /**
   * Compare-and-set: write only when the record's current version is this one
   * (0 = only when the record does not exist). Versions are never reused for a key,
   * not even after a delete, so a version read before a delete cannot match after it.
   */
  ifVersion?: number
  /**
   * Fencing token (from `lock`): rejected when older than the newest fence a write of
   * this key has carried. Writes without a fence are not checked.
   */
  fence?: number
}

/** A put refused by `ifVersion` or `fence`; nothing was written. */
export class StaleWriteError extends Error {
  readonly code = 'WAKEGATE_STALE_WRITE'
  constructor (
    readonly key: string,
    readonly reason: 'version' | 'fence',
    /** The record's current version (reason version) or the newest fence seen (reason fence). */
    readonly current: number,
    readonly offered: number
  ) {
    super(`stale write of ${key}: ${reason} ${offered} offered, store has ${current}`)
    this.name = 'StaleWriteError'
  }
}

export interface Lock {
  key: string
  /** Fencing token: strictly increasing per lock key, across every process on the store. */
  token: number
  /** Extend the lock to ttl ms from now (default: the ttl it was taken with). False when no longer held. */
  renew (ttl?: number): Promise<boolean>
  /** Give the lock up if still its holder; a lapsed lock taken by someone else is left alone. */
  release (): Promise<void>
}

export interface StoreEvent {
  type: string
  key?: string
  /** Set by `publish` to the publishing store's `id`, so a replica can skip its own events. */
  origin?: string
  [field: string]: unknown
}

export interface Store {
  readonly kind: string
  /** This store instance (one per replica): the `origin` of the events it publishes. */
  readonly id: string
  get (key: string): Promise<StoredRecord | undefined>
  /** Resolves with the new version, or rejects with StaleWriteError. A `version` field on the record is ignored. */
  put (record: EnvRecord, opts?: PutOptions): Promise<number>
  delete (key: string): Promise<void>
  list (): Promise<StoredRecord[]>
  /** Acquire an exclusive lock for ttl ms, or null when somebody else holds it. */
  lock (key: string, ttl: number): Promise<Lock | null>
  /** Deliver to every subscriber of every store instance sharing this store, this one's included. */
  publish (event: StoreEvent): Promise<void>
  subscribe (fn: (event: StoreEvent) => void): () => void
  /** True the first time a delivery id is seen (within the ttl), false after. */
  firstDelivery (id: string, ttl: number): Promise<boolean>
  /** Forget a delivery id (it could not be handled), so a redelivery counts as first. */
  forgetDelivery (id: string): Promise<void>
  /** Whether the store can be reached right now (health, metrics). */
  healthy (): boolean
  /** Resolves once the store can be used (connected); absent when it always can. */
  ready? (): Promise<void>
  close (): Promise<void>
}

/** The record without its read-back version: what a store keeps as the record's body. */
export function recordBody (record: EnvRecord | StoredRecord): EnvRecord {
  if (!('version' in record)) return record
  const { version: _version, ...body } = record
  return body
}
