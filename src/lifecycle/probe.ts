// Readiness probe: HTTP GET on the health path (any status < 500 is ready) or a TCP connect.
import { request } from 'node:http'
import { connect } from 'node:net'

export interface ProbeTarget {
  host: string
  port: number
  /** HTTP path; undefined means a TCP connect. */
  path?: string
  /** Host header to send, so virtual-hosted apps answer. */
  hostHeader?: string
}

export type ProbeResult = { ok: true } | { ok: false, reason: string }

export function probeOnce (t: ProbeTarget, timeout: number): Promise<ProbeResult> {
  return new Promise(resolve => {
    if (t.path === undefined) {
      const sock = connect({ host: t.host, port: t.port })
      const timer = setTimeout(() => { sock.destroy(); resolve({ ok: false, reason: 'TCP connect timed out' }) }, timeout)
      sock.once('connect', () => { clearTimeout(timer); sock.destroy(); resolve({ ok: true }) })
      sock.once('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); resolve({ ok: false, reason: err.code ?? err.message }) })
      return
    }
    const req = request({
      host: t.host,
      port: t.port,
      path: t.path,
      method: 'GET',
      agent: false,
      timeout,
      headers: { host: t.hostHeader ?? `${t.host}:${t.port}`, 'user-agent': 'wakegate-probe', connection: 'close' }
    }, res => {
      res.resume()
      const status = res.statusCode ?? 0
      resolve(status < 500 ? { ok: true } : { ok: false, reason: `health check answered ${status}` })
    })
    req.once('timeout', () => req.destroy(new Error('health check timed out')))
    req.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, reason: err.code ?? err.message }))
    req.end()
  })
}

/**
 * Delays between probes: fast at first (10 ms, ×1.25), then every 50 ms. The ceiling is what
 * a request waits after the task is actually ready (on average half of it), so it stays
 * low: 100 ms made the median wake overhead ~55 ms, 50 ms makes it ~30 ms. A probe is one
 * small GET (or a TCP connect), so 20 a second while a task boots costs nothing that matters.
 */
export function nextProbeDelay (attempt: number): number {
  return Math.min(10 * Math.pow(1.25, attempt), 50)
}
