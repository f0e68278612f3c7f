// One keep-alive HTTP/1.1 connection to an upstream, carrying one exchange at a time.
//
// It speaks just enough HTTP/1.1 for a reverse proxy, without the per-request promises,
// timers and header objects of a general-purpose client: a request goes out as one
// pre-built head string (plus the streamed body), the response head is parsed once
// (response-head.ts), and body bytes are handed on as slices of what the socket read.
// Framing is strict (RFC 9112 §6): a response whose length cannot be trusted is read to the
// end of its connection, and that connection is never reused.
import { connect, type Socket } from 'node:net'
import { BODY_CHUNKED, BODY_NONE, upstreamError, type Exchange } from './exchange.js'
import { pumpBody } from './request-body.js'
import { FRAMING_CHUNKED, FRAMING_LENGTH, FRAMING_UNTIL_CLOSE, MAX_CHUNK_LINE, MAX_HEAD, MAX_TRAILERS, NO_BODY, headEnd, parseChunkSize, parseResponseHead, type HeadEnd, type ResponseHead } from './response-head.js'
import type { Upstream } from './upstream.js'

const CONNECT_TIMEOUT_MS = 5_000
/**
 * Every upstream socket reads into this one buffer (net.connect's `onread`): no Buffer per
 * read and no stream machinery. Reads are handled one at a time on this thread, so sharing
 * is safe as long as nothing keeps a view of it: what outlives the read (a partial head
 * here, body slices in the exchange) is copied.
 */
const READ_BUFFER = Buffer.allocUnsafeSlow(256 * 1024) // large reads: fewer syscalls per MiB streamed

/** Where the head found in a read ends (reused: one read is parsed at a time). */
const headAt: HeadEnd = { text: 0, body: 0 }
/** Left in a connection's parsed head once its headers array went to the exchange. */
const EMPTY: string[] = []

// Response parser phases; the first three body phases are the framings a head announces.
const HEAD = 0
const LENGTH = FRAMING_LENGTH
const CHUNK_SIZE = FRAMING_CHUNKED
const BODY_UNTIL_CLOSE = FRAMING_UNTIL_CLOSE
const CHUNK_DATA = 4
const CHUNK_DATA_END = 5
const TRAILERS = 6

export class UpstreamConnection {
  readonly socket: Socket
  exchange: Exchange | null = null
  /** Carrying an exchange (counted in the pool's busy count). */
  busy = false
  /** When the request was fully sent (headers timeout), or when it went idle. */
  since = 0
  /** Requests this connection carried. */
  uses = 0
  /** When the current exchange was sent. */
  sentAt = 0
  /** Its exchange runs long and no longer counts against the pool's cap (kept by the pool). */
  long = false
  /** Reads so far; the sweep compares it with `readMark` to see silence without a clock per read. */
  private reads = 0
  private readMark = 0
  private readMarkAt = 0
  private phase = HEAD
  private headBuf: Buffer | null = null
  private remaining = 0
  private line = ''
  private keepAlive = true
  private paused = false
  /** Bytes follow the response head in what was read (only valid if a body follows). */
  private more = false
  private responded = false
  /** The request body is still being written. */
  private sending = false
  private connected = false
  private connectTimer: NodeJS.Timeout | null = null
  private dead = false
  private unpipe: (() => void) | null = null
  /** Reused for every response head this connection parses. */
  private readonly parsed: ResponseHead = { status: 0, statusText: '', headers: [], framing: 0, length: -1, keepAlive: true }

  constructor (readonly upstream: Upstream) {
    const sock = connect({ host: upstream.host, port: upstream.port, onread: { buffer: READ_BUFFER, callback: this.onRead } })
    this.socket = sock
    sock.setNoDelay(true)
    sock.on('error', this.onError)
    sock.on('close', this.onClose)
    sock.once('connect', this.onConnect)
    this.connectTimer = setTimeout(this.onConnectTimeout, CONNECT_TIMEOUT_MS)
    this.connectTimer.unref()
  }

  /** Sends one request; the response comes back through the exchange's callbacks. */
  send (x: Exchange): void {
    this.exchange = x
    x.conn = this
    this.busy = true
    this.uses++
    this.phase = HEAD
    this.readMark = -1
    this.keepAlive = true
    this.responded = false
    const sock = this.socket
    const now = Date.now()
    this.sentAt = now
    if (x.bodyKind === BODY_NONE) {
      sock.write(x.head, 'latin1')
      this.since = now
      return
    }
    sock.write(x.head, 'latin1')
    this.sending = true
    this.since = Number.MAX_SAFE_INTEGER // the headers timeout starts once the body is sent
    this.unpipe = pumpBody(x.source, sock, x.bodyKind === BODY_CHUNKED, this.bodyDone)
  }

