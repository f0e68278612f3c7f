// One running task as the proxy sees it: its address and a keep-alive pool of HTTP/1.1
// connections to it.
//
// The pool speaks just enough HTTP/1.1 for a reverse proxy, without the per-request
// promises, timers and header objects of a general-purpose client: a request goes out as
// one pre-built head string (plus the streamed body), the response head is parsed once into
// the flat [name, value, …] array ServerResponse#writeHead takes (hop-by-hop headers already
// dropped), and body bytes are handed on as slices of what the socket read. Framing is
// strict (RFC 9112 §6): a response whose length cannot be trusted is read to the end of its
// connection, and that connection is never reused. Timeouts (headers, idle keep-alive) are
// checked by one sweep timer per upstream rather than a timer per request.
import { connect, type Socket } from 'node:net'
import type { Readable } from 'node:stream'

export interface UpstreamOptions {
  connections: number
  headersTimeout: number
}

/** How the request body is framed towards the upstream. */
export type BodyKind = 0 | 1 | 2
export const BODY_NONE = 0
export const BODY_LENGTH = 1
export const BODY_CHUNKED = 2

/** One request/response through the pool; the proxy's Forward implements it. */
export interface Exchange {
  /** Request line and headers, blank line included. */
  readonly head: string
  readonly bodyKind: BodyKind
  /** Where the body comes from (the client's request) when bodyKind is not None. */
  readonly source: Readable
  /** A HEAD request: the response has no body whatever its headers say. */
  readonly headRequest: boolean
  /** May be sent once more on a fresh connection when a reused one was found closed. */
  readonly replayable: boolean
  /** The connection carrying it, set by the pool when sent. */
  conn: UpstreamConnection | null
  /** The final response head; `headers` is flat and hop-by-hop free. false = stop (failed). */
  onResponse (status: number, statusText: string, headers: string[], conn: UpstreamConnection): boolean
  /**
   * A slice of the body; false asks the connection to pause until conn.resume(). The slice
   * is a view of the shared read buffer, valid only during the call: copy what is kept.
   */
  onBody (chunk: Buffer): boolean
  /** The response ended (trailers are not forwarded). */
  onEnd (): void
  onFail (err: NodeJS.ErrnoException): void
}

/** Keep-alive connections idle longer than this are not reused (servers close at ~5 s). */
const IDLE_REUSE_MS = 3_000
/** …and are closed by the sweep after this. */
const IDLE_CLOSE_MS = 4_000
const CONNECT_TIMEOUT_MS = 5_000
const MAX_HEAD = 64 * 1024
/**
 * Every upstream socket reads into this one buffer (net.connect's `onread`): no Buffer per
 * read and no stream machinery. Reads are handled one at a time on this thread, so sharing
 * is safe as long as nothing keeps a view of it: what outlives the read (a partial head
 * here, body slices in the exchange) is copied.
 */
const READ_BUFFER = Buffer.allocUnsafeSlow(256 * 1024) // large reads: fewer syscalls per MiB streamed
const UPLOAD_SLACK = 128 * 1024
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1')
const CHUNK_END = Buffer.from('\r\n', 'latin1')
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1')

function upstreamError (message: string, code: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message)
  err.code = code
  return err
}

// Response parser phases.
const HEAD = 0
const LENGTH = 1
const CHUNK_SIZE = 2
const CHUNK_DATA = 3
const CHUNK_DATA_END = 4
const TRAILERS = 5
const BODY_UNTIL_CLOSE = 6

