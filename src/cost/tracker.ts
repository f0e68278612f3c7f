// Follows the manager's env events to account each env's task time (cost/account.ts), knows
// each app's task size (config, or the ecs task definition read once) and price, and answers
// cost per env, per app and per PR author for the admin API, /metrics and the PR comment.
// Nothing here is on the request path: it runs on lifecycle events and when asked.
import type { Logger } from 'pino'
import type { EnvManager } from '../lifecycle/manager.js'
import type { Env, EnvEvent } from '../lifecycle/env.js'
import { accountOpen, accountRun, alwaysOnMs, runningMs, tasksOf } from './account.js'
import { costOf, hourlyCost, type Capacity, type Price, type TaskSize } from './prices.js'
import { isSizedBackend } from './size.js'

/** An env's cost; amounts only when the app's size and price are known. */
export interface EnvCost {
  /** Task time so far (a redeploy's task beside the current one, and draining ones, count too). */
  runningMs: number
  /** Time since the PR was opened (until it was closed): what one task always on would have run. */
  alwaysOnMs: number
  /** Tasks the env has now. */
  tasks: number
  /** When this was read (ISO): a page can add the time since, at `tasks` × perHour. */
  asOf: string
  currency: string
  capacity?: Capacity
  size?: TaskSize
  price?: Price
  /** One task of this size for one hour. */
  perHour?: number
  amount?: number
  alwaysOnAmount?: number
}

interface Sums { envs: number, runningMs: number, alwaysOnMs: number }

export interface AppCostTotal extends Sums {
  app: string
  capacity?: Capacity
  size?: TaskSize
  price?: Price
  amount?: number
  alwaysOnAmount?: number
}

export interface AuthorCostTotal extends Sums {
  /** '' for envs with no known author (config PRs, the admin API). */
  author: string
  /** Over the envs of apps whose cost is known. */
  amount: number
  alwaysOnAmount: number
  /** Envs of apps whose cost is not known, not in the amounts. */
  unpriced: number
}

export interface CostTotals {
  currency: string
  apps: AppCostTotal[]
  authors: AuthorCostTotal[]
  /** Per app and author, for the metrics. */
  byAppAuthor: Array<{ app: string, author: string, amount: number }>
  total: { runningMs: number, amount: number, alwaysOnAmount: number }
}

interface SizeState {
  size?: TaskSize
  /** Why the backend gave none (logged once). */
  problem?: string
  asking?: boolean
  /** The last lookup failed at this time (asked again on a later wake). */
  failedAt?: number
  /** It failed in a way retrying does not fix soon (access denied): asked again rarely. */
  permanent?: boolean
}

/** A failed task-size lookup is asked again on a wake at most this often (permanent failures: an hour). */
const RETRY_LOOKUP = 60_000
const RETRY_PERMANENT = 3_600_000

const round = (n: number) => Math.round(n * 1e6) / 1e6

export class CostTracker {
  /** Periods an earlier gateway left open end here (account.ts). */
  readonly started = Date.now()
  private readonly sizes = new Map<string, SizeState>()
  /** Envs seen, to notice forgotten ones and keep their time in the totals (counters never go down). */
  private readonly known = new Set<Env>()
  private readonly retired = new Map<string, Sums & { app: string, author: string }>()
  private readonly recount = new Set<Env>()
  private log: Logger | undefined

  constructor (private readonly manager: EnvManager, log?: Logger) {
    this.log = log
    manager.on('event', this.onEvent)
    manager.on('redeploy-failed', this.onRedeployFailed)
    for (const name of manager.apps.keys()) this.lookupSize(name)
  }

  /** Logs go here from now on (the first user may have had no logger). */
  useLog (log: Logger): void { this.log ??= log }

  // Listeners run inside lifecycle transitions: a fault here must never reach them.
  private onEvent = (e: EnvEvent): void => {
    const env = this.manager.envs.get(e.key)
    if (!env) return
    try {
      this.account(env, e.type === 'state')
      if (e.type === 'state' && e.state === 'waking') this.retryLookup(env.app.config.name)
    } catch (err) {
      this.log?.error({ err, env: e.key }, 'cost: event not accounted')
    }
  }

