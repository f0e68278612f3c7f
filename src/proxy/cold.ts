// Requests for an env that is not running: preview bots, robots.txt, the waking page and
// its progress stream, failed envs, and holding other clients until the env is ready.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { backoffError, type Env, type EnvEvent } from '../lifecycle/env.js'
import { catalogue, errorInfo, type ErrorInfo } from '../errors.js'
import { WakeLimiter, startsWake } from '../access/wake-limit.js'
import type { Gateway } from './gateway.js'
import { isNavigation, isReconnectProbe, type ClientClassifier } from './clients.js'
import { asleepRefusal } from './reconnects.js'
import { wakingPage, previewPage, ROBOTS_TXT } from './pages.js'
import type { Upstream } from './upstream.js'

/** Served by the gateway on every env host; an app is unlikely to use this path. */
export const EVENTS_PATH = '/__wakegate/events'

/**
 * How long a page load waits to learn whether its wake started (the lifecycle is in another
 * process, or refused it) before it gets the waking page anyway, which hears the rest.
 */
const START_WAIT_MS = 2_000

/** A wake this request was counted for: the client's address, to give the token back if nothing started. */
export type WakeToken = string | null

export class ColdPath {
  /** limits.wakesPerMinute per client address; null when 0 (no limit). */
  readonly wakeLimit: WakeLimiter | null

  constructor (private readonly gw: Gateway, readonly clients: ClientClassifier) {
    const limits = gw.config.limits
    this.wakeLimit = limits && limits.wakesPerMinute > 0 ? new WakeLimiter(limits.wakesPerMinute, limits.wakeBurst) : null
  }

  /**
   * The wake rate limit for a request (or upgrade) to `env` that is not running: when it
   * would start a wake, it takes a token from its client's address. Returns the error to
   * answer with (429 WAKEGATE_WAKE_RATE_LIMITED) when none is left, else the token taken
   * (the address) or null when none was needed.
   */
  limitWake (req: IncomingMessage, env: Env): { refused: ErrorInfo } | { token: WakeToken } {
    const limiter = this.wakeLimit
    if (limiter === null) return { token: null }
    const now = Date.now()
    if (!startsWake(env, now)) return { token: null }
    const address = this.gw.clientAddress(req)
    if (limiter.take(address, now)) return { token: address }
    this.gw.counters.rejected++
    return {
      refused: {
        code: 'WAKEGATE_WAKE_RATE_LIMITED',
        detail: `At most ${limiter.burst} environments may be started at once from one address, then ${limiter.perMinute} a minute.`,
        retryAfter: limiter.retryAfter(address, now)
      }
    }
  }

  /** A wake that was refused at capacity started nothing: its token goes back. */
  giveBack (token: WakeToken, info: ErrorInfo): void {
    if (token !== null && info.code === 'WAKEGATE_AT_CAPACITY') this.wakeLimit?.giveBack(token)
  }

