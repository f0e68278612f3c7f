// Wakes per client address: a token bucket per address (limits.wakeBurst tokens, refilled at
// limits.wakesPerMinute), so one client cannot start every env there is. Only a request that
// would start a wake takes a token; requests to running envs and requests joining a wake
// already under way take none. Buckets live in an LRU of at most MAX_ADDRESSES entries and
// expire once they would be full again (a missing bucket is a full one), so the memory is
// bounded whatever the addresses. Each gateway process keeps its own buckets.
import { LRUCache } from 'lru-cache'
import type { Env } from '../lifecycle/env.js'

/** Addresses tracked at most; the one not seen for longest is dropped (its bucket counts as full). */
export const MAX_ADDRESSES = 50_000

interface Bucket {
  /** Tokens at `at` (fractional: refill is continuous). */
  tokens: number
  at: number
}

export class WakeLimiter {
  private readonly buckets: LRUCache<string, Bucket>
  /** ms to refill one token. */
  private readonly msPerToken: number
  /** The `now` of the call in progress: the cache's clock, so expiry follows the caller's time. */
  private clock = 0

  constructor (readonly perMinute: number, readonly burst: number, max = MAX_ADDRESSES) {
    this.msPerToken = perMinute > 0 ? 60_000 / perMinute : 0
    this.buckets = new LRUCache<string, Bucket>({ max, ttlResolution: 0, perf: { now: () => this.clock } })
  }

  /** Addresses with a bucket that is not full. */
  get size (): number { return this.buckets.size }

  /** Takes a token for one wake from `address`; false when none is left (nothing is taken). */
  take (address: string, now = Date.now()): boolean {
    if (this.perMinute <= 0) return true
    const key = addressKey(address)
    const tokens = this.level(key, now)
    if (tokens < 1) return false
    this.keep(key, tokens - 1, now)
    return true
  }

  /** A token taken for a wake that started nothing (refused at capacity) is returned. */
  giveBack (address: string, now = Date.now()): void {
    if (this.perMinute <= 0) return
    const key = addressKey(address)
    this.keep(key, Math.min(this.burst, this.level(key, now) + 1), now)
  }

  /** Seconds until `address` has a token again (0 when it has one). */
  retryAfter (address: string, now = Date.now()): number {
    if (this.perMinute <= 0) return 0
    const tokens = this.level(addressKey(address), now)
    if (tokens >= 1) return 0
    return Math.max(1, Math.ceil((1 - tokens) * this.msPerToken / 1000))
  }

  private level (key: string, now: number): number {
    this.clock = now
    const b = this.buckets.get(key)
    if (b === undefined) return this.burst
    return Math.min(this.burst, b.tokens + Math.max(0, now - b.at) / this.msPerToken)
  }

  private keep (key: string, tokens: number, now: number): void {
    this.clock = now
    // Full again after `ttl`: the entry goes then, as a full bucket needs no record.
    const ttl = Math.ceil((this.burst - tokens) * this.msPerToken)
    if (ttl <= 0) { this.buckets.delete(key); return }
    this.buckets.set(key, { tokens, at: now }, { ttl, start: now })
  }
}

/**
 * The bucket an address counts against: IPv4 (also IPv4-mapped IPv6) as is, IPv6 by its
 * /64, as one host usually holds a whole /64 and could otherwise spread its wakes over it.
 */
export function addressKey (address: string): string {
  if (!address.includes(':')) return address
  let a = address.toLowerCase()
  const zone = a.indexOf('%')
  if (zone !== -1) a = a.slice(0, zone)
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a)
  if (mapped) return mapped[1]
  const [head, tail] = a.split('::', 2)
  const left = head ? head.split(':') : []
  const right = tail === undefined ? [] : tail ? tail.split(':') : []
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':') + '::/64'
}

/**
 * Whether a wake asked for `env` now would start one (asleep, failed past its backoff, or
 * stopping with no start asked for yet), rather than join one under way or find it running.
 */
export function startsWake (env: Env, now = Date.now()): boolean {
  if (env.wake !== null) return false
  switch (env.state) {
    case 'asleep': return true
    case 'failed': return now - env.m.failedAt >= env.app.config.failureBackoff
    case 'stopping': return !env.m.wakeAfterStop
    default: return false
  }
}
