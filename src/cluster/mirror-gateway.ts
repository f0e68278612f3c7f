// A public listener that proxies from a MirrorDirectory: what a cluster worker and a replica
// serve. Env hosts take the Gateway's hot path over the mirror; other hosts (webhooks, gateway
// pages, the unknown-host 404) are passed to the lifecycle owner's listener over HTTP.
import { request as httpRequest, Agent, type IncomingMessage, type ServerResponse, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Logger } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import { Gateway } from '../proxy/gateway.js'
import { closePublicServer, createPublicServer } from '../proxy/listener.js'
import { HOP, forwardRequestHeaders } from '../proxy/headers.js'
import { MirrorDirectory, reportInterval, type Send } from './mirror.js'
import type { ToWorker } from './protocol.js'

export interface Target { host: string, port: number }

/** Requests for non-env hosts go to the owner, which serves webhooks and gateway pages. */
function passToOwner (target: () => Target | undefined, gateway: () => Gateway): (req: IncomingMessage, res: ServerResponse) => void {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  return (req, res) => {
    const to = target()
    if (to === undefined) { gateway().sendError(res, 'WAKEGATE_STORE_UNAVAILABLE', 'the leader replica is not known'); return }
    const sock = req.socket
    const headers = forwardRequestHeaders(req.rawHeaders, {
      remoteAddress: sock.remoteAddress ?? '',
      proto: (sock as { encrypted?: boolean }).encrypted ? 'https' : 'http',
      host: req.headers.host ?? '',
      append: false
    })
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
  }
}

export class MirrorGateway {
  readonly mirror: MirrorDirectory
  readonly gateway: Gateway
  readonly server: Server
  readonly connections: Set<Socket>
  /** The owner's listener for non-env hosts; replaced when another replica becomes the owner. */
  target: Target | undefined
  private readonly reporter: NodeJS.Timeout
  private stopping: Promise<void> | undefined

  constructor (readonly config: ResolvedConfig, log: Logger, send: Send, options: { local?: (req: IncomingMessage, res: ServerResponse) => boolean } = {}) {
    this.mirror = new MirrorDirectory(config, log, send)
    const pass = passToOwner(() => this.target, () => this.gateway)
    const local = options.local
    this.gateway = new Gateway(config, this.mirror, log, local ? (req, res) => { if (!local(req, res)) pass(req, res) } : pass)
    this.mirror.gateway = this.gateway
    const pub = createPublicServer(config.proxy, this.gateway)
    this.server = pub.server
    this.connections = pub.connections
    this.reporter = setInterval(() => this.mirror.report(), reportInterval(config))
    this.reporter.unref()
  }

  /** A message from the owner. */
  deliver (msg: ToWorker): void {
    const m = this.mirror
    switch (msg.t) {
      case 'init': this.target = msg.fallback; m.init(msg.seq, msg.envs, msg.hasResolver); break
      case 'env': m.seq = msg.seq; m.applySnapshot(msg.s); break
      case 'event': m.event(msg.e); break
      case 'reply': m.reply(msg); break
      case 'drain-timeout': m.drainTimeout(msg.key, msg.generation); break
      case 'shutdown': void this.stop(); break
    }
  }

  async listen (host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => { this.server.off('error', reject); resolve() })
    })
    return this.server.address() as AddressInfo
  }

  /** The public listener closes as in a single process; then the last activity report. */
  stop (): Promise<void> {
    this.stopping ??= (async () => {
      this.gateway.shuttingDown = true
      await closePublicServer({ server: this.server, connections: this.connections }, this.gateway, this.config.proxy.shutdownGrace)
      clearInterval(this.reporter)
      this.mirror.report()
      this.mirror.close()
    })()
    return this.stopping
  }
}
