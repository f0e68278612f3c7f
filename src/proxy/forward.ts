// Streams one request to an upstream through its connection pool and the response back.
// A class rather than closures: one object per request, methods on the prototype, the
// request head built as one string, and the client's connection watched by one listener
// per socket rather than one per request.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Env } from '../lifecycle/env.js'
import { BODY_NONE, type BodyKind, type Exchange } from './exchange.js'
import type { Upstream } from './upstream.js'
import type { UpstreamConnection } from './upstream-connection.js'
import { requestHead } from './headers.js'
import { countedMachine, isNavigation, type ClientClassifier } from './clients.js'
import { SseScanner } from './heartbeats.js'
import { RELAYED_FROM, type Relayed } from '../access/relayed.js'

export interface ForwardHost {
  /** Extra response headers every proxied response carries (X-Robots-Tag). */
  readonly staticHeaders: string[] | null
  readonly appendForwarded: boolean
  /** Called when the upstream could not be reached or failed before answering. */
  upstreamFailed (fwd: Forward, err: NodeJS.ErrnoException): void
  /** The response failed after its head went out: the client's response is cut. */
  responseCut (fwd: Forward, err: NodeJS.ErrnoException): void
  /** The env's pending cold-start header went out. */
  coldServed (env: Env): void
  /** Tells machines (unfurlers, crawlers, monitors) from people. */
  readonly cold: { readonly clients: ClientClassifier }
}

/** content-type: text/event-stream among response headers. */
function isEventStream (headers: string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === 12 && headers[i].toLowerCase() === 'content-type') {
      const v = headers[i + 1]
      return v.length >= 17 && v.slice(0, 17).toLowerCase() === 'text/event-stream'
    }
  }
  return false
}

/** Bytes a response may have waiting to be written before its upstream is paused. */
export const STREAM_SLACK = 128 * 1024

/** Body slices up to this size are copied into Node's pooled small buffers. */
const SMALL_COPY = 8 * 1024
/** Larger ones go through recycled chunks the size of a read (at most 16 kept spare: 4 MiB). */
const CHUNK = 256 * 1024
const spareChunks: Buffer[] = []
function takeChunk (): Buffer { return spareChunks.pop() ?? Buffer.allocUnsafeSlow(CHUNK) }
function giveChunk (b: Buffer): void { if (spareChunks.length < 16) spareChunks.push(b) }

/**
 * Takes back a response head Node has stored but not yet written (it goes out with the first
 * body byte), so an upstream failing right after its head is still answered with a 502 page
 * rather than a closed connection. false once the head is on the wire.
 */
function takeBackHead (res: ServerResponse): boolean {
  const r = res as ServerResponse & { _header: string | null, _headerSent: boolean }
  if (r._headerSent !== false || typeof r._header !== 'string') return false // only where Node keeps these fields as expected
  r._header = null
  return true
}

/** A person's stream ended: the time counts as activity if streams were still counting (not a forgotten tab's). */
export function stillActive (env: Env, now = Date.now()): void {
  if (now - env.streamActiveAt < env.app.config.streamQuietTimeout) env.lastSeen = now
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])

/** The Forward currently using a client connection, so one 'close' listener serves them all. */
const kForward = Symbol('wakegate.forward')
type WatchedSocket = Socket & { [kForward]?: Forward | null }

function onClientSocketClose (this: WatchedSocket): void {
  const f = this[kForward]
  this[kForward] = null
  if (f) f.clientGone()
}

export class Forward implements Exchange {
  responded = false
  private done = false
  private sse = false
  /** A machine's request: in flight like any other, but never activity. */
  private machine = false
  /** A person's event stream: its data events are activity, its comments and empty events are not. */
  private scan: SseScanner | null = null
  /** Watching the client through res 'close' (a second request in flight on one socket). */
  private onResClose: (() => void) | null = null
  private drainFn: (() => void) | null = null
  readonly body: boolean
  readonly head: string
  bodyKind: BodyKind = BODY_NONE
  readonly headRequest: boolean
  conn: UpstreamConnection | null = null
  queuedAt = 0

  constructor (
    readonly host: ForwardHost,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly env: Env,
    readonly upstream: Upstream,
    /** Milliseconds this request waited for a wake, or -1 (also when the wake's header is a page load's). */
    readonly waited: number,
    readonly attempt: number
  ) {
    const sock = req.socket
    const method = req.method ?? 'GET'
    this.head = requestHead(method, req.url ?? '/', req.rawHeaders, {
      remoteAddress: sock.remoteAddress ?? '',
      proto: (sock as { encrypted?: boolean }).encrypted ? 'https' : 'http',
      host: req.headers.host ?? '',
      // A request another replica relayed carries the X-Forwarded-* it wrote from the
      // client's own connection (address, https): kept, with the relay's hop appended.
      append: host.appendForwarded || (req as Relayed)[RELAYED_FROM] !== undefined
    }, this)
    this.body = this.bodyKind !== BODY_NONE
    this.headRequest = method === 'HEAD'
  }

  /** The request body source (Exchange). */
  get source (): IncomingMessage { return this.req }

  /** Safe to send again after a connection failure: idempotent and no body consumed. */
  get retryable (): boolean {
    return this.attempt === 0 && !this.body && !this.responded && IDEMPOTENT.has(this.req.method ?? '')
  }

  /** May be replayed on a fresh connection when a reused keep-alive one was found closed. */
  get replayable (): boolean {
    return !this.body && IDEMPOTENT.has(this.req.method ?? '')
  }

