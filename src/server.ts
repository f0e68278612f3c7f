// Wires config, store, backends, lifecycle, the public gateway and the admin listener, and
// shuts them down in order.
import type { Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { ResolvedConfig } from './config/load.js'
import type { Backend } from './backends/backend.js'
import { createBackends } from './backends/index.js'
import type { Store } from './stores/store.js'
import { MemoryStore } from './stores/memory.js'
import { EnvManager } from './lifecycle/manager.js'
import { costTracker } from './cost/tracker.js'
import { Reconciler } from './lifecycle/reconcile.js'
import { Gateway } from './proxy/gateway.js'
import { addressUrl, closePublicServer, createPublicServer, listenRedirect, listenerUrl, type PublicServer } from './proxy/listener.js'
import { replyError } from './proxy/error-response.js'
import { createAdmin } from './admin/server.js'
import { createMetrics } from './admin/metrics.js'
import { createLogger } from './log.js'
import type { GithubIntegration } from './github/index.js'
import { SignIn } from './access/signin.js'
import { OauthRelay } from './access/relay.js'
import { AdminSignIn } from './access/admin-signin.js'

export interface WakegateOptions {
  log?: Logger
  store?: Store
  /** Backends by app name; built from config when absent. */
  backends?: Map<string, Backend>
  reapInterval?: number
  /**
   * Tasks are handed over on close rather than stopped (a replica leaving the leadership):
   * backends detach, so the next leader adopts them.
   */
  handOver?: boolean
  /** Task dir of a local app without one in its config (replicas on one machine share it). */
  taskDirFor?: (app: string) => string
  /**
   * When the TLS certificate served to clients expires (ms since the epoch), for the metrics
   * of a process whose public listener is served elsewhere (cluster workers, a replica's
   * mirror); by default the own listener's, under `listen.tls`.
   */
  certExpiry?: () => number | undefined
}

export interface Wakegate {
  config: ResolvedConfig
  log: Logger
  store: Store
  manager: EnvManager
  gateway: Gateway
  publicApp: FastifyInstance
  adminApp: FastifyInstance | undefined
  /** The GitHub integration, when the config has a github section. */
  github: GithubIntegration | undefined
  server: Server
  /** Open client connections of the public listener (shutdown waits for them). */
  connections: Set<Socket>
  /** The public listener with what comes with it under `listen.tls` (certificate watch, redirect listener). */
  listener: PublicServer
  /** http(s)://host:port of the public listener (after listen). */
  url: string
  /** http://host:port of the redirect listener (`listen.tls.redirectPort`; after listen). */
  redirectUrl: string | undefined
  adminUrl: string | undefined
  listen (): Promise<void>
  close (): Promise<void>
}

export async function createWakegate (config: ResolvedConfig, opts: WakegateOptions = {}): Promise<Wakegate> {
  const log = opts.log ?? createLogger(config.log.level)
  const store = opts.store ?? new MemoryStore()
  const backends = opts.backends ?? new Map<string, Backend>()
  for (const [name, b] of await createBackends(config.apps.filter(a => !backends.has(a.name)), log, opts.taskDirFor)) backends.set(name, b)
  const manager = new EnvManager({ config, backends, store, log, reapInterval: opts.reapInterval, handOver: opts.handOver })
  // Running time and cost follow every lifecycle event from the start.
  costTracker(manager, log)
  // Tasks left running by a previous gateway are adopted before the first request.
  const reconciler = new Reconciler(manager, log.child({ component: 'reconcile' }))

  let gateway!: Gateway
  let pub!: PublicServer
  const publicApp = Fastify({
    loggerInstance: log.child({ listener: 'public' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    serverFactory: (fastifyHandler) => {
      gateway = new Gateway(config, manager, log, fastifyHandler)
      pub = createPublicServer(config.proxy, gateway, config.listen.tls)
      return pub.server
    },
    // The public server answers client errors itself (proxy/listener.ts), workers' too.
    clientErrorHandler: () => {}
  })
  publicApp.setNotFoundHandler((req, reply) => {
    replyError(reply, { code: 'WAKEGATE_UNKNOWN_HOST', detail: `Host: ${String(req.headers.host ?? '').slice(0, 200)}` }, req.headers.accept)
  })
  publicApp.get('/__wakegate/healthz', async () => ({ ok: !gateway.shuttingDown }))
  // Sign-in on the auth host and the hand-over to env hosts; the OAuth callback relay.
  const access = gateway.access
  const signIn = config.access.authHost && config.access.github ? new SignIn({ config, access, store, router: gateway.router, log: log.child({ part: 'access' }) }) : undefined
  signIn?.register(publicApp)
  if (config.access.authHost && config.apps.some(a => a.oauthRelay)) new OauthRelay(config, access, gateway.router).register(publicApp)
  warnIfPublic(config, access.publicApps, log)

  // Webhook route on the public listener, known-PR gate and PR feedback.
  const github = config.github ? (await import('./github/index.js')).startGithub({ config, manager, store, log, publicApp }) : undefined

  const certs = pub.certs
  const metrics = createMetrics(manager, gateway, store, github, opts.certExpiry ?? (certs ? () => certs.notAfter : undefined))
  let listening = false
  const adminApp = config.admin.enabled
    ? createAdmin({ manager, store, metrics, log, token: config.admin.token, ready: () => listening && !gateway.shuttingDown, signIn: signIn && config.admin.github ? new AdminSignIn(config, access, signIn) : undefined, publicApps: access.publicApps })
    : undefined

  const wg: Wakegate = {
    config, log, store, manager, gateway, publicApp, adminApp, github,
    server: pub.server,
    connections: pub.connections,
    listener: pub,
    url: '',
    redirectUrl: undefined,
    adminUrl: undefined,
    async listen () {
      await access.ready
      await reconciler.boot()
      reconciler.start()
      // fastify writes http:// in its "listening" line for a server it did not build.
      const scheme = config.listen.tls ? 'https:' : 'http:'
      await publicApp.listen({ host: config.listen.host, port: config.listen.port, listenTextResolver: address => `Server listening at ${address.replace(/^http:/, scheme)}` })
      wg.url = listenerUrl(pub)
      const r = await listenRedirect(pub, config.listen.host, config.public.port)
      if (r) wg.redirectUrl = addressUrl('http', r)
      if (adminApp) {
        await adminApp.listen({ host: config.admin.host, port: config.admin.port })
        wg.adminUrl = addressUrl('http', adminApp.server.address() as AddressInfo)
      }
      listening = true
      log.info({ url: wg.url, redirect: wg.redirectUrl, admin: wg.adminUrl, apps: config.apps.map(a => `${a.name} → ${a.host}`) }, 'wakegate listening')
    },
    async close () {
      reconciler.stop()
      await shutdown(wg, config.proxy.shutdownGrace)
    }
  }
  return wg
}

/**
 * Graceful shutdown: stop accepting new connections; requests arriving on open ones are
 * still served, with `Connection: close`, so clients move on (behind a load balancer, to
 * the next gateway) without an error. Once no request is in flight and the connections had
 * a moment to finish (or `grace` is over), idle connections are closed, WebSockets get 1001,
 * and the backends are closed (local stops its processes; ECS leaves tasks for the next
 * gateway to adopt).
 */
async function shutdown (wg: Wakegate, grace: number): Promise<void> {
  const { gateway, manager, log } = wg
  if (gateway.shuttingDown) return
  gateway.shuttingDown = true
  log.info('shutting down')
  await closePublicServer(wg.listener, gateway, grace)
  await wg.adminApp?.close()
  await wg.github?.close()
  await gateway.access.close()
  await manager.close()
  // A replica's store is the replica's: it outlives one term as the leader.
  if (!manager.handOver) await wg.store.close()
  log.info('stopped')
}

/** Apps anyone who reaches a non-loopback listener can open, without saying so on purpose. */
function warnIfPublic (config: ResolvedConfig, publicApps: string[], log: Logger): void {
  if (/^(127\.|::1$|localhost$)/.test(config.listen.host)) return
  const unintended = publicApps.filter(name => {
    const app = config.apps.find(a => a.name === name)!
    return !(app.access ?? config.access.default)?.public
  })
  if (unintended.length === 0) return
  log.warn({ apps: unintended, listen: config.listen.host }, `NO ACCESS POLICY: anyone who can reach ${config.listen.host}:${config.listen.port} can open and wake the environments of ${unintended.join(', ')}. Set access (ip, basic, github, bypass, actions) per app or access.default, or access: { public: true } to say this is on purpose.`)
}
