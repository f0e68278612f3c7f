// One running task as the proxy sees it: its address and a keep-alive pool of HTTP/1.1
// connections to it (upstream-connection.ts). `connections` caps the exchanges that are
// short: one busy for longer than LONG_EXCHANGE_MS (an event stream, a slow upload or
// download, a long poll) stops counting against it, so a few hundred open streams cannot
// starve ordinary requests (nginx caps only idle cached connections). Exchanges beyond
// the cap wait in a queue, at most `queueTimeout`. Timeouts (queue, headers, upstream idle
// read, idle keep-alive) are checked by one sweep timer per upstream rather than a timer
// per request.
import { QUEUE_TIMEOUT, upstreamError, type Exchange } from './exchange.js'
import { UpstreamConnection } from './upstream-connection.js'

export interface UpstreamOptions {
  /** Short exchanges in flight at most; more wait in the queue. */
  connections: number
  /** Longest wait in the queue (then WAKEGATE_QUEUE_TIMEOUT). */
  queueTimeout: number
  headersTimeout: number
  /** Longest silence of the upstream once its response has begun. */
  idleTimeout: number
}

/** The pool settings of the proxy section. */
export function upstreamOptions (proxy: { upstreamConnections: number, queueTimeout: number, headersTimeout: number, upstreamIdleTimeout: number }): UpstreamOptions {
  return { connections: proxy.upstreamConnections, queueTimeout: proxy.queueTimeout, headersTimeout: proxy.headersTimeout, idleTimeout: proxy.upstreamIdleTimeout }
}

/** An exchange busy this long no longer takes one of the `connections` slots. */
export const LONG_EXCHANGE_MS = 1_000
/** At capacity, busy connections are checked for long exchanges at most this often. */
const LONG_SCAN_MS = 50

/** Keep-alive connections idle longer than this are not reused (servers close at ~5 s). */
const IDLE_REUSE_MS = 3_000
/** …and are closed by the sweep after this. */
const IDLE_CLOSE_MS = 4_000

export class Upstream {
  readonly origin: string
  /** Requests and streams currently using this upstream (drain waits for 0). */
  inflight = 0
  streams = 0
  /** Server-sent event responses in flight, ended cleanly when this upstream drains. */
  readonly sse = new Set<{ endCleanly (): void }>()
  closed = false
  private destroyed = false
  private readonly max: number
  private readonly opts: UpstreamOptions
  /** Busy connections whose exchange became long-lived (not counted against `max`). */
  private long = 0
  private lastLongScan = 0
  /** Every open connection; idle ones also sit in `idle` (most recent last). */
  private readonly conns = new Set<UpstreamConnection>()
  private readonly idle: UpstreamConnection[] = []
  private queue: Exchange[] = []
  private queueHead = 0
  private busy = 0
  private sweeper: NodeJS.Timeout | null = null
  private closeWaiters: Array<() => void> = []
  private finishing = false

  constructor (readonly host: string, readonly port: number, readonly generation: number, opts: UpstreamOptions) {
    this.origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
    this.max = opts.connections
    this.opts = opts
  }

  /** Sends an exchange on an idle connection, a new one, or queues it while all are busy. */
  request (x: Exchange): void {
    if (this.closed) {
      x.onFail(upstreamError(this.destroyed ? 'upstream destroyed' : 'upstream closed', this.destroyed ? 'UND_ERR_DESTROYED' : 'UND_ERR_CLOSED'))
      return
    }
    this.dispatch(x)
  }

  private dispatch (x: Exchange): void {
    const conn = this.acquire()
    if (conn === null) {
      x.queuedAt = Date.now()
      this.queue.push(x)
      return
    }
    this.send(conn, x)
  }

  private send (conn: UpstreamConnection, x: Exchange): void {
    this.busy++
    conn.send(x)
  }

  private acquire (): UpstreamConnection | null {
    const now = Date.now()
    while (this.idle.length > 0) {
      const c = this.idle.pop()!
      if (now - c.since < IDLE_REUSE_MS) return c
      c.destroy()
    }
    if (this.conns.size - this.long >= this.max && !this.findLong(now)) return null
    const c = new UpstreamConnection(this)
    this.conns.add(c)
    if (this.sweeper === null) this.startSweep()
    return c
  }

  /** Marks busy connections whose exchange has run for LONG_EXCHANGE_MS; true if any was found. */
  private findLong (now: number): boolean {
    if (now - this.lastLongScan < LONG_SCAN_MS) return false
    this.lastLongScan = now
    let found = false
    for (const c of this.conns) {
      if (c.busy && !c.long && now - c.sentAt >= LONG_EXCHANGE_MS) {
        c.long = true
        this.long++
        found = true
      }
    }
    return found
  }

  /** A connection stops carrying its (long) exchange. */
  private notLong (conn: UpstreamConnection): void {
    if (conn.long) { conn.long = false; this.long-- }
  }

