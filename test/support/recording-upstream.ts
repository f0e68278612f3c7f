// An upstream that records every byte each connection brings, answers the readiness probe,
// and lets a test answer everything else with exact bytes; a gateway whose env pr-1 is it.
import { createServer, type Socket } from 'node:net'
import { startGateway, testConfig, exampleApp } from './harness.js'
import { FixedBackend } from './raw-upstream.js'

export interface RecordedConnection {
  sock: Socket
  /** Every byte received so far, as latin1. */
  data: string
  closed: boolean
}

export async function recordingUpstream (answer: (conn: RecordedConnection, chunk: string) => void) {
  const all: RecordedConnection[] = []
  const server = createServer(sock => {
    const conn: RecordedConnection = { sock, data: '', closed: false }
    all.push(conn)
    sock.setEncoding('latin1')
    sock.on('error', () => {})
    sock.on('close', () => { conn.closed = true })
    sock.on('data', (chunk: string) => {
      conn.data += chunk
      if (conn.data.startsWith('GET /healthz ')) { sock.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok'); return }
      answer(conn, chunk)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    /** Connections other than the readiness probe's. */
    connections: () => all.filter(c => !c.data.startsWith('GET /healthz ')),
    close: () => new Promise<void>(resolve => { server.close(() => resolve()); for (const c of all) c.sock.destroy() })
  }
}

/** A gateway (with `proxy` settings) whose env pr-1.review.test is a recording upstream. */
export async function recordingGateway (t: { teardown (fn: () => unknown): void }, answer: (conn: RecordedConnection, chunk: string) => void, proxy: Record<string, unknown> = {}) {
  const up = await recordingUpstream(answer)
  const h = await startGateway(testConfig({ proxy }, [exampleApp()]), { backends: new Map([['example', new FixedBackend(up.port)]]) })
  t.teardown(async () => { await h.close(); await up.close() })
  return { h, up }
}
