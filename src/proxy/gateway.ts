// The public listener's request handler. Env hosts go through a lean path (no fastify
// hooks): running → forward at once; otherwise the cold path decides. Other hosts go to
// fastify (webhooks, gateway pages, 404).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import type { EnvDirectory } from '../lifecycle/directory.js'
import type { Env } from '../lifecycle/env.js'
import { HostRouter } from '../routing/router.js'
import { errorInfo, type ErrorCode, type ErrorInfo } from '../errors.js'
import { Forward, type ForwardHost } from './forward.js'
import { QUEUE_TIMEOUT } from './exchange.js'
import { ClientClassifier } from './clients.js'
import { errorResponse, wantsHtml } from './error-response.js'
import { ColdPath, EVENTS_PATH } from './cold.js'
import { UpgradeProxy } from './upgrade.js'
import { Holds } from './hold.js'
import { ALLOW, TARGET_ASTERISK, TARGET_ORIGIN, duplicateHost, normaliseTarget } from './request-target.js'
import type { Upstream } from './upstream.js'
import { createAccess, type Access } from '../access/index.js'
import type { Refusal } from '../access/gate.js'
import { AUTH_PREFIX } from '../access/signin.js'
import { RELAYED_FROM, RELAYED_HEADER, type Relayed } from '../access/relayed.js'
import { OAUTH_START } from '../access/relay.js'
import { neutralPage } from './pages.js'
import type { HostMatch } from '../routing/router.js'

export interface GatewayCounters {
  requests: number
  proxied: number
  cold: number
  held: number
  rejected: number
  upstreamErrors: number
  retries: number
  /** Requests that waited queueTimeout for an upstream connection (503). */
  queueTimeouts: number
  /** Responses cut mid-body (upstream idle timeout, reset, broken framing). */
  responsesCut: number
}

export class Gateway implements ForwardHost {
  readonly router: HostRouter
  readonly staticHeaders: string[] | null
  readonly appendForwarded: boolean
  readonly counters: GatewayCounters = { requests: 0, proxied: 0, cold: 0, held: 0, rejected: 0, upstreamErrors: 0, retries: 0, queueTimeouts: 0, responsesCut: 0 }
  /** Requests and upgrades held right now while their env wakes. */
  holding = 0
  /** Open tunnels and held requests in the worker processes (cluster mode; kept by the primary). */
  readonly remote = { tunnels: 0, held: 0 }
  readonly cold: ColdPath
  /** Requests and upgrades held while their env wakes. */
  readonly holds: Holds
  readonly upgrades: UpgradeProxy
  /** Access control: the policies and the gate every request for a restricted app passes. */
  readonly access: Access
  /** Some app has a policy: requests go through the gate (false: the gate costs nothing). */
  readonly gated: boolean
  shuttingDown = false

  constructor (
    readonly config: ResolvedConfig,
    /** The lifecycle as the proxy sees it (in-process manager, or a worker's mirror). */
    readonly directory: EnvDirectory,
    readonly log: Logger,
    /** Requests for hosts that are not env hosts. */
    private readonly fallback: (req: IncomingMessage, res: ServerResponse) => void
  ) {
    this.router = new HostRouter(config.apps)
    this.staticHeaders = config.proxy.noindex ? ['x-robots-tag', 'noindex, nofollow'] : null
    this.appendForwarded = config.proxy.xForwarded === 'append'
    this.holds = new Holds(this)
    const clients = new ClientClassifier(config.proxy.previewBots)
    this.access = createAccess(config, log, clients)
    this.gated = [...this.access.policies.values()].some(p => !p.open)
    this.cold = new ColdPath(this, clients)
    this.upgrades = new UpgradeProxy(this)
    // End of a drain: long streams on the old generation are told to reconnect.
    directory.on('drain-timeout', (_env: Env, upstream: Upstream) => {
      this.upgrades.closeUpstream(upstream, 1012)
      for (const s of upstream.sse) s.endCleanly()
    })
  }