  handle (req: IncomingMessage, res: ServerResponse, env: Env): void {
    const gw = this.gw
    if (gw.shuttingDown) { gw.sendError(res, 'WAKEGATE_SHUTTING_DOWN'); return }
    if (gw.directory.relay?.(req, res)) return
    if (req.url === EVENTS_PATH) { this.events(req, res, env); return }
    const machine = this.clients.countOnce(req, env.app.clients)
    if (env.state === 'destroyed') { gw.sendError(res, 'WAKEGATE_ENV_DESTROYED'); return }
    const path = req.url ?? '/'
    if (path === '/robots.txt') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-robots-tag': 'noindex, nofollow' })
      res.end(ROBOTS_TXT)
      return
    }
    if (machine) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-robots-tag': 'noindex, nofollow' })
      res.end(req.method === 'HEAD' ? undefined : previewPage(env.app.config.name, env.pr, env.url, env.title))
      return
    }
    // Put to sleep: an open tab's EventSource or dev-server ping does not wake it; a page load does.
    const asleep = isReconnectProbe(req) ? asleepRefusal(env) : null
    if (asleep !== null) { env.app.clients.asleepRefused++; gw.counters.rejected++; gw.sendErrorInfo(res, asleep); return }
    gw.counters.cold++
    if (env.state === 'failed' && Date.now() - env.m.failedAt < env.app.config.failureBackoff) {
      this.failed(res, env)
      return
    }
    const limit = this.limitWake(req, env)
    if ('refused' in limit) { gw.sendErrorInfo(res, limit.refused, undefined, this.heading(env, limit.refused)); return }
    const started = Date.now()
    if (isNavigation(req)) {
      // Start the wake, answer at once with a page that follows it.
      const wake = this.gw.directory.wake(env, 'browser', 'navigation')
      if (env.route && env.state === 'running') { wake.catch(() => {}); gw.forward(req, res, env, env.route, 0); return }
      if (env.state === 'waking' || (env.state === 'stopping' && env.m.wakeAfterStop)) { wake.catch(() => {}); this.waking(req, res, env); return }
      this.whenStarted(req, res, env, wake, started, limit.token)
      return
    }
    // A page load waited for this wake too: the cold-start header is its document's, not this one's.
    this.hold(req, res, env, 'request', route => gw.forward(req, res, env, route, env.coldPending === 'navigation' ? -1 : Date.now() - started), limit.token)
  }

  /**
   * A page load whose wake has not visibly started: it was refused (at capacity), or the
   * lifecycle is another process's. The page waits for the first of: the wake refused or
   * failed (an error page), the env ready (the app's page), the env waking or START_WAIT_MS
   * passed (the waking page, whose event stream tells the rest).
   */
  private whenStarted (req: IncomingMessage, res: ServerResponse, env: Env, wake: Promise<Upstream>, started: number, token: WakeToken): void {
    const gw = this.gw
    let done = false
    const finish = (fn?: () => void) => {
      if (done) return
      done = true
      clearTimeout(timer)
      env.listeners.delete(listener)
      req.removeListener('close', onClose)
      if (fn && !res.destroyed) fn()
    }
    const listener = (e: EnvEvent) => { if (e.type === 'state' && e.state === 'waking') finish(() => this.waking(req, res, env)) }
    const onClose = () => finish()
    const timer = setTimeout(() => finish(() => this.waking(req, res, env)), START_WAIT_MS)
    env.listeners.add(listener)
    req.once('close', onClose)
    wake.then(route => finish(() => gw.forward(req, res, env, route, env.coldPending === 'navigation' ? -1 : Date.now() - started)), err => {
      const info = errorInfo(err)
      this.giveBack(token, info)
      finish(() => gw.sendErrorInfo(res, info, undefined, this.heading(env, info)))
    })
  }

  /** The heading of an error page about `env`'s wake. */
  private heading (env: Env, info: ErrorInfo): string {
    const which = `PR #${env.pr} of ${env.app.config.name}`
    return info.code === 'WAKEGATE_AT_CAPACITY' || info.code === 'WAKEGATE_WAKE_RATE_LIMITED' ? `${which} cannot be started right now` : `${which} could not be started`
  }

  /**
   * Hold a request until the env is ready (bounded in count and time), then call `go`.
   * `token`: the wake rate-limit token this request took, given back if the wake is refused.
   */
  hold (req: IncomingMessage, res: ServerResponse, env: Env, cause: string, go: (route: Upstream) => void, token: WakeToken = null): void {
    const gw = this.gw
    const held = gw.holds.hold(env, cause, {
      watch: fn => {
        const onClose = () => { if (!res.writableEnded && !res.headersSent) fn() }
        req.once('close', onClose)
        return () => req.removeListener('close', onClose)
      },
      get gone () { return res.destroyed },
      fail: info => {
        this.giveBack(token, info)
        gw.sendErrorInfo(res, info, info.code === 'WAKEGATE_SHUTTING_DOWN' ? { connection: 'close' } : undefined)
      }
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
      app: app.config.name, pr: env.pr, branch: env.branch, sha: env.sha, state: env.state, phase: env.phase, step: currentStep(env),
      backend: app.config.backend.kind, typical: app.wakeStats.typicals(),
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
      // A wake asked for while stopping was refused at capacity when the stop ended.
      if (e.type === 'info' && e.code) { send('failed', { reason: e.message, code: e.code, message: catalogue[e.code].message }); end(); return }
      if (e.type === 'phase') send('phase', { phase: e.phase, step: e.step, message: e.message })
      if (e.type === 'state') {
        if (e.state === 'running') { send('ready', { wakeMs: env.lastWakeMs }); end() } else if (e.state === 'failed') { failed(); end() } else send('state', { state: e.state, message: e.message })
      }
    }
    send('phase', { phase: env.phase, step: currentStep(env), message: env.phaseDetail })
    if (env.state === 'running') { send('ready', { wakeMs: env.lastWakeMs }); res.end(); return }
    if (env.state === 'failed') { failed(); res.end(); return }
    env.listeners.add(listener)
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000)
    req.once('close', () => { env.listeners.delete(listener); clearInterval(ping) })
  }
}

/** The step of the wake in progress, from its last phase event (workers see the same events). */
function currentStep (env: Env): string | undefined {
  for (let i = env.recent.length - 1; i >= 0; i--) {
    const e = env.recent[i]
    if (e.type === 'phase' && e.generation === env.m.generation) return e.step
  }
  return undefined
}