  /** The failed redeploy's task ends after this event (the manager applies it next): count again once it has. */
  private onRedeployFailed = (env: Env): void => {
    if (this.recount.has(env)) return
    this.recount.add(env)
    queueMicrotask(() => {
      this.recount.delete(env)
      if (this.manager.envs.get(env.key) !== env) return
      this.account(env, false)
      this.manager.persist(env)
    })
  }

  /** Closes the env's open period and opens one for the tasks it has now; state events also follow the PR's open time. */
  private account (env: Env, state: boolean): void {
    const now = Date.now()
    this.known.add(env)
    accountRun(env.meta, tasksOf(env), now, this.started)
    // Only on state events: the first event of a restored env comes before its meta is merged.
    if (state) accountOpen(env.meta, env.state === 'destroyed', env.createdAt, now)
  }

  private lookupSize (app: string): void {
    const rt = this.manager.apps.get(app)
    if (!rt) return
    const s: SizeState = this.sizes.get(app) ?? {}
    this.sizes.set(app, s)
    if (rt.config.cost.size) { s.size = rt.config.cost.size; return }
    const backend = this.manager.backends.get(app)
    if (!rt.config.cost.price || !isSizedBackend(backend) || s.asking || s.size) return
    s.asking = true
    backend.taskSize(app).then(answer => {
      if ('size' in answer) {
        s.size = answer.size
        s.failedAt = undefined
        this.log?.info({ app, size: answer.size }, 'cost: task size read from the task definition')
      } else {
        s.problem = answer.problem
        this.log?.warn({ app, problem: answer.problem }, `cost of ${app} not shown: ${answer.problem}; set apps[].cost.size`)
      }
    }, err => {
      s.failedAt = Date.now()
      s.permanent = (err as { permanent?: boolean }).permanent === true
      this.log?.warn({ err, app }, `cost of ${app} not shown yet: the task size could not be read (set apps[].cost.size, or allow ecs:DescribeTaskDefinition)`)
    }).finally(() => { s.asking = false })
  }

  private retryLookup (app: string): void {
    const s = this.sizes.get(app)
    if (s?.failedAt !== undefined && Date.now() - s.failedAt >= (s.permanent ? RETRY_PERMANENT : RETRY_LOOKUP)) this.lookupSize(app)
  }

  /** The app's price and size, when both are known. */
  pricing (app: string): { capacity: Capacity, price: Price, size: TaskSize, currency: string } | undefined {
    const cfg = this.manager.apps.get(app)?.config.cost
    const size = this.sizes.get(app)?.size ?? cfg?.size
    if (!cfg?.capacity || !cfg.price || !size) return undefined
    return { capacity: cfg.capacity, price: cfg.price, size, currency: cfg.currency }
  }

  get currency (): string {
    return this.manager.apps.values().next().value?.config.cost.currency ?? 'USD'
  }

  envCost (env: Env, now = Date.now()): EnvCost {
    const ran = Math.round(runningMs(env.meta, now, this.started))
    const open = Math.round(alwaysOnMs(env.meta, env.createdAt, now))
    const p = this.pricing(env.app.config.name)
    const out: EnvCost = { runningMs: ran, alwaysOnMs: open, tasks: tasksOf(env), asOf: new Date(now).toISOString(), currency: env.app.config.cost.currency }
    if (!p) return out
    return {
      ...out,
      capacity: p.capacity,
      size: p.size,
      price: p.price,
      perHour: round(hourlyCost(p.size, p.price)),
      amount: round(costOf(ran, p.size, p.price)),
      alwaysOnAmount: round(costOf(open, p.size, p.price))
    }
  }