  /** The 'request' listener of the public server. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.counters.requests++
    // Origin-form ("/…") is nearly every request: other target forms take a slower path.
    if (req.url!.charCodeAt(0) !== 47 /* / */ && !this.otherTarget(req, res)) return
    const host = req.headers.host
    const m = this.router.match(host)
    if (m === null) {
      if (duplicateHost(host)) this.sendError(res, 'WAKEGATE_BAD_HOST', 'more than one Host header')
      else this.fallback(req, res)
      return
    }
    if (this.gated && req.url!.charCodeAt(1) === 95 /* _ */ && req.url!.startsWith(AUTH_PREFIX)) { this.fallback(req, res); return }
    if (req.headers[RELAYED_HEADER] !== undefined) {
      // Passed on by another replica whose gate let it in (or a forgery: gated as usual).
      const from = this.access.vouchers.redeem(req)
      if (from !== undefined) { (req as Relayed)[RELAYED_FROM] = from; this.route(req, res, m); return }
    }
    if (this.gated) {
      // Before the env is looked up: a refused request wakes nothing and asks GitHub nothing.
      const policy = this.access.gate.policy(m.app)
      if (policy !== undefined) {
        const v = this.access.gate.check(req, policy, m.key)
        if (v !== true) {
          if ('then' in v) v.then(r => { if (r === true) this.route(req, res, m); else this.refuse(res, r) }, err => this.sendWakegateError(res, err))
          else this.refuse(res, v)
          return
        }
      }
    }
    this.route(req, res, m)
  }

  /** A request let in (or for an open app): to its env. */
  private route (req: IncomingMessage, res: ServerResponse, m: HostMatch): void {
    if (req.url!.charCodeAt(1) === 95 /* _ */ && req.url!.startsWith(OAUTH_START)) { this.fallback(req, res); return }
    const env = this.directory.envs.get(m.key) ?? this.directory.lookup(m.app, m.pr)
    if (env === undefined) {
      if (this.directory.prResolver === undefined) { this.sendError(res, 'WAKEGATE_UNKNOWN_PR'); return }
      this.directory.resolveUnknown(m.app, m.pr).then(found => {
        if (found === undefined) this.sendError(res, 'WAKEGATE_UNKNOWN_PR')
        else this.handleEnv(req, res, found)
      }, err => this.sendWakegateError(res, err))
      return
    }
    this.handleEnv(req, res, env)
  }

  /** A request the access gate did not let in: a sign-in redirect, a neutral page for bots, or 401/403. */
  refuse (res: ServerResponse, r: Refusal): void {
    if (res.headersSent || res.destroyed) { res.destroy(); return }
    const head = (res.req as IncomingMessage | undefined)?.method === 'HEAD'
    if (r.neutral) {
      const body = neutralPage()
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-robots-tag': 'noindex, nofollow', 'content-length': Buffer.byteLength(body) })
      res.end(head ? undefined : body)
      return
    }
    if (r.location !== undefined) {
      const headers: Record<string, string | string[]> = { location: r.location, 'cache-control': 'no-store', 'content-length': '0' }
      if (r.setCookie !== undefined) headers['set-cookie'] = r.setCookie
      res.writeHead(302, headers).end()
      return
    }
    this.sendErrorInfo(res, { code: r.code, detail: r.detail }, r.challenge !== undefined ? { 'www-authenticate': r.challenge } : undefined)
  }

  /** Absolute-form is made origin-form (routed by its authority); false when answered here. */
  private otherTarget (req: IncomingMessage, res: ServerResponse): boolean {
    const t = normaliseTarget(req)
    if (t === TARGET_ORIGIN) return true
    if (t === TARGET_ASTERISK) res.writeHead(200, { allow: ALLOW, 'content-length': '0' }).end()
    else this.sendError(res, t)
    return false
  }

  private handleEnv (req: IncomingMessage, res: ServerResponse, env: Env): void {
    const route = env.route
    if (route !== null && req.url !== EVENTS_PATH) { this.forward(req, res, env, route, -1); return }
    this.cold.handle(req, res, env)
  }

  /** The 'upgrade' listener of the public server (WebSocket). */
  handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.upgrades.handle(req, socket, head)
  }

  forward (req: IncomingMessage, res: ServerResponse, env: Env, route: Upstream, waited: number, attempt = 0): void {
    this.counters.proxied++
    // Shutting down: still serve what arrives on open connections, but close them after.
    if (this.shuttingDown) res.shouldKeepAlive = false
    // A route handed out before a switch: use the current one rather than a pool being closed.
    if (route.closed && env.route !== null) route = env.route
    new Forward(this, req, res, env, route, waited, attempt).start()
  }

  coldServed (env: Env): void { this.directory.coldServed(env) }

  /** The client's address: the socket's, or the X-Forwarded-For entry a trusted proxy added. */
  clientAddress (req: IncomingMessage): string {
    return (req as Relayed)[RELAYED_FROM] ?? this.access.addressOf(req)
  }

  /** Shutdown: every request and upgrade still held for a wake is answered 503 now. */
  shedHeld (): void {
    this.holds.shed()
  }

  responseCut (fwd: Forward, err: NodeJS.ErrnoException): void {
    this.counters.responsesCut++
    this.log.warn({ env: fwd.env.key, code: err.code, err: err.message, generation: fwd.upstream.generation }, 'upstream response cut mid-body')
  }

  upstreamFailed (fwd: Forward, err: NodeJS.ErrnoException): void {
    this.counters.upstreamErrors++
    const code = err.code ?? ''
    const { env, upstream } = fwd
    const refused = code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'EHOSTUNREACH'
    const reset = code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE'
    this.log.warn({ env: env.key, code, err: err.message, generation: upstream.generation }, 'upstream request failed')
    if (refused) this.directory.taskLost(env, upstream, `connection refused by ${upstream.origin}`)
    else if (reset) this.directory.checkTask(env, upstream)
    if ((refused || reset) && fwd.retryable && !this.shuttingDown) {
      // Passive health: the task is being replaced; send this request once more when ready.
      this.counters.retries++
      const started = Date.now()
      this.cold.hold(fwd.req, fwd.res, env, 'retry after upstream failure', r => this.forward(fwd.req, fwd.res, env, r, Date.now() - started, 1))
      return
    }
    if (code === QUEUE_TIMEOUT) this.counters.queueTimeouts++
    this.sendError(fwd.res, upstreamErrorCode(code, refused), code.startsWith('HPE_') ? err.message : code || err.message)
  }

  sendError (res: ServerResponse, code: ErrorCode, detail?: string, extra?: Record<string, string>): void {
    this.sendErrorInfo(res, { code, detail }, extra)
  }

  /** A thrown error: a WakegateError keeps its code, cause and Retry-After. */
  sendWakegateError (res: ServerResponse, err: unknown): void {
    this.sendErrorInfo(res, errorInfo(err))
  }

  /** Every error response of the public listener's env hosts goes out here. */
  sendErrorInfo (res: ServerResponse, info: ErrorInfo, extra?: Record<string, string>, heading?: string): void {
    if (res.headersSent || res.destroyed) { res.destroy(); return }
    const req = res.req as IncomingMessage | undefined
    const r = errorResponse(info, { html: wantsHtml(req?.headers.accept), head: req?.method === 'HEAD', noindex: this.staticHeaders !== null, heading })
    if (r.status === 404) this.counters.rejected++
    res.writeHead(r.status, extra ? { ...r.headers, ...extra } : r.headers)
    res.end(r.body === '' ? undefined : r.body)
  }
}

/** The error a failed exchange is answered with (before its response began). */
function upstreamErrorCode (code: string, refused: boolean): ErrorCode {
  if (refused) return 'WAKEGATE_UPSTREAM_REFUSED'
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'WAKEGATE_UPSTREAM_TIMEOUT'
  if (code === QUEUE_TIMEOUT) return 'WAKEGATE_UPSTREAM_BUSY'
  if (code.startsWith('HPE_')) return 'WAKEGATE_UPSTREAM_BAD_RESPONSE'
  return 'WAKEGATE_UPSTREAM_RESET'
}
