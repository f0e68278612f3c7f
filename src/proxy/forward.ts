// Streams one request to an upstream through undici's dispatcher and the response back.
// A class rather than closures: one object per request, methods on the prototype.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import type { Env } from '../lifecycle/env.js'
import type { Upstream } from './upstream.js'
import { forwardRequestHeaders, forwardResponseHeaders, hasBody } from './headers.js'

export interface ForwardHost {
  /** Extra response headers every proxied response carries (X-Robots-Tag). */
  readonly staticHeaders: string[] | null
  readonly appendForwarded: boolean
  /** Called when the upstream could not be reached or failed before answering. */
  upstreamFailed (fwd: Forward, err: NodeJS.ErrnoException): void
}

/** content-type: text/event-stream among raw response headers. */
function isEventStream (raw: Buffer[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 12 && raw[i].toString('latin1').toLowerCase() === 'content-type') {
      return raw[i + 1].toString('latin1').toLowerCase().startsWith('text/event-stream')
    }
  }
  return false
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])

export class Forward implements Dispatcher.DispatchHandler {
  private abortFn: ((err?: Error) => void) | null = null
  responded = false
  private done = false
  private paused = false
  readonly body: boolean

  constructor (
    readonly host: ForwardHost,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly env: Env,
    readonly upstream: Upstream,
    /** Milliseconds this request waited for a wake, or -1 when it did not. */
    readonly waited: number,
    readonly attempt: number
  ) {
    this.body = hasBody(req.headers)
  }

  /** Safe to send again after a connection failure: idempotent and no body consumed. */
  get retryable (): boolean {
    return this.attempt === 0 && !this.body && !this.responded && IDEMPOTENT.has(this.req.method ?? '')
  }

  start (): void {
    const { req, upstream, env } = this
    env.inflight++
    upstream.inflight++
    this.res.once('close', this.onClientClose)
    const sock = req.socket
    upstream.pool.dispatch({
      path: req.url ?? '/',
      method: req.method as Dispatcher.HttpMethod,
      headers: forwardRequestHeaders(req.rawHeaders, {
        remoteAddress: sock.remoteAddress ?? '',
        proto: (sock as { encrypted?: boolean }).encrypted ? 'https' : 'http',
        host: req.headers.host ?? '',
        append: this.host.appendForwarded
      }),
      body: this.body ? req : null,
      upgrade: null
    }, this)
  }

  private onClientClose = (): void => {
    // Client went away before the response ended: stop reading from the upstream.
    if (!this.done && this.abortFn) this.abortFn(new Error('client closed'))
  }

  onConnect (abort: (err?: Error) => void): void {
    this.abortFn = abort
  }

  onHeaders (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true // 1xx: Node answers 100-continue itself
    const res = this.res
    this.responded = true
    let add = this.host.staticHeaders
    if (this.waited >= 0 || this.env.coldPending) {
      const ms = this.waited >= 0 ? this.waited : this.env.lastWakeMs
      this.env.coldPending = false
      add = [...(add ?? []), 'x-wakegate-cold-start', String(ms), 'server-timing', `wake;dur=${ms};desc="cold start"`]
    }
    res.writeHead(statusCode, statusText, forwardResponseHeaders(rawHeaders, add))
    this.resumeFn = resume
    if (isEventStream(rawHeaders)) {
      // A server-sent event stream is a long-lived stream: activity while open, ended
      // cleanly (not cut) when its generation finishes draining.
      this.sse = true
      this.env.streams++
      this.upstream.streams++
      this.upstream.sse.add(this)
    }
    return true
  }

  private sse = false

  /** Ends an event stream as a clean end of response; the client's EventSource reconnects. */
  endCleanly (): void {
    if (this.done) return
    this.abortFn?.(new Error('stream ended by drain'))
    this.finish()
    this.res.end()
  }

  private resumeFn: (() => void) | null = null

  onData (chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true
    if (!this.paused) {
      this.paused = true
      this.res.once('drain', this.onDrain)
    }
    return false
  }

  private onDrain = (): void => {
    this.paused = false
    this.resumeFn?.()
  }

  onComplete (_trailers: string[] | null): void {
    this.finish()
    this.res.end()
  }

  onError (err: Error): void {
    const first = !this.done
    this.finish()
    if (!first) return
    if (this.responded) {
      // Mid-body failure: the status is already out, so cut the connection to signal it.
      // An event stream has no length to violate: end it cleanly so the client reconnects.
      if (this.sse) this.res.end()
      else this.res.destroy(err)
      return
    }
    if (this.res.destroyed || this.res.writableEnded) return
    this.host.upstreamFailed(this, err as NodeJS.ErrnoException)
  }

  private finish (): void {
    if (this.done) return
    this.done = true
    this.res.removeListener('close', this.onClientClose)
    const env = this.env
    env.inflight--
    this.upstream.inflight--
    env.lastSeen = Date.now()
    if (this.sse) {
      env.streams--
      this.upstream.streams--
      this.upstream.sse.delete(this)
    }
  }
}
