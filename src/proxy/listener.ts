// The public listener, built the same way by the single-process gateway (server.ts) and by
// every cluster worker: client timeouts, client errors, CONNECT refused, upgrades, and the
// open connections shutdown waits for.
//
// Client timeouts (nginx's client_header_timeout / client_body_timeout / keepalive_timeout):
// - head: Node's headersTimeout, from a connection's start or a request's first byte. A
//   partial head gets 408 + close; a connection that sent nothing is closed silently (there
//   is no request to answer, and an unasked-for 408 confuses clients that pre-connect).
// - body: the socket's idle timer, armed only for requests that have a body; it counts only
//   while the gateway is reading the body (not while the request is held, queued, or paused
//   because the app reads slowly). 408 + close when no response began, else the connection
//   is closed; either way the upstream exchange is aborted with the client's socket.
// - keep-alive: Node's keepAliveTimeout between requests.
//
// With `listen.tls` the listener is an https.Server built from the same options and
// listeners (tls.ts), plus, with `redirectPort`, a plain-HTTP listener that redirects to it
// (redirect.ts); both close with it.
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http'
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { ResolvedConfig, TlsConfig } from '../config/load.js'
import { formatDuration } from '../config/duration.js'
import type { Gateway } from './gateway.js'
import type { Upstream } from './upstream.js'
import { rawErrorResponse } from './error-response.js'
import { ALLOW } from './request-target.js'
import { createTlsServer, type CertWatcher } from './tls.js'
import { RedirectListener } from './redirect.js'

type ProxyConfig = ResolvedConfig['proxy']

export interface PublicServer {
  server: Server
  /** Open client connections (shutdown waits for them). */
  connections: Set<Socket>
  /** TLS: the certificate in use, kept current as its files change. */
  certs?: CertWatcher
  /** TLS with `redirectPort`: the plain-HTTP listener sending clients to https (bound by listenRedirect). */
  redirect?: RedirectListener
}

/** The response whose request body is being read on a socket (for its idle timer). */
const kBody = Symbol('wakegate.body')
type BodySocket = Socket & { [kBody]?: ServerResponse }

export function publicServerOptions (proxy: ProxyConfig): ServerOptions {
  const head = proxy.clientHeaderTimeout
  return {
    // No bound on a whole request: uploads and downloads are bounded by idle timeouts instead.
    requestTimeout: 0,
    headersTimeout: head,
    // Node checks headersTimeout only this often (every 30 s by default).
    connectionsCheckingInterval: head > 0 ? Math.max(10, Math.min(1000, Math.floor(head / 4))) : 30_000,
    keepAliveTimeout: proxy.keepAliveTimeout,
    // Two Host headers become "a, b", which matches no env; the miss path answers 400.
    joinDuplicateHeaders: true
  }
}

export function createPublicServer (proxy: ProxyConfig, gateway: Gateway, tls?: TlsConfig): PublicServer {
  const handle = gateway.handle
  const bodyTimeout = proxy.clientBodyTimeout
  const onRequest = bodyTimeout > 0
    ? (req: IncomingMessage, res: ServerResponse) => {
        if (bodyExpected(req)) {
          req.socket.setTimeout(bodyTimeout);
          (req.socket as BodySocket)[kBody] = res
        }
        handle(req, res)
      }
    : handle
  const options = publicServerOptions(proxy)
  const { server, certs } = tls === undefined ? { server: createServer(options, onRequest), certs: undefined } : createTlsServer(gateway.config, tls, options, onRequest, gateway.log)
  server.on('upgrade', gateway.handleUpgrade)
  server.on('connect', refuseConnect)
  server.on('clientError', onClientError)
  // A listener here means Node leaves every socket timeout (keep-alive idle, body idle) to us.
  server.on('timeout', (sock: BodySocket) => onSocketTimeout(sock, bodyTimeout, gateway))
  const connections = new Set<Socket>()
  server.on('connection', (sock: Socket) => {
    connections.add(sock)
    sock.once('close', () => connections.delete(sock))
  })
  const redirect = tls?.redirectPort !== undefined ? new RedirectListener(tls.redirectPort, options, () => !gateway.shuttingDown) : undefined
  return { server, connections, certs, redirect }
}

/**
 * Once the public listener is bound: the redirect listener, if any, on `host:redirectPort`,
 * sending clients to `public.port`, else to the port the public listener is bound to.
 */
export async function listenRedirect (pub: PublicServer, host: string, publicPort: number | undefined): Promise<AddressInfo | undefined> {
  return pub.redirect?.listen(host, publicPort ?? (pub.server.address() as AddressInfo).port)
}