export class UpstreamConnection {
  readonly socket: Socket
  exchange: Exchange | null = null
  /** Carrying an exchange (counted in the pool's busy count). */
  busy = false
  /** When the request was fully sent (headers timeout), or when it went idle. */
  since = 0
  /** Requests this connection carried. */
  uses = 0
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
    this.keepAlive = true
    this.responded = false
    const sock = this.socket
    if (x.bodyKind === BODY_NONE) {
      sock.write(x.head, 'latin1')
      this.since = Date.now()
      return
    }
    sock.write(x.head, 'latin1')
    this.sending = true
    this.since = Number.MAX_SAFE_INTEGER // the headers timeout starts once the body is sent
    this.pump(x.source, x.bodyKind === BODY_CHUNKED)
  }

  /** Streams the request body with backpressure both ways. */
  private pump (src: Readable, chunked: boolean): void {
    const sock = this.socket
    // Chunks read in the same tick go out in one writev.
    let corked = false
    const uncork = () => { corked = false; sock.uncork() }
    const onData = (c: Buffer) => {
      if (c.length === 0) return
      if (!corked) {
        corked = true
        sock.cork()
        process.nextTick(uncork)
      }
      let ok: boolean
      if (chunked) {
        sock.write(c.length.toString(16) + '\r\n', 'latin1')
        sock.write(c)
        ok = sock.write(CHUNK_END)
      } else ok = sock.write(c)
      // As for responses (forward.ts): pause the client only past some slack, not at every
      // "full" a 16 KiB high-water mark reports after each large chunk.
      if (!ok && sock.writableLength >= UPLOAD_SLACK) src.pause()
    }
    const onDrain = () => { if (src.isPaused()) src.resume() }
    const onEnd = () => {
      cleanup()
      if (chunked) sock.write(LAST_CHUNK)
      this.sending = false
      if (this.exchange !== null && !this.responded) this.since = Date.now()
    }
    const onGone = () => {
      // The client went away mid-upload: the upstream got a truncated request.
      if ((src as { complete?: boolean }).complete) return
      cleanup()
      this.sending = false
      this.fail(upstreamError('client aborted the request body', 'UND_ERR_ABORTED'))
    }
    const cleanup = () => {
      this.unpipe = null
      src.removeListener('data', onData)
      src.removeListener('end', onEnd)
      src.removeListener('close', onGone)
      src.removeListener('error', onGone)
      sock.removeListener('drain', onDrain)
    }
    this.unpipe = cleanup
    src.on('data', onData)
    src.once('end', onEnd)
    src.once('close', onGone)
    src.once('error', onGone)
    sock.on('drain', onDrain)
    src.resume()
  }

  /** Reads on after onBody asked for a pause, if `x` still owns this connection. */
  resume (x: Exchange): void {
    if (this.exchange === x && this.paused) {
      this.paused = false
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
    this.unpipe?.()
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
            from = Math.max(0, this.headBuf.length - 3)
            data = Buffer.concat([this.headBuf, data])
          }
          const end = data.indexOf(CRLFCRLF, from)
          if (end === -1) {
            if (data.length > MAX_HEAD) { this.fail(upstreamError('upstream response head too large', 'HPE_HEADER_OVERFLOW')); return }
            this.headBuf = this.headBuf !== null ? data : Buffer.from(data) // concat already copied
            return
          }
          this.headBuf = null
          chunk = data
          len = data.length
          off = end + 4
          this.more = off < len
          if (!this.parseHead(x, data.toString('latin1', 0, end))) return
          // A body-less response completed: nothing may follow it (we never pipeline).
          if (this.exchange !== x) return
          break
        }
        case LENGTH: {
          const n = Math.min(this.remaining, len - off)
          const part = n === len ? chunk : chunk.subarray(off, off + n)
          off += n
          this.remaining -= n
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
          if (this.line.length > 8192) { this.fail(upstreamError('upstream chunk line too long', 'HPE_INVALID_CHUNK_SIZE')); return }
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
            if (size === 0) this.phase = TRAILERS
            else { this.remaining = size; this.phase = CHUNK_DATA }
          } else if (line === '') {
            if (off < len) this.keepAlive = false
            this.complete(x)
            return
          } // else a trailer field: read, not forwarded
          break
        }
        case CHUNK_DATA: {
          const n = Math.min(this.remaining, len - off)
          const part = n === len ? chunk : chunk.subarray(off, off + n)
          off += n
          this.remaining -= n
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

function statusCode (head: string): number {
  const a = head.charCodeAt(9) - 48
  const b = head.charCodeAt(10) - 48
  const c = head.charCodeAt(11) - 48
  if (a < 1 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return -1
  if (head.length > 12 && head.charCodeAt(12) !== 32 && head.charCodeAt(12) !== 13) return -1
  return a * 100 + b * 10 + c
}

function trimOws (s: string, from: number, to: number): string {
  while (from < to && (s.charCodeAt(from) === 32 || s.charCodeAt(from) === 9)) from++
  while (to > from && (s.charCodeAt(to - 1) === 32 || s.charCodeAt(to - 1) === 9)) to--
  return s.slice(from, to)
}

/** 1*DIGIT, no sign, no spaces; -1 when not one. */
function parseLength (v: string): number {
  if (v.length === 0 || v.length > 15) return -1
  let n = 0
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    n = n * 10 + c
  }
  return n
}

/** chunk-size [ ; chunk-ext ]; -1 when malformed. */
function parseChunkSize (line: string): number {
  let n = 0
  let i = 0
  for (; i < line.length; i++) {
    const c = line.charCodeAt(i)
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1
    if (d === -1) break
    n = n * 16 + d
    if (i >= 12) return -1
  }
  if (i === 0) return -1
  if (i < line.length) {
    const c = line.charCodeAt(i)
    if (c !== 59 /* ; */ && c !== 32 && c !== 9) return -1
  }
  return n
}

function dropHeader (headers: string[], lower: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i].length === lower.length && headers[i].toLowerCase() === lower) headers.splice(i, 2)
  }
}