  private dequeue (): Exchange | null {
    if (this.queueHead >= this.queue.length) return null
    const x = this.queue[this.queueHead++]
    if (this.queueHead === this.queue.length) { this.queue = []; this.queueHead = 0 }
    return x
  }

  /** A connection finished its response and may carry another request. */
  release (conn: UpstreamConnection): void {
    conn.busy = false
    this.busy--
    this.notLong(conn)
    const next = this.dequeue()
    if (next !== null) { this.send(conn, next); return }
    conn.since = Date.now()
    if (this.closed) { conn.destroy(); return }
    this.idle.push(conn)
  }

  /** A connection is gone (closed, failed or destroyed). */
  forget (conn: UpstreamConnection): void {
    if (!this.conns.delete(conn)) return
    this.notLong(conn)
    if (conn.busy) {
      conn.busy = false
      this.busy--
    } else {
      const i = this.idle.lastIndexOf(conn)
      if (i !== -1) this.idle.splice(i, 1)
    }
    // Queued exchanges get a fresh connection.
    if (!this.destroyed) {
      const next = this.dequeue()
      if (next !== null) this.dispatch(next)
    }
    this.checkClosed()
  }

  /** Sends an exchange again on a new connection (the keep-alive race). */
  retry (x: Exchange): void {
    if (this.destroyed) { x.onFail(upstreamError('upstream destroyed', 'UND_ERR_DESTROYED')); return }
    const c = new UpstreamConnection(this)
    this.conns.add(c)
    if (this.sweeper === null) this.startSweep()
    this.send(c, x)
  }

  /** Takes a queued exchange back (its client went away before it was sent). */
  cancel (x: Exchange): void {
    const i = this.queue.indexOf(x, this.queueHead)
    if (i !== -1) this.queue.splice(i, 1)
  }

  private startSweep (): void {
    const o = this.opts
    const every = Math.max(25, Math.min(1000, Math.floor(Math.min(o.headersTimeout, o.idleTimeout, o.queueTimeout) / 4)))
    this.sweeper = setInterval(() => this.sweep(), every)
    this.sweeper.unref()
  }

  private sweep (): void {
    const now = Date.now()
    const { headersTimeout, idleTimeout } = this.opts
    for (const c of this.conns) {
      if (c.exchange !== null) {
        if (c.timedOut(now, headersTimeout)) c.fail(upstreamError(`no response headers within ${headersTimeout} ms`, 'UND_ERR_HEADERS_TIMEOUT'))
        else if (c.stalled(now, idleTimeout)) c.fail(upstreamError(`upstream sent nothing for ${idleTimeout} ms`, 'UND_ERR_BODY_TIMEOUT'))
      } else if (now - c.since >= IDLE_CLOSE_MS) c.destroy()
    }
    this.expireQueued(now)
    // Long exchanges free their slots for what waits.
    if (this.queueHead < this.queue.length && this.findLong(now)) {
      while (this.queueHead < this.queue.length && this.conns.size - this.long < this.max) this.dispatch(this.dequeue()!)
    }
    if (this.conns.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper)
      this.sweeper = null
    }
  }

  /** Queued exchanges past queueTimeout fail (503 WAKEGATE_UPSTREAM_BUSY); the queue is FIFO. */
  private expireQueued (now: number): void {
    const limit = now - this.opts.queueTimeout
    while (this.queueHead < this.queue.length && this.queue[this.queueHead].queuedAt <= limit) {
      this.dequeue()!.onFail(upstreamError(`waited ${this.opts.queueTimeout} ms for a connection to ${this.origin}`, QUEUE_TIMEOUT))
    }
  }

  private checkClosed (): void {
    if (!this.closed || this.busy > 0 || this.queueHead < this.queue.length || this.finishing) return
    this.finishing = true
    for (const c of [...this.conns]) c.destroy()
    this.finishing = false
    if (this.sweeper !== null) { clearInterval(this.sweeper); this.sweeper = null }
    const waiters = this.closeWaiters
    this.closeWaiters = []
    for (const w of waiters) w()
  }

  /** Lets in-flight requests finish, then closes the pool's connections. */
  async close (): Promise<void> {
    if (this.closed) {
      if (this.busy === 0) return
      return new Promise(resolve => this.closeWaiters.push(resolve))
    }
    this.closed = true
    for (const c of this.idle.splice(0)) c.destroy()
    if (this.busy === 0 && this.queueHead >= this.queue.length) { this.checkClosed(); return }
    return new Promise(resolve => this.closeWaiters.push(resolve))
  }

  async destroy (): Promise<void> {
    this.closed = true
    this.destroyed = true
    const queued = this.queue.slice(this.queueHead)
    this.queue = []
    this.queueHead = 0
    for (const c of [...this.conns]) c.fail(upstreamError('upstream destroyed', 'UND_ERR_DESTROYED'))
    for (const x of queued) x.onFail(upstreamError('upstream destroyed', 'UND_ERR_DESTROYED'))
    this.checkClosed()
  }
}
