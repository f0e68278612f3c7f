// Holding a request or an upgrade while its env wakes: one bound (maxHeld per env), one
// timeout (holdTimeout), one answer at shutdown, for the cold path and upgrades alike.
import type { Env } from '../lifecycle/env.js'
import { errorInfo, type ErrorInfo } from '../errors.js'
import type { Gateway } from './gateway.js'
import type { Upstream } from './upstream.js'

/** What is held: an HTTP request or an upgrade's socket. */
export interface HeldClient {
  /** Calls `fn` when the client goes away; returns what stops watching. */
  watch (fn: () => void): () => void
  /** The client can no longer be served. */
  readonly gone: boolean
  /** Answers with an error: hold timeout, wake failure, shutdown. */
  fail (info: ErrorInfo): void
}

export class Holds {
  /** What answers each held client at shutdown. */
  private readonly shedders = new Set<() => void>()

  constructor (private readonly gw: Gateway) {}

  /**
   * Waits for `env`'s wake, then calls `go` with its route. false when `maxHeld` clients
   * already wait (the caller answers WAKEGATE_HOLD_FULL).
   */
  hold (env: Env, cause: string, client: HeldClient, go: (route: Upstream) => void): boolean {
    const gw = this.gw
    const app = env.app.config
    if (env.held >= app.maxHeld) return false
    env.held++
    gw.holding++
    gw.counters.held++
    let settled = false
    const settle = () => {
      if (settled) return false
      settled = true
      env.held--
      gw.holding--
      clearTimeout(timer)
      unwatch()
      this.shedders.delete(shed)
      return true
    }
    // Shutdown: answered rather than reset with the connection.
    const shed = () => { if (settle()) client.fail({ code: 'WAKEGATE_SHUTTING_DOWN' }) }
    this.shedders.add(shed)
    const timer = setTimeout(() => {
      if (settle()) client.fail({ code: 'WAKEGATE_HOLD_TIMEOUT', detail: `still ${env.state} after ${Math.round(app.holdTimeout / 1000)} s` })
    }, app.holdTimeout)
    // A client that gives up must not stay counted against the bound.
    const unwatch = client.watch(() => { settle() })
    gw.directory.wake(env, cause, true).then(route => {
      if (settle() && !client.gone) go(route)
    }, err => { if (settle()) client.fail(errorInfo(err)) })
    return true
  }

  /** Answers every held client 503 WAKEGATE_SHUTTING_DOWN. */
  shed (): void {
    for (const s of [...this.shedders]) s()
  }
}