/** scheme://address:port of a bound listener (IPv6 addresses in brackets). */
export function addressUrl (scheme: 'http' | 'https', a: AddressInfo): string {
  return `${scheme}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
}

/** http:// or https:// and the address of the bound public listener. */
export function listenerUrl (pub: PublicServer): string {
  return addressUrl(pub.certs ? 'https' : 'http', pub.server.address() as AddressInfo)
}

function bodyExpected (req: IncomingMessage): boolean {
  const h = req.headers
  const cl = h['content-length']
  return h['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0')
}

function onSocketTimeout (sock: BodySocket, ms: number, gateway: Gateway): void {
  const res = sock[kBody]
  // Idle between requests (keep-alive), or after the response with the body still coming.
  if (res === undefined || res.writableFinished) { sock.destroy(); return }
  const req = res.req
  if (req.complete) { sock[kBody] = undefined; sock.setTimeout(0); return }
  // Not reading the body (held, queued, or the app reads slowly): the wait is ours.
  if (req.readableFlowing !== true) { sock.setTimeout(ms); return }
  // After a stalled event loop, timers run before the poll phase reads what the client sent
  // meanwhile: look again once pending reads are in (setImmediate runs after the poll).
  const read = sock.bytesRead
  setImmediate(() => {
    if (sock.destroyed || sock[kBody] !== res) return
    if (sock.bytesRead !== read || req.complete || req.readableFlowing !== true) { sock.setTimeout(ms); return }
    giveUp(sock, res, ms, gateway)
  })
}

function giveUp (sock: BodySocket, res: ServerResponse, ms: number, gateway: Gateway): void {
  sock[kBody] = undefined
  if (res.headersSent) { sock.destroy(); return }
  gateway.sendError(res, 'WAKEGATE_REQUEST_TIMEOUT', `no request body received for ${formatDuration(ms)}`, { connection: 'close' })
}

/** `CONNECT` (authority-form): wakegate is not a forward proxy. */
function refuseConnect (_req: IncomingMessage, sock: Duplex): void {
  sock.on('error', () => sock.destroy())
  sock.end(rawErrorResponse({ code: 'WAKEGATE_METHOD_NOT_ALLOWED' }, { allow: ALLOW }), () => sock.destroy())
}

/** Node's own answers (parse errors, header timeout), with Connection: close. */
function onClientError (err: NodeJS.ErrnoException, sock: Duplex): void {
  // A response already under way on this connection cannot be followed by another.
  const busy = (sock as { _httpMessage?: unknown })._httpMessage
  if (err.code === 'ECONNRESET' || !sock.writable || busy) { sock.destroy(); return }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    if ((sock as Socket).bytesRead === 0) { sock.destroy(); return }
    sock.end(rawErrorResponse({ code: 'WAKEGATE_REQUEST_TIMEOUT' }), () => sock.destroy())
    return
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
    : err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW' ? '413 Payload Too Large'
      : '400 Bad Request'
  sock.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, () => sock.destroy())
}

/**
 * Graceful stop of the public listener, the same in a single process and in a cluster
 * worker: stop accepting connections; requests arriving on open ones are still served (with
 * `Connection: close`, set by the gateway once `shuttingDown`). Once nothing is in flight
 * (held requests count) and connections had a moment to finish, or `grace` is over: what is
 * still held gets 503, idle connections close, WebSockets get 1001, event streams end, and
 * answered connections get a second to close on their own before the rest are cut.
 */
export async function closePublicServer ({ server, connections, certs, redirect }: PublicServer, gateway: Gateway, grace: number): Promise<void> {
  // net.Server#close: stop listening without http.Server's immediate closing of idle
  // keep-alive connections, which races with requests clients are sending on them.
  const closed = new Promise<void>(resolve => NetServer.prototype.close.call(server, () => resolve()))
  // Redirecting to a listener that takes no new connections helps nobody: it goes at once.
  const redirected = redirect?.close()
  certs?.close()
  const started = Date.now()
  const deadline = started + grace
  const settle = Math.min(grace, 1000)
  const envs = gateway.directory.envs
  const upstreams = function * (): Generator<Upstream> {
    for (const env of envs.values()) {
      if (env.route) yield env.route
      for (const d of env.draining) yield d.upstream
    }
  }
  const inflight = () => {
    let n = gateway.holding // held for a wake: served if it ends within the grace
    for (const env of envs.values()) n += env.inflight
    for (const up of upstreams()) n -= up.sse.size // event streams do not end by themselves
    return n
  }
  while (Date.now() < deadline && connections.size > 0 && (inflight() > 0 || Date.now() - started < settle)) {
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  // Requests still held for a wake get a 503 with Connection: close, not a reset.
  gateway.shedHeld()
  server.closeIdleConnections()
  gateway.upgrades.closeAll(1001)
  for (const up of upstreams()) for (const s of up.sse) s.endCleanly()
  // A moment for answered connections (held ones told Connection: close, tunnels sent their
  // close frames) to close on their own rather than be cut; ended event streams leave idle ones.
  const flushBy = Date.now() + 1000
  while (connections.size > 0 && Date.now() < flushBy) {
    await new Promise(resolve => setTimeout(resolve, 25))
    server.closeIdleConnections()
  }
  server.closeAllConnections()
  await closed
  await redirected
}
