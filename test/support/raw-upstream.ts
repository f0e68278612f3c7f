// A raw TCP upstream that parses requests just enough and lets a test answer with exact
// bytes, and a backend whose every task is that upstream.
import { createServer, type Socket } from 'node:net'
import { request } from 'undici'
import type { Backend, TaskRef, TaskSpec, TaskStatus } from '../../src/backends/backend.js'
import { startGateway, testConfig, exampleApp } from './harness.js'

export interface RawRequest { method: string, path: string, headers: Record<string, string>, body: Buffer, conn: number, nth: number }
export type Handler = (req: RawRequest, sock: Socket) => void

/** A TCP server that parses requests just enough and lets each test answer with raw bytes. */
export async function rawUpstream (handler: Handler) {
  let conns = 0
  const open = new Set<Socket>()
  const server = createServer(sock => {
    const conn = ++conns
    open.add(sock)
    sock.once('close', () => open.delete(sock))
    let nth = 0
    let buf = Buffer.alloc(0)
    sock.on('error', () => {})
    sock.on('data', d => {
      buf = Buffer.concat([buf, d])
      for (;;) {
        const end = buf.indexOf('\r\n\r\n')
        if (end === -1) return
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n')
        const [method, path] = lines[0].split(' ')
        const headers: Record<string, string> = {}
        for (const l of lines.slice(1)) { const i = l.indexOf(':'); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim() }
        let rest = buf.subarray(end + 4)
        let body = Buffer.alloc(0)
        if (headers['content-length']) {
          const n = Number(headers['content-length'])
          if (rest.length < n) return
          body = rest.subarray(0, n)
          rest = rest.subarray(n)
        } else if (headers['transfer-encoding'] === 'chunked') {
          const parts: Buffer[] = []
          let off = 0
          for (;;) {
            const nl = rest.indexOf('\r\n', off)
            if (nl === -1) return
            const size = parseInt(rest.subarray(off, nl).toString('latin1'), 16)
            if (rest.length < nl + 2 + size + 2) return
            if (size === 0) { off = nl + 4; break }
            parts.push(rest.subarray(nl + 2, nl + 2 + size))
            off = nl + 2 + size + 2
          }
          body = Buffer.concat(parts)
          rest = rest.subarray(off)
        }
        buf = rest
        if (path === '/healthz') { sock.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok'); return }
        handler({ method, path, headers, body, conn, nth: ++nth }, sock)
      }
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    port,
    connections: () => conns,
    /** Connections open right now. */
    open: () => open.size,
    close: () => new Promise<void>(resolve => { server.close(() => resolve()); for (const s of open) s.destroy() })
  }
}

/** Every task is the raw upstream on `port`. */
export class FixedBackend implements Backend {
  readonly kind = 'fixed'
  private seq = 0
  constructor (private readonly port: number) {}
  async start (spec: TaskSpec): Promise<TaskRef> { return { id: `f${++this.seq}`, app: spec.app, pr: spec.pr, sha: spec.sha, generation: spec.generation } }
  async describe (refs: TaskRef[]): Promise<TaskStatus[]> { return refs.map(ref => ({ ref, phase: 'running', endpoint: { host: '127.0.0.1', port: this.port } })) }
  async stop () {}
  async list () { return [] }
  async close () {}
}


/**
 * A gateway whose env pr-1 (app "example") is served by a raw upstream answering with
 * `handler`; `get` sends a request for that env.
 */
export async function rawGateway (t: { teardown (fn: () => unknown): void }, handler: Handler, proxy: Record<string, unknown> = {}) {
  const up = await rawUpstream(handler)
  const h = await startGateway(testConfig({ proxy: { headersTimeout: '2s', ...proxy } }, [exampleApp({ failureBackoff: '50ms' })]), { backends: new Map([['example', new FixedBackend(up.port)]]) })
  t.teardown(async () => { await h.close(); await up.close() })
  return { h, up, get: (path: string, opts: Parameters<typeof request>[1] = {}) => request(`${h.url}${path}`, { ...opts, headers: { host: 'pr-1.review.test', ...(opts?.headers as Record<string, string> | undefined) } }) }
}