  /** The request body was sent in full, or its client went away mid-upload. */
  private readonly bodyDone = (aborted: boolean): void => {
    this.unpipe = null
    this.sending = false
    if (aborted) this.fail(upstreamError('client aborted the request body', 'UND_ERR_ABORTED'))
    else if (this.exchange !== null && !this.responded) this.since = Date.now()
  }

  /** Reads on after onBody asked for a pause, if `x` still owns this connection. */
  resume (x: Exchange): void {
    if (this.exchange === x && this.paused) {
      this.paused = false
      this.readMark = -1 // the silence while the client was slow is not the upstream's
      this.socket.resume()
    }
  }

  private pause (): void {
    this.paused = true
    this.socket.pause()
  }

  /** The client went away: drop the exchange and the connection (its response is unread). */
  abort (x: Exchange): void {
    if (this.exchange !== x) return
    this.exchange = null
    this.destroy()
  }

  destroy (): void {
    if (this.dead) return
    this.dead = true
    if (this.unpipe !== null) { this.unpipe(); this.unpipe = null }
    if (this.connectTimer) { clearTimeout(this.connectTimer); this.connectTimer = null }
    this.socket.destroy()
    this.upstream.forget(this)
  }

  /** Fails the current exchange (if any) and closes the connection. */
  fail (err: NodeJS.ErrnoException): void {
    const x = this.exchange
    this.exchange = null
    this.destroy()
    if (x !== null) x.onFail(err)
  }

  /** Headers timeout (called by the sweep). */
  timedOut (now: number, headersTimeout: number): boolean {
    return this.exchange !== null && !this.responded && now - this.since > headersTimeout
  }

  /**
   * Idle read timeout (called by the sweep): the response has begun and the upstream sent
   * nothing for `idle` ms. Not while reading is paused for a slow client.
   */
  stalled (now: number, idle: number): boolean {
    if (this.reads !== this.readMark) {
      this.readMark = this.reads
      this.readMarkAt = now
      return false
    }
    return this.responded && !this.paused && now - this.readMarkAt > idle
  }

  private onConnect = (): void => {
    this.connected = true
    if (this.connectTimer) { clearTimeout(this.connectTimer); this.connectTimer = null }
  }

  private onConnectTimeout = (): void => {
    this.connectTimer = null
    if (!this.connected) this.fail(upstreamError(`connect to ${this.upstream.origin} timed out`, 'UND_ERR_CONNECT_TIMEOUT'))
  }

  // A reset (rather than a clean close) also ends a close-delimited body: as truncated.
  private onError = (err: NodeJS.ErrnoException): void => { this.closed(err) }

  private onClose = (): void => { this.closed(null) }

  private closed (err: NodeJS.ErrnoException | null): void {
    const x = this.exchange
    const phase = this.phase
    this.exchange = null
    const wasDead = this.dead
    this.destroy()
    if (x === null || wasDead) return
    if (err === null && phase === BODY_UNTIL_CLOSE) { x.onEnd(); return }
    if (!this.responded && this.uses > 1 && x.replayable && this.headBuf === null) {
      // The keep-alive race: the server closed this idle connection as we reused it.
      this.upstream.retry(x)
      return
    }
    x.onFail(err ?? upstreamError('upstream closed the connection', 'UND_ERR_SOCKET'))
  }

  private onRead = (n: number, buf: Buffer): boolean => {
    this.reads++
    this.onData(buf.subarray(0, n))
    return !this.paused
  }