  /** Totals per app and per author, forgotten envs included. */
  totals (now = Date.now()): CostTotals {
    this.retire()
    const sums = new Map<string, Sums & { app: string, author: string }>()
    const add = (app: string, author: string, envs: number, ran: number, open: number) => {
      const k = `${app}\n${author}`
      const s = sums.get(k) ?? { app, author, envs: 0, runningMs: 0, alwaysOnMs: 0 }
      s.envs += envs
      s.runningMs += ran
      s.alwaysOnMs += open
      sums.set(k, s)
    }
    for (const r of this.retired.values()) add(r.app, r.author, r.envs, r.runningMs, r.alwaysOnMs)
    for (const env of this.manager.envs.values()) {
      add(env.app.config.name, env.author ?? '', 1, runningMs(env.meta, now, this.started), alwaysOnMs(env.meta, env.createdAt, now))
    }

    const apps = new Map<string, AppCostTotal>()
    for (const name of this.manager.apps.keys()) apps.set(name, { app: name, envs: 0, runningMs: 0, alwaysOnMs: 0 })
    const authors = new Map<string, AuthorCostTotal>()
    const byAppAuthor: CostTotals['byAppAuthor'] = []
    const total = { runningMs: 0, amount: 0, alwaysOnAmount: 0 }
    for (const s of sums.values()) {
      const p = this.pricing(s.app)
      const amount = p ? costOf(s.runningMs, p.size, p.price) : 0
      const alwaysOn = p ? costOf(s.alwaysOnMs, p.size, p.price) : 0
      const a = apps.get(s.app) ?? { app: s.app, envs: 0, runningMs: 0, alwaysOnMs: 0 }
      a.envs += s.envs
      a.runningMs += s.runningMs
      a.alwaysOnMs += s.alwaysOnMs
      apps.set(s.app, a)
      const au = authors.get(s.author) ?? { author: s.author, envs: 0, runningMs: 0, alwaysOnMs: 0, amount: 0, alwaysOnAmount: 0, unpriced: 0 }
      au.envs += s.envs
      au.runningMs += s.runningMs
      au.alwaysOnMs += s.alwaysOnMs
      au.amount += amount
      au.alwaysOnAmount += alwaysOn
      if (!p) au.unpriced += s.envs
      authors.set(s.author, au)
      if (p) byAppAuthor.push({ app: s.app, author: s.author, amount })
      total.runningMs += s.runningMs
      total.amount += amount
      total.alwaysOnAmount += alwaysOn
    }
    for (const a of apps.values()) {
      const p = this.pricing(a.app)
      a.runningMs = Math.round(a.runningMs)
      a.alwaysOnMs = Math.round(a.alwaysOnMs)
      if (p) Object.assign(a, { capacity: p.capacity, size: p.size, price: p.price, amount: round(costOf(a.runningMs, p.size, p.price)), alwaysOnAmount: round(costOf(a.alwaysOnMs, p.size, p.price)) })
    }
    for (const au of authors.values()) {
      au.runningMs = Math.round(au.runningMs)
      au.alwaysOnMs = Math.round(au.alwaysOnMs)
      au.amount = round(au.amount)
      au.alwaysOnAmount = round(au.alwaysOnAmount)
    }
    return {
      currency: this.currency,
      apps: [...apps.values()].sort((x, y) => x.app.localeCompare(y.app)),
      authors: [...authors.values()].sort((x, y) => y.amount - x.amount || x.author.localeCompare(y.author)),
      byAppAuthor,
      total: { runningMs: Math.round(total.runningMs), amount: round(total.amount), alwaysOnAmount: round(total.alwaysOnAmount) }
    }
  }

  /** Envs the manager forgot (tombstone over) keep their final time in the totals. */
  private retire (): void {
    const now = Date.now()
    for (const env of this.known) {
      if (this.manager.envs.get(env.key) === env) continue
      this.known.delete(env)
      const app = env.app.config.name
      const author = env.author ?? ''
      const k = `${app}\n${author}`
      const r = this.retired.get(k) ?? { app, author, envs: 0, runningMs: 0, alwaysOnMs: 0 }
      r.envs++
      r.runningMs += runningMs(env.meta, now, this.started)
      r.alwaysOnMs += alwaysOnMs(env.meta, env.createdAt, now)
      this.retired.set(k, r)
    }
  }

  close (): void {
    this.manager.off('event', this.onEvent)
    this.manager.off('redeploy-failed', this.onRedeployFailed)
  }
}

const trackers = new WeakMap<EnvManager, CostTracker>()

/**
 * The manager's cost tracker, created by its first user (metrics, admin, PR feedback, all
 * built before the gateway listens), so every lifecycle event is seen by one tracker.
 */
export function costTracker (manager: EnvManager, log?: Logger): CostTracker {
  let t = trackers.get(manager)
  if (!t) {
    t = new CostTracker(manager, log)
    trackers.set(manager, t)
  } else if (log) {
    t.useLog(log)
  }
  return t
}
