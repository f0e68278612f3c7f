// The plain-HTTP listener of a TLS install (`listen.tls.redirectPort`): every request is
// answered with a 308 to the same host and path over https, so typed hosts and old http://
// links land on the TLS listener (308, not 301: a POST stays a POST). Nothing is proxied or
// woken here, and no HSTS is sent (browsers ignore it over plain HTTP).
//
// `/__wakegate/healthz` is answered directly rather than redirected: health checks (a
// container's HEALTHCHECK, a monitor on the machine) often probe plain HTTP on a local
// address, where following a redirect to the public name and its certificate would fail.
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { errorResponse, wantsHtml } from './error-response.js'
import type { ErrorCode } from '../errors.js'

const HEALTH = '/__wakegate/healthz'
/** A DNS name or a bracketed IPv6 literal: the only hosts a Location is built from. */
const HOST = /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?|\[[0-9a-f:.]+\])$/

export class RedirectListener {
  readonly server: Server
  /** `:port` of the https URL, empty for 443 (set by listen). */
  private portPart = ''

  constructor (readonly port: number, options: ServerOptions, private readonly healthy: () => boolean) {
    this.server = createServer(options, (req, res) => this.answer(req, res))
  }

  /** Binds `host:port`; Location names `httpsPort` (the port people reach the TLS listener at). */
  async listen (host: string, httpsPort: number): Promise<AddressInfo> {
    this.portPart = httpsPort === 443 ? '' : `:${httpsPort}`
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.port, host, () => { this.server.off('error', reject); resolve() })
    })
    return this.server.address() as AddressInfo
  }

  private answer (req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? ''
    if (url === HEALTH) {
      const ok = this.healthy()
      const body = JSON.stringify({ ok })
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) })
      res.end(req.method === 'HEAD' ? undefined : body)
      return
    }
    // The body of a POST is not wanted here: close after the answer rather than read it.
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) res.shouldKeepAlive = false
    let host: string | undefined
    let path: string
    if (url.charCodeAt(0) === 47 /* / */) {
      host = hostOnly(req.headers.host)
      path = url
    } else if (/^https?:\/\//i.test(url)) {
      // Absolute-form (a client set up with a proxy): its authority is the host.
      let u: URL
      try { u = new URL(url) } catch { this.fail(req, res, 'WAKEGATE_BAD_TARGET'); return }
      if (u.username !== '' || u.password !== '') { this.fail(req, res, 'WAKEGATE_BAD_TARGET'); return }
      host = hostOnly(u.host)
      path = `${u.pathname}${u.search}`
    } else {
      this.fail(req, res, 'WAKEGATE_BAD_TARGET')
      return
    }
    if (host === undefined) { this.fail(req, res, 'WAKEGATE_BAD_HOST'); return }
    res.writeHead(308, { location: `https://${host}${this.portPart}${path}`, 'content-length': '0' })
    res.end()
  }

  private fail (req: IncomingMessage, res: ServerResponse, code: ErrorCode): void {
    const r = errorResponse({ code }, { html: wantsHtml(req.headers.accept), head: req.method === 'HEAD' })
    res.shouldKeepAlive = false
    res.writeHead(r.status, r.headers)
    res.end(r.body === '' ? undefined : r.body)
  }

  /** Stops listening and closes its connections (they only ever wait for a redirect). */
  close (): Promise<void> {
    if (!this.server.listening) return Promise.resolve()
    return new Promise(resolve => {
      this.server.close(() => resolve())
      this.server.closeIdleConnections()
      // A request mid-way gets a moment to be answered.
      setTimeout(() => this.server.closeAllConnections(), 1000).unref()
    })
  }
}

/** The host of a Host header without its port, lower-cased; undefined when it is not a plain host name. */
function hostOnly (raw: string | undefined): string | undefined {
  if (!raw) return undefined
  let host = raw.toLowerCase()
  if (host.charCodeAt(0) === 91 /* [ */) {
    const end = host.indexOf(']')
    if (end === -1) return undefined
    const rest = host.slice(end + 1)
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined
    host = host.slice(0, end + 1)
  } else {
    const colon = host.indexOf(':')
    if (colon !== -1) {
      if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return undefined
      host = host.slice(0, colon)
    }
  }
  return host.length <= 255 && HOST.test(host) ? host : undefined
}
