// Requests for an env that is not running: preview bots, robots.txt, the waking page and
// its progress stream, failed envs, and holding other clients until the env is ready.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { backoffError, type Env, type EnvEvent } from '../lifecycle/env.js'
import { catalogue } from '../errors.js'
import type { Gateway } from './gateway.js'
import { isNavigation, type ClientClassifier } from './clients.js'
import { wakingPage, previewPage, ROBOTS_TXT } from './pages.js'
import type { Upstream } from './upstream.js'

/** Served by the gateway on every env host; an app is unlikely to use this path. */
export const EVENTS_PATH = '/__wakegate/events'

export class ColdPath {
  constructor (private readonly gw: Gateway, private readonly clients: ClientClassifier) {}

  handle (req: IncomingMessage, res: ServerResponse, env: Env): void {
    const gw = this.gw
    if (gw.shuttingDown) { gw.sendError(res, 'WAKEGATE_SHUTTING_DOWN'); return }
    if (gw.directory.relay?.(req, res)) return
    if (req.url === EVENTS_PATH) { this.events(req, res, env); return }
    if (env.state === 'destroyed') { gw.sendError(res, 'WAKEGATE_ENV_DESTROYED'); return }
    const path = req.url ?? '/'
    if (path === '/robots.txt') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-robots-tag': 'noindex, nofollow' })
      res.end(ROBOTS_TXT)
      return
    }
    if (this.clients.isPreviewBot(req)) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-robots-tag': 'noindex, nofollow' })
      res.end(req.method === 'HEAD' ? undefined : previewPage(env.app.config.name, env.pr, env.url, env.title))
      return
    }
    gw.counters.cold++
    if (env.state === 'failed' && Date.now() - env.m.failedAt < env.app.config.failureBackoff) {
      this.failed(res, env)
      return
    }
    if (isNavigation(req)) {
      // Start the wake, answer at once with a page that follows it.
      this.gw.directory.wake(env, 'browser', 'navigation').catch(() => {})
      if (env.route && env.state === 'running') { gw.forward(req, res, env, env.route, 0); return }
      this.waking(req, res, env)
      return
    }
    const started = Date.now()
    // A page load waited for this wake too: the cold-start header is its document's, not this one's.
    this.hold(req, res, env, 'request', route => gw.forward(req, res, env, route, env.coldPending === 'navigation' ? -1 : Date.now() - started))
  }

  /** Hold a request until the env is ready (bounded in count and time), then call `go`. */
  hold (req: IncomingMessage, res: ServerResponse, env: Env, cause: string, go: (route: Upstream) => void): void {
    const gw = this.gw
    const held = gw.holds.hold(env, cause, {
      watch: fn => {
        const onClose = () => { if (!res.writableEnded && !res.headersSent) fn() }
        req.once('close', onClose)
        return () => req.removeListener('close', onClose)
      },
      get gone () { return res.destroyed },
      fail: info => gw.sendErrorInfo(res, info, info.code === 'WAKEGATE_SHUTTING_DOWN' ? { connection: 'close' } : undefined)
    }, go)
    if (!held) { gw.counters.rejected++; gw.sendError(res, 'WAKEGATE_HOLD_FULL') }
  }

  private waking (req: IncomingMessage, res: ServerResponse, env: Env): void {
    const app = env.app
    res.writeHead(503, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'retry-after': String(Math.max(1, Math.ceil((app.typicalWake || 5000) / 1000))),
      'x-robots-tag': 'noindex, nofollow',
      'x-wakegate-state': env.state
    })
    if (req.method === 'HEAD') { res.end(); return }
    res.end(wakingPage({
      app: app.config.name, pr: env.pr, branch: env.branch, sha: env.sha, state: env.state, phase: env.phase,
      typicalWake: app.typicalWake, startTimeout: app.config.startTimeout, eventsPath: EVENTS_PATH
    }))
  }

  /** Inside the failure backoff: what a wake rejects with, as a page or JSON. */
  private failed (res: ServerResponse, env: Env): void {
    this.gw.sendErrorInfo(res, backoffError(env).info(), undefined, `PR #${env.pr} of ${env.app.config.name} could not be started`)
  }

  /** Server-sent events with the env's wake progress, for the waking page. */
  private events (req: IncomingMessage, res: ServerResponse, env: Env): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive' })
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    const failed = () => send('failed', { reason: env.m.reason, code: env.m.code || undefined, message: env.m.code ? catalogue[env.m.code].message : undefined })
    const end = () => { env.listeners.delete(listener); clearInterval(ping); res.end() }
    const listener = (e: EnvEvent) => {
      if (e.type === 'phase') send('phase', { phase: e.phase, message: e.message })
      if (e.type === 'state') {
        if (e.state === 'running') { send('ready', { wakeMs: env.lastWakeMs }); end() } else if (e.state === 'failed') { failed(); end() } else send('state', { state: e.state, message: e.message })
      }
    }
    send('phase', { phase: env.phase, message: env.phaseDetail })
    if (env.state === 'running') { send('ready', { wakeMs: env.lastWakeMs }); res.end(); return }
    if (env.state === 'failed') { failed(); res.end(); return }
    env.listeners.add(listener)
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000)
    req.once('close', () => { env.listeners.delete(listener); clearInterval(ping) })
  }
}
