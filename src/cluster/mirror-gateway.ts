// A public listener that proxies from a MirrorDirectory: what a cluster worker and a replica
// serve. Env hosts take the Gateway's hot path over the mirror; other hosts (webhooks, gateway
// pages, the unknown-host 404) are passed to the lifecycle owner's listener over HTTP.
import { request as httpRequest, Agent, type IncomingMessage, type ServerResponse, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Logger } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import { Gateway } from '../proxy/gateway.js'
import { closePublicServer, createPublicServer, listenRedirect, type PublicServer } from '../proxy/listener.js'
import { HOP, forwardRequestHeaders } from '../proxy/headers.js'
import { MirrorDirectory, reportInterval, type Send } from './mirror.js'
import type { ToWorker } from './protocol.js'
import { RELAYED_HEADER } from '../access/relayed.js'

export interface Target { host: string, port: number }

/** Requests for non-env hosts go to the owner, which serves webhooks and gateway pages. */
function passToOwner (target: () => Target | Promise<Target | undefined> | undefined, gateway: () => Gateway): (req: IncomingMessage, res: ServerResponse) => void {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  return (req, res) => {
    const to = target()
    if (to === undefined) { gateway().sendError(res, 'WAKEGATE_STORE_UNAVAILABLE', 'the leader replica is not known'); return }
    if ('then' in to) {
      // No owner known yet (a replica just started, or a new leader is being chosen): the request waits for one.
      req.pause()
      void to.then(t => { if (!res.destroyed) pass(req, res, t ?? undefined) })
      return
    }
    pass(req, res, to)
  }

  function pass (req: IncomingMessage, res: ServerResponse, to: Target | undefined): void {
    if (to === undefined) { gateway().sendError(res, 'WAKEGATE_STORE_UNAVAILABLE', 'no leader replica could be found'); return }
    const sock = req.socket
    const headers = forwardRequestHeaders(req.rawHeaders, {
      remoteAddress: sock.remoteAddress ?? '',
      proto: (sock as { encrypted?: boolean }).encrypted ? 'https' : 'http',
      host: req.headers.host ?? '',
      append: false
    })
    // The owner trusts this process's gate for it, and learns the client's address.
    const voucher = gateway().access.vouchers.vouch(gateway().clientAddress(req))
    if (voucher !== undefined) headers.push(RELAYED_HEADER, voucher)
    const up = httpRequest({ host: to.host, port: to.port, method: req.method, path: req.url, headers, agent }, ur => {
      const out: string[] = []
      const raw = ur.rawHeaders
      for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1])
      res.writeHead(ur.statusCode ?? 502, ur.statusMessage, out)
      ur.pipe(res)
    })
    up.on('error', () => gateway().sendError(res, 'WAKEGATE_UPSTREAM_RESET', 'the lifecycle owner could not be reached'))
    res.on('close', () => { if (!res.writableFinished) up.destroy() })
    req.pipe(up)
    req.resume()
  }
}

export interface MirrorGatewayOptions {
  /** Requests this process answers itself among those for non-env hosts (true: answered). */
  local?: (req: IncomingMessage, res: ServerResponse) => boolean
  /** When true, requests for envs not running go to the owner's listener whole (it wakes and proxies them). */
  relayWhen?: () => boolean
  /** How long a request for a non-env host waits for an owner to be known (ms; default: not at all). */
  ownerWait?: number
}

export class MirrorGateway {
  readonly mirror: MirrorDirectory
  readonly gateway: Gateway
  readonly server: Server
  readonly connections: Set<Socket>
  /** The public listener with its certificate watch and redirect listener (`listen.tls`). */
  readonly listener: PublicServer
  /** The owner's listener for non-env hosts; replaced when another replica becomes the owner. */
  target: Target | undefined
  private readonly reporter: NodeJS.Timeout
  private stopping: Promise<void> | undefined
  private readonly targetWaiters = new Set<(t: Target | undefined) => void>()

  constructor (readonly config: ResolvedConfig, log: Logger, send: Send, options: MirrorGatewayOptions = {}) {
    this.mirror = new MirrorDirectory(config, log, send)
    const wait = options.ownerWait ?? 0
    const pass = passToOwner(() => this.target ?? (wait > 0 ? this.nextTarget(wait) : undefined), () => this.gateway)
    const relayWhen = options.relayWhen
    if (relayWhen) this.mirror.relay = (req, res) => { if (this.target === undefined || !relayWhen()) return false; pass(req, res); return true }
    const local = options.local
    this.gateway = new Gateway(config, this.mirror, log, local ? (req, res) => { if (!local(req, res)) pass(req, res) } : pass)
    this.mirror.gateway = this.gateway
    const pub = createPublicServer(config.proxy, this.gateway, config.listen.tls)
    this.listener = pub
    this.server = pub.server
    this.connections = pub.connections
    this.reporter = setInterval(() => this.mirror.report(), reportInterval(config))
    this.reporter.unref()
  }

  /** The owner's listener once an owner says hello, or undefined after `ms`. */
  private nextTarget (ms: number): Promise<Target | undefined> {
    return new Promise(resolve => {
      const done = (t: Target | undefined) => { clearTimeout(timer); this.targetWaiters.delete(done); resolve(t) }
      const timer = setTimeout(() => done(undefined), ms)
      this.targetWaiters.add(done)
    })
  }

  /** Forget the owner (it left): requests for non-env hosts wait for the next one. */
  loseTarget (): void { this.target = undefined }

  /** A message from the owner. */
  deliver (msg: ToWorker): void {
    const m = this.mirror
    switch (msg.t) {
      case 'init':
        this.target = msg.fallback
        for (const fn of this.targetWaiters) fn(msg.fallback)
        m.init(msg.seq, msg.envs, msg.hasResolver)
        break
      case 'env': m.seq = msg.seq; m.applySnapshot(msg.s); break
      case 'event': m.event(msg.e); break
      case 'reply': m.reply(msg); break
      case 'drain-timeout': m.drainTimeout(msg.key, msg.generation); break
      case 'shutdown': void this.stop(); break
    }
  }

  async listen (host: string, port: number): Promise<AddressInfo> {
    await this.gateway.access.ready
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => { this.server.off('error', reject); resolve() })
    })
    await listenRedirect(this.listener, host, this.config.public.port)
    return this.server.address() as AddressInfo
  }

  /** The public listener closes as in a single process; then the last activity report. */
  stop (): Promise<void> {
    this.stopping ??= (async () => {
      this.gateway.shuttingDown = true
      await closePublicServer(this.listener, this.gateway, this.config.proxy.shutdownGrace)
      clearInterval(this.reporter)
      await this.gateway.access.close()
      this.mirror.report()
      this.mirror.close()
    })()
    return this.stopping
  }
}
