// The operator listener: JSON API, /metrics, /healthz, /readyz. Bearer-token auth when a
// token is configured (required off loopback).
import { timingSafeEqual } from 'node:crypto'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { EnvManager } from '../lifecycle/manager.js'
import type { Env } from '../lifecycle/env.js'
import type { Store } from '../stores/store.js'
import { parsePr } from '../routing/template.js'
import { registerDashboard } from './dashboard.js'
import { isEnvPage, registerEnvPage } from './env-page.js'
import { registerWakePhases } from './wake-phases.js'
import { timelineView } from '../lifecycle/wake-timeline.js'
import { registerKeepAwake } from './keep-awake.js'
import { costTracker } from '../cost/tracker.js'
import { registerCostApi } from '../cost/api.js'
import { replyError } from '../proxy/error-response.js'
import type { AdminSignIn } from '../access/admin-signin.js'

export interface AdminDeps {
  manager: EnvManager
  store: Store
  metrics: Registry
  log: Logger
  token?: string
  /** True once the public listener accepts requests. */
  ready: () => boolean
  /** GitHub sign-in for admin.github's teams and users, beside the bearer token. */
  signIn?: AdminSignIn
  /** Apps anyone who reaches the gateway may open (shown as public on the dashboard). */
  publicApps?: string[]
}

export function envView (env: Env, publicApps?: ReadonlySet<string>) {
  return {
    key: env.key,
    app: env.app.config.name,
    /** public: anyone who reaches the gateway may open it (no access policy); restricted: a policy applies. */
    access: publicApps === undefined ? undefined : publicApps.has(env.app.config.name) ? 'public' : 'restricted',
    pr: env.pr,
    url: env.url,
    state: env.state,
    phase: env.phase,
    branch: env.branch,
    sha: env.sha,
    title: env.title,
    author: env.author,
    generation: env.m.generation,
    task: env.task?.id,
    upstream: env.route?.origin,
    runningSha: env.runningSha || undefined,
    generations: [
      ...(env.route ? [{ generation: env.route.generation, role: 'current', sha: env.runningSha, task: env.task?.id, upstream: env.route.origin, inflight: env.route.inflight, streams: env.route.streams }] : []),
      ...(env.m.pending ? [{ generation: env.m.pending, role: 'pending', sha: env.pendingSha, task: env.pendingTask?.id }] : []),
      ...[...env.draining].map(d => ({ generation: d.generation, role: 'draining', task: d.task?.id, upstream: d.upstream.origin, inflight: d.upstream.inflight, streams: d.upstream.streams, since: new Date(d.since).toISOString() }))
    ],
    reason: env.m.reason || undefined,
    /** Who put it to sleep (operator, schedule, policy): reconnects do not wake it until a page load or API call. */
    sleptBy: env.sleptBy || undefined,
    code: env.m.code || undefined,
    lastSeen: new Date(env.lastSeen).toISOString(),
    readyAt: env.readyAt ? new Date(env.readyAt).toISOString() : undefined,
    lastWakeMs: env.lastWakeMs || undefined,
    /** The recent wakes' and redeploys' timelines, oldest first: phases in order with their ms. */
    wakes: env.wakes.map(timelineView),
    inflight: env.inflight,
    streams: env.streams,
    held: env.held,
    source: env.source,
    events: env.recent.slice(-20)
  }
}

