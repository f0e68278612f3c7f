// The seam for shared state: env records, wake locks, last-seen times, events between
// replicas and webhook delivery ids. The hot path never awaits a store.
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

export interface Lock {
  key: string
  /** Monotonic fencing token: a write carrying an older token than the store has seen is stale. */
  token: number
  release (): Promise<void>
}

export interface StoreEvent {
  type: string
  key?: string
  origin?: string
  [field: string]: unknown
}

export interface Store {
  readonly kind: string
  get (key: string): Promise<EnvRecord | undefined>
  put (record: EnvRecord): Promise<void>
  delete (key: string): Promise<void>
  list (): Promise<EnvRecord[]>
  /** Acquire an exclusive lock for ttl ms, or null when somebody else holds it. */
  lock (key: string, ttl: number): Promise<Lock | null>
  /** Note activity; cheap, called in batches. */
  touch (entries: Array<[key: string, at: number]>): Promise<void>
  /** Keys whose last activity is older than `before`. */
  expired (before: number): Promise<string[]>
  publish (event: StoreEvent): Promise<void>
  subscribe (fn: (event: StoreEvent) => void): () => void
  /** True the first time a delivery id is seen (within the ttl), false after. */
  firstDelivery (id: string, ttl: number): Promise<boolean>
  /** Forget a delivery id (it could not be handled), so a redelivery counts as first. */
  forgetDelivery (id: string): Promise<void>
  /** Whether the store can be reached right now (health, metrics). */
  healthy (): boolean
  close (): Promise<void>
}