const EMPTY: string[] = []
/** Response framing: no body (HEAD, 204, 304, Content-Length: 0). */
export const NO_BODY = -1
export const FRAMING_LENGTH = LENGTH
export const FRAMING_CHUNKED = CHUNK_SIZE
export const FRAMING_UNTIL_CLOSE = BODY_UNTIL_CLOSE

/** What a response head says; one object per connection, filled in for every response. */
export interface ResponseHead {
  status: number
  statusText: string
  /** Flat [name, value, …], hop-by-hop headers and those Connection names dropped. */
  headers: string[]
  /** NO_BODY, FRAMING_LENGTH, FRAMING_CHUNKED or FRAMING_UNTIL_CLOSE */
  framing: number
  /** Content-Length, or -1 */
  length: number
  /** The connection may carry another request after this response. */
  keepAlive: boolean
}

/**
 * Parses a response head (status line and header lines, without the blank line) into `out`.
 * Returns null, or the error that makes the response unusable (and its connection unsafe).
 */
export function parseResponseHead (head: string, headRequest: boolean, out: ResponseHead): NodeJS.ErrnoException | null {
  // Status line: HTTP/1.x SP 3DIGIT SP reason
  if (head.length < 12 || !head.startsWith('HTTP/1.') || head.charCodeAt(8) !== 32) return upstreamError('malformed status line from upstream', 'HPE_INVALID_CONSTANT')
  const http10 = head.charCodeAt(7) === 48 /* 0 */
  const status = statusCode(head)
  if (status < 0) return upstreamError('malformed status code from upstream', 'HPE_INVALID_STATUS')
  let eol = head.indexOf('\r\n')
  if (eol === -1) eol = head.length
  const headers: string[] = []
  let contentLength = -1
  let te = ''
  let connection = ''
  let pos = eol + 2
  while (pos < head.length) {
    let next = head.indexOf('\r\n', pos)
    if (next === -1) next = head.length
    const colon = head.indexOf(':', pos)
    if (colon === -1 || colon >= next || colon === pos) return upstreamError('malformed header line from upstream', 'HPE_INVALID_HEADER_TOKEN')
    const c0 = head.charCodeAt(pos)
    const cb = head.charCodeAt(colon - 1)
    // obs-fold, or whitespace before the colon (RFC 9112 §5.1): refused, as llhttp does.
    if (c0 === 32 || c0 === 9 || cb === 32 || cb === 9) return upstreamError('malformed header line from upstream', 'HPE_INVALID_HEADER_TOKEN')
    const name = head.slice(pos, colon)
    const value = trimOws(head, colon + 1, next)
    pos = next + 2
    // Hop-by-hop and framing headers, by length first so most headers skip the lower-casing.
    if (SPECIAL_SHAPE.has(name.length * 32 + ((name.charCodeAt(0) | 0x20) & 31))) {
      switch (name.toLowerCase()) {
        case 'connection': connection = connection ? `${connection},${value}` : value; continue
        case 'keep-alive': case 'te': case 'upgrade': case 'proxy-connection': case 'proxy-authenticate': case 'proxy-authorization': continue
        case 'trailer': continue // trailers are read, not forwarded
        case 'transfer-encoding': te = te ? `${te},${value}` : value; continue
        case 'content-length': {
          const n = parseLength(value)
          if (n < 0 || (contentLength !== -1 && contentLength !== n)) return upstreamError('invalid Content-Length from upstream', 'HPE_UNEXPECTED_CONTENT_LENGTH')
          if (contentLength !== -1) continue // a repeated identical value is sent once
          contentLength = n
          break
        }
      }
    }
    headers.push(name, value)
  }
  out.status = status
  if (status < 200) {
    // 1xx (100 Continue, 103 Early Hints) are skipped; 101 is never asked for on this path.
    return status === 101 ? upstreamError('unexpected 101 from upstream', 'HPE_INVALID_STATUS') : null
  }
  out.statusText = eol > 13 ? head.slice(13, eol) : ''
  let keepAlive = !http10
  // Connection: close / keep-alive, and the headers it names as hop-by-hop.
  if (connection !== '') {
    let close = false
    let ka = false
    for (let t of connection.toLowerCase().split(',')) {
      t = t.trim()
      if (t === 'close') close = true
      else if (t === 'keep-alive') ka = true
      else if (t !== '' && t !== 'upgrade') dropHeader(headers, t)
    }
    keepAlive = !close && (!http10 || ka)
  }
  // Framing (RFC 9112 §6.3).
  let framing: number
  if (headRequest || status === 204 || status === 304) framing = NO_BODY
  else if (te !== '') {
    if (contentLength !== -1) {
      // Both: Transfer-Encoding wins, and the connection is not reused (smuggling guard).
      dropHeader(headers, 'content-length')
      keepAlive = false
    }
    if (!http10 && /(^|,)\s*chunked\s*$/i.test(te)) framing = CHUNK_SIZE
    else { framing = BODY_UNTIL_CLOSE; keepAlive = false }
  } else if (contentLength !== -1) framing = contentLength === 0 ? NO_BODY : LENGTH
  else { framing = BODY_UNTIL_CLOSE; keepAlive = false }
  out.headers = headers
  out.framing = framing
  out.length = contentLength
  out.keepAlive = keepAlive
  return null
}