function tokenMatches (header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false
  const a = Buffer.from(header.slice(7))
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

export function createAdmin (deps: AdminDeps): FastifyInstance {
  const { manager } = deps
  const publicApps = new Set(deps.publicApps ?? [])
  // idle: the timeout that applies now and why (fixed, adaptive, office hours), visits, keep-awake.
  // cost: task time so far and what it cost, beside what always-on would have (cost/tracker.ts).
  const cost = costTracker(manager, deps.log)
  const view = (env: Env) => ({ ...envView(env, publicApps), idle: manager.idle.view(env, Date.now()), cost: cost.envCost(env) })
  const app = Fastify({ loggerInstance: deps.log.child({ listener: 'admin' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) })

  const signIn = deps.signIn
  signIn?.register(app)
  app.addHook('onRequest', async (req, reply) => {
    if (req.url === '/healthz' || req.url === '/readyz') return
    if (!deps.token && !signIn) return
    if (deps.token && tokenMatches(req.headers.authorization, deps.token)) return
    if (signIn) {
      if (signIn.isOpenPath(req.url)) return
      await signIn.check(req, reply)
      return
    }
    // The dashboard pages hold no data; they ask for the token and send it with every call.
    if (req.url === '/' || isEnvPage(req.url)) return
    replyError(reply, { code: 'WAKEGATE_UNAUTHORIZED' }, undefined, { 'www-authenticate': 'Bearer' })
  })

  app.get('/healthz', async () => ({ ok: true }))
  app.get('/readyz', async (_req, reply) => {
    const ready = deps.ready()
    const store = deps.store.healthy()
    reply.code(ready ? 200 : 503)
    return { ready, store: { kind: deps.store.kind, healthy: store } }
  })
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.metrics.contentType)
    return deps.metrics.metrics()
  })

  app.get('/api/envs', async () => ({ envs: [...manager.envs.values()].map(view) }))
  registerDashboard(app, manager, key => { const env = manager.envs.get(key); return env && view(env) })
  registerEnvPage(app)
  registerWakePhases(app, manager.apps)
  registerCostApi(app, cost)

  const findEnv = (req: FastifyRequest<{ Params: { app: string, pr: string } }>, reply: FastifyReply): Env | undefined => {
    const pr = parsePr(req.params.pr)
    const env = pr ? manager.envs.get(`${req.params.app}/${pr}`) : undefined
    if (!env) replyError(reply, { code: 'WAKEGATE_UNKNOWN_PR', detail: `no env ${req.params.app}/${req.params.pr}` })
    return env
  }

  app.get<{ Params: { app: string, pr: string } }>('/api/envs/:app/:pr', async (req, reply) => {
    const env = findEnv(req, reply)
    return env && view(env)
  })

  app.post<{ Body: { app: string, pr: number, branch?: string, sha?: string, title?: string } }>('/api/envs', {
    schema: {
      body: {
        type: 'object',
        required: ['app', 'pr'],
        additionalProperties: false,
        properties: {
          app: { type: 'string', minLength: 1 },
          pr: { type: 'integer', minimum: 1, maximum: 2147483647 },
          branch: { type: 'string', minLength: 1 },
          sha: { type: 'string', minLength: 1 },
          title: { type: 'string' }
        }
      }
    }
  }, async (req, reply) => {
    const { app: name, pr, branch, sha, title } = req.body
    if (!manager.apps.has(name)) return replyError(reply, { code: 'WAKEGATE_UNKNOWN_APP', detail: `no app named ${name}` })
    const env = manager.register(name, pr, { branch, sha, title, source: 'admin' })
    reply.code(201)
    return view(env)
  })

  app.post<{ Params: { app: string, pr: string }, Body: { sha?: string } | undefined }>('/api/envs/:app/:pr/redeploy', {
    schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: { sha: { type: 'string', minLength: 1, maxLength: 64 } } } }
  }, async (req, reply) => {
    const env = findEnv(req, reply)
    if (!env) return
    manager.redeploy(env, req.body?.sha, 'admin')
    reply.code(202)
    return view(env)
  })

  registerKeepAwake(app, manager, findEnv, view)

  for (const action of ['wake', 'sleep', 'destroy'] as const) {
    app.post<{ Params: { app: string, pr: string } }>(`/api/envs/:app/:pr/${action}`, async (req, reply) => {
      const env = findEnv(req, reply)
      if (!env) return
      if (action === 'wake') manager.wake(env, 'admin').catch(() => {})
      else if (action === 'sleep') manager.sleep(env, 'admin', 'operator')
      else manager.destroy(env)
      reply.code(202)
      return view(env)
    })
  }

  return app
}