  start (): void {
    const env = this.env
    // Counted once per request: the cold path counted it already, a retry is the same request.
    const counted = countedMachine(this.req)
    const clients = this.host.cold.clients
    this.machine = counted ?? (this.attempt === 0 ? clients.count(this.req, env.app.clients) : clients.isMachine(this.req))
    env.inflight++
    if (this.machine) env.passive++
    this.upstream.inflight++
    const sock = this.req.socket as WatchedSocket
    const cur = sock[kForward]
    if (cur === undefined) {
      sock.on('close', onClientSocketClose)
      sock[kForward] = this
    } else if (cur === null) {
      sock[kForward] = this
    } else {
      // Another request of this connection is still in flight (pipelining): watch this one by its response.
      this.onResClose = () => { if (!this.done) this.clientGone() }
      this.res.once('close', this.onResClose)
    }
    this.upstream.request(this)
  }

  /** The client went away before the response ended: stop reading from the upstream. */
  clientGone (): void {
    if (this.done) return
    const conn = this.conn
    this.finish()
    if (conn !== null) conn.abort(this)
    else this.upstream.cancel(this)
  }

  onResponse (statusCode: number, statusText: string, headers: string[]): boolean {
    const res = this.res
    this.responded = true
    const add = this.host.staticHeaders
    if (add !== null) for (let i = 0; i < add.length; i++) headers.push(add[i])
    if (this.waited >= 0 || this.env.coldPending !== false) this.coldStart(headers)
    const sse = isEventStream(headers)
    try {
      res.writeHead(statusCode, statusText, headers)
    } catch (err) {
      // Headers Node refuses to send (invalid characters): a bad gateway answer.
      this.responded = false
      this.conn?.abort(this)
      this.onFail(Object.assign(err as Error, { code: 'HPE_INVALID_HEADER_TOKEN' }))
      return false
    }
    if (sse) {
      // A server-sent event stream is a long-lived stream: activity while open, ended
      // cleanly (not cut) when its generation finishes draining.
      this.sse = true
      if (!this.machine) {
        // Opening a stream is real traffic; after that only its data events are, not its being open.
        this.scan = new SseScanner()
        this.env.passive++
        this.env.streamActiveAt = this.env.lastSeen = Date.now()
      }
      this.env.streams++
      this.upstream.streams++
      this.upstream.sse.add(this)
    }
    return true
  }

  /** The cold-start headers, on the response a reviewer sees: a document when a page load was part of the wake. */
  private coldStart (headers: string[]): void {
    const env = this.env
    if (env.coldPending === 'navigation' && !isNavigation(this.req)) return
    const ms = this.waited >= 0 ? this.waited : env.lastWakeMs
    if (env.coldPending !== false) this.host.coldServed(env)
    headers.push('x-wakegate-cold-start', String(ms), 'server-timing', `wake;dur=${ms};desc="cold start"`)
  }

  /** Ends an event stream as a clean end of response; the client's EventSource reconnects. */
  endCleanly (): void {
    if (this.done) return
    const conn = this.conn
    this.finish()
    conn?.abort(this)
    this.res.end()
  }

  onBody (view: Buffer): boolean {
    const res = this.res
    if (this.scan !== null && this.scan.feed(view)) this.env.streamActiveAt = this.env.lastSeen = Date.now()
    // `view` is the shared read buffer: small slices are copied into Node's buffer pool, large
    // ones into a recycled chunk that returns to the pool once written (no 64 KiB allocation,
    // page faults and GC per read of a big download).
    let ok: boolean
    if (view.length <= SMALL_COPY || view.length > CHUNK) ok = res.write(Buffer.from(view))
    else {
      const chunk = takeChunk()
      view.copy(chunk)
      ok = res.write(chunk.length === view.length ? chunk : chunk.subarray(0, view.length), () => giveChunk(chunk))
    }
    // A socket's write() says "full" past 16 KiB, i.e. after every large read: stopping the
    // upstream there costs a stop/start per chunk. Up to STREAM_SLACK in flight per response
    // keeps both sides moving; past it, the upstream waits for the client (bounded memory).
    if (ok || res.writableLength < STREAM_SLACK) return true
    if (this.drainFn === null) this.drainFn = () => { this.conn?.resume(this) }
    res.once('drain', this.drainFn)
    return false
  }

  onEnd (): void {
    this.finish()
    this.res.end()
  }

  onFail (err: NodeJS.ErrnoException): void {
    const first = !this.done
    this.finish()
    if (!first) return
    if (this.responded && takeBackHead(this.res)) this.responded = false
    if (this.responded) {
      // Mid-body failure: the status is already out, so cut the connection to signal it.
      // An event stream has no length to violate: end it cleanly so the client reconnects.
      this.host.responseCut(this, err)
      if (this.sse) this.res.end()
      else this.res.destroy(err)
      return
    }
    if (this.res.destroyed || this.res.writableEnded) return
    this.host.upstreamFailed(this, err)
  }

  private finish (): void {
    if (this.done) return
    this.done = true
    if (this.onResClose !== null) this.res.removeListener('close', this.onResClose)
    else {
      const sock = this.req.socket as WatchedSocket
      if (sock[kForward] === this) sock[kForward] = null
    }
    const env = this.env
    env.inflight--
    this.upstream.inflight--
    if (this.machine) env.passive--
    else if (this.scan === null) env.lastSeen = Date.now()
    else {
      env.passive--
      stillActive(env) // a stream: its end is activity only while streams count
    }
    if (this.sse) {
      env.streams--
      this.upstream.streams--
      this.upstream.sse.delete(this)
    }
  }
}
