// A raw TCP client for tests where the exact bytes matter (timeouts, request targets,
// upgrades): it records everything the gateway sends and when the connection closes.
import { connect, type Socket } from 'node:net'

export interface RawClient {
  sock: Socket
  /** Everything received so far, as latin1. */
  text (): string
  /** Resolves once the gateway closed the connection (or it was reset). */
  closed: Promise<void>
  isClosed (): boolean
  /** Resolves once the received text satisfies `pred`, or rejects after `ms`. */
  until (pred: (text: string) => boolean, ms?: number): Promise<string>
}

export function rawClient (port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1')
    let data = ''
    let isClosed = false
    const waiters = new Set<() => void>()
    sock.setEncoding('latin1')
    sock.on('data', (d: string) => { data += d; for (const w of waiters) w() })
    sock.on('error', () => {})
    const closed = new Promise<void>(resolve => sock.once('close', () => { isClosed = true; for (const w of waiters) w(); resolve() }))
    const until = (pred: (text: string) => boolean, ms = 5000) => new Promise<string>((resolve, reject) => {
      const check = () => {
        if (pred(data)) { done(); resolve(data) } else if (isClosed) { done(); reject(new Error(`closed; received ${JSON.stringify(data)}`)) }
      }
      const timer = setTimeout(() => { done(); reject(new Error(`timed out; received ${JSON.stringify(data)}`)) }, ms)
      const done = () => { clearTimeout(timer); waiters.delete(check) }
      waiters.add(check)
      check()
    })
    sock.once('connect', () => resolve({ sock, text: () => data, closed, isClosed: () => isClosed, until }))
    sock.once('error', reject)
  })
}

/** Rejects if `p` does not settle within `ms`. */
export function within<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
    p.then(v => { clearTimeout(timer); resolve(v) }, e => { clearTimeout(timer); reject(e) })
  })
}

export interface RawResponse { status: number, reason: string, headers: Record<string, string>, body: string }

/**
 * The responses in `text`: heads, and bodies framed by Content-Length, chunked, or (for the
 * last one) the rest of the text. Stops at an incomplete response.
 */
export function parseResponses (text: string): RawResponse[] {
  const out: RawResponse[] = []
  let at = 0
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at)
    if (end === -1) break
    const lines = text.slice(at, end).split('\r\n')
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0])
    if (m === null) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`)
    const headers: Record<string, string> = {}
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':')
      const k = l.slice(0, i).toLowerCase()
      headers[k] = headers[k] === undefined ? l.slice(i + 1).trim() : `${headers[k]}, ${l.slice(i + 1).trim()}`
    }
    let body = ''
    at = end + 4
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length'])
      if (text.length < at + n) break
      body = text.slice(at, at + n)
      at += n
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const nl = text.indexOf('\r\n', at)
        if (nl === -1) return out
        const size = parseInt(text.slice(at, nl), 16)
        if (size === 0) { at = text.indexOf('\r\n\r\n', nl) + 4; break }
        body += text.slice(nl + 2, nl + 2 + size)
        at = nl + 2 + size + 2
      }
    } else if (m[1] !== '204' && m[1] !== '304' && !(m[1] >= '100' && m[1] < '200')) {
      body = text.slice(at)
      at = text.length
    }
    out.push({ status: Number(m[1]), reason: m[2], headers, body })
  }
  return out
}