/** (length, first letter) of the headers parseResponseHead handles: the rest skip the lower-casing. */
const SPECIAL_SHAPE = new Set(['connection', 'keep-alive', 'te', 'upgrade', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'trailer', 'transfer-encoding', 'content-length']
  .map(n => n.length * 32 + ((n.charCodeAt(0) | 0x20) & 31)))

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
  private readonly headersTimeout: number
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
    this.headersTimeout = opts.headersTimeout
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
    if (conn === null) { this.queue.push(x); return }
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
    if (this.conns.size >= this.max) return null
    const c = new UpstreamConnection(this)
    this.conns.add(c)
    if (this.sweeper === null) this.startSweep()
    return c
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
    const next = this.dequeue()
    if (next !== null) { this.send(conn, next); return }
    conn.since = Date.now()
    if (this.closed) { conn.destroy(); return }
    this.idle.push(conn)
  }

  /** A connection is gone (closed, failed or destroyed). */
  forget (conn: UpstreamConnection): void {
    if (!this.conns.delete(conn)) return
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
    const every = Math.max(25, Math.min(1000, Math.floor(this.headersTimeout / 4)))
    this.sweeper = setInterval(() => this.sweep(), every)
    this.sweeper.unref()
  }

  private sweep (): void {
    const now = Date.now()
    for (const c of this.conns) {
      if (c.exchange !== null) {
        if (c.timedOut(now, this.headersTimeout)) c.fail(upstreamError(`no response headers within ${this.headersTimeout} ms`, 'UND_ERR_HEADERS_TIMEOUT'))
      } else if (now - c.since >= IDLE_CLOSE_MS) c.destroy()
    }
    if (this.conns.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper)
      this.sweeper = null
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