  /** Parses what one read brought; `chunk` is a view of the shared read buffer. */
  private onData (chunk: Buffer): void {
    let off = 0
    let len = chunk.length
    while (off < len) {
      const x = this.exchange
      if (x === null) {
        // Bytes nobody asked for: this connection cannot be trusted any more.
        this.destroy()
        return
      }
      switch (this.phase) {
        case HEAD: {
          let data = off === 0 ? chunk : chunk.subarray(off)
          let from = 0
          if (this.headBuf !== null) {
            from = Math.max(0, this.headBuf.length - 2)
            data = Buffer.concat([this.headBuf, data])
          }
          const found = headEnd(data, from, headAt)
          if (!found || headAt.body > MAX_HEAD) {
            if (found || data.length > MAX_HEAD) { this.fail(upstreamError('upstream response head too large', 'HPE_HEADER_OVERFLOW')); return }
            this.headBuf = this.headBuf !== null ? data : Buffer.from(data) // concat already copied
            return
          }
          this.headBuf = null
          chunk = data
          len = data.length
          off = headAt.body
          this.more = off < len
          if (!this.parseHead(x, data.toString('latin1', 0, headAt.text))) return
          // A body-less response completed: nothing may follow it (we never pipeline).
          if (this.exchange !== x) return
          break
        }
        case LENGTH: {
          const part = this.take(chunk, off)
          off += part.length
          if (this.remaining === 0) {
            if (off < len) this.keepAlive = false
            x.onBody(part)
            this.complete(x)
            return
          }
          if (!x.onBody(part)) this.pause()
          break
        }
        case CHUNK_SIZE:
        case CHUNK_DATA_END:
        case TRAILERS: {
          const nl = chunk.indexOf(10, off)
          const stop = nl === -1 ? len : nl
          this.line += chunk.toString('latin1', off, stop)
          if (this.line.length > MAX_CHUNK_LINE) { this.fail(upstreamError('upstream chunk line too long', 'HPE_INVALID_CHUNK_SIZE')); return }
          if (nl === -1) return
          off = nl + 1
          const line = this.line.charCodeAt(this.line.length - 1) === 13 ? this.line.slice(0, -1) : this.line
          this.line = ''
          if (this.phase === CHUNK_DATA_END) {
            if (line !== '') { this.fail(upstreamError('malformed chunked encoding from upstream', 'HPE_INVALID_CHUNK_SIZE')); return }
            this.phase = CHUNK_SIZE
          } else if (this.phase === CHUNK_SIZE) {
            const size = parseChunkSize(line)
            if (size < 0) { this.fail(upstreamError('malformed chunk size from upstream', 'HPE_INVALID_CHUNK_SIZE')); return }
            if (size === 0) { this.phase = TRAILERS; this.remaining = MAX_TRAILERS }
            else { this.remaining = size; this.phase = CHUNK_DATA }
          } else if (line === '') {
            if (off < len) this.keepAlive = false
            this.complete(x)
            return
          } else if ((this.remaining -= line.length + 2) < 0) { // a trailer field: read, not forwarded
            this.fail(upstreamError('upstream trailer section too large', 'HPE_HEADER_OVERFLOW'))
            return
          }
          break
        }
        case CHUNK_DATA: {
          const part = this.take(chunk, off)
          off += part.length
          if (this.remaining === 0) this.phase = CHUNK_DATA_END
          if (!x.onBody(part)) this.pause()
          break
        }
        case BODY_UNTIL_CLOSE: {
          if (!x.onBody(off === 0 ? chunk : chunk.subarray(off))) this.pause()
          return
        }
      }
    }
  }

  /** Up to `remaining` body bytes of `chunk` from `off` (a view, not a copy). */
  private take (chunk: Buffer, off: number): Buffer {
    const n = Math.min(this.remaining, chunk.length - off)
    this.remaining -= n
    return n === chunk.length ? chunk : chunk.subarray(off, off + n)
  }

  /** Parses a response head; false when the exchange failed or was handed a final answer. */
  private parseHead (x: Exchange, head: string): boolean {
    const r = this.parsed
    const err = parseResponseHead(head, x.headRequest, r)
    if (err !== null) { this.fail(err); return false }
    if (r.status < 200) return true // 1xx: not forwarded; the final answer follows
    if (!r.keepAlive) this.keepAlive = false
    this.responded = true
    const headers = r.headers
    r.headers = EMPTY // the array now belongs to the exchange
    if (!x.onResponse(r.status, r.statusText, headers, this)) return false
    if (this.exchange !== x) return false // failed or aborted inside onResponse
    if (r.framing === NO_BODY) {
      if (this.more) this.keepAlive = false
      this.complete(x)
      return true
    }
    this.phase = r.framing
    this.remaining = r.length
    return true
  }

  private complete (x: Exchange): void {
    this.exchange = null
    this.phase = HEAD
    if (this.paused) { this.paused = false; this.socket.resume() }
    if (this.keepAlive && !this.sending && !this.dead) this.upstream.release(this)
    else this.destroy()
    x.onEnd()
  }
}
