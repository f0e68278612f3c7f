// Replays a trace against the real lifecycle code under a virtual clock: a fresh EnvManager
// (state machine, reaper, idle policy), the real warm-up logic, the MemoryStore, and the
// simulated backend. Time moves with @sinonjs/fake-timers from event to event, so the reaper,
// status polls, probes and warm-up windows fire at their virtual times. The clock is
// uninstalled when the run ends; no real timer or socket is left behind.
import FakeTimers from '@sinonjs/fake-timers'
import { pino } from 'pino'
import { validateConfig } from '../config/load.js'
import { EnvManager } from '../lifecycle/manager.js'
import { WarmUps } from '../lifecycle/warmup.js'
import { VISIT_GAP } from '../lifecycle/visits.js'
import { wakePhasesView } from '../admin/wake-phases.js'
import type { Env } from '../lifecycle/env.js'
import { MemoryStore } from '../stores/memory.js'
import { SimulatedBackend, DEFAULT_INSTANCES } from './backend.js'
import { shaOf } from './generate.js'
import { APP, policyConfig, type Policy } from './policies.js'
import type { PhaseModel } from './phases.js'
import { derive } from './prng.js'
import type { Trace } from './trace.js'

/**
 * One visit: page views of one PR less than VISIT_GAP apart (the manager's own visit rule).
 * Defined by the trace alone, so every policy is judged on the same visits.
 */
export interface VisitOutcome {
  pr: number
  at: number
  /** Some page view of it found the env not running and waited for a wake. */
  cold: boolean
  /** Longest wait of its page views, ms (0: warm). */
  waitMs: number
  /** A wake it waited for failed. */
  failed: boolean
  /**
   * What came before it: the PR's first visit; a warm-up signal (push, review request,
   * comment) since the PR's previous visit; or nothing but a quiet gap.
   */
  after: 'first' | 'signal' | 'gap'
}

export interface RunResult {
  policy: Policy
  /** Task time inside the window, ms (every task, redeploys' overlap included). */
  taskMs: number
  /** Tasks started, and how many of them had to pull their image. */
  starts: number
  pulls: number
  pageViews: number
  coldPageViews: number
  /** Page views of a PR already closed (answered "gone"; not visits). */
  closedViews: number
  visits: VisitOutcome[]
  warmups?: { signals: number, warmUps: number, starts: number, used: number, wasted: number }
  /** The simulated wakes as the gateway measured them: what its GET /api/wake-phases would answer. */
  wakePhases: ReturnType<typeof wakePhasesView>
}

export interface ReplayOptions {
  seed: number
  phases: PhaseModel
  instances?: number
}

const FAKED = ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] as const

let replaying = false

/** One run at a time: the virtual clock is the process's global one while it runs. */
export async function replay (trace: Trace, policy: Policy, opts: ReplayOptions): Promise<RunResult> {
  if (replaying) throw new Error('a replay is already running in this process')
  replaying = true
  const clock = FakeTimers.withGlobal(globalThis).install({ now: trace.start, toFake: [...FAKED] })
  try {
    return await run(clock, trace, policy, opts)
  } finally {
    clock.uninstall()
    replaying = false
  }
}

async function run (clock: FakeTimers.Clock, trace: Trace, policy: Policy, opts: ReplayOptions): Promise<RunResult> {
  const config = validateConfig(policyConfig(policy, trace.end - trace.start), {}, process.cwd())
  const log = pino({ level: 'silent' })
  // Same seed, same phase draws for every policy's n-th start.
  const backend = new SimulatedBackend(opts.phases, derive(opts.seed, 'phases'), opts.instances ?? DEFAULT_INSTANCES)
  const manager = new EnvManager({ config, backends: new Map([[APP, backend]]), store: new MemoryStore(), log, probe: backend.probe })
  const warmups = policy.warmup ? new WarmUps(manager, config, log) : undefined
  const out: RunResult = { policy, taskMs: 0, starts: 0, pulls: 0, pageViews: 0, coldPageViews: 0, closedViews: 0, visits: [], wakePhases: { samplesKept: 0, apps: {} } }
  const pushes = new Map<number, number>()
  const lastView = new Map<number, { at: number, visit: VisitOutcome }>()
  const lastSignal = new Map<number, number>()

  const envOf = (pr: number): Env => {
    const known = manager.envs.get(`${APP}/${pr}`)
    if (known) return known
    const env = manager.register(APP, pr, { branch: `pr-${pr}`, sha: shaOf(pr, 0), source: 'simulate' })
    if (policy.kind === 'always-on') manager.wake(env, 'always on').catch(() => {})
    return env
  }
  // What the proxy does for a request it forwards (src/proxy/forward.ts), done at once.
  const served = (env: Env) => {
    env.inflight++
    env.inflight--
    env.lastSeen = Date.now()
  }
  const pageView = (pr: number, now: number) => {
    const env = envOf(pr)
    if (env.state === 'destroyed') { out.closedViews++; return }
    const prev = lastView.get(pr)
    const after: VisitOutcome['after'] = !prev ? 'first' : (lastSignal.get(pr) ?? -Infinity) > prev.at ? 'signal' : 'gap'
    const visit: VisitOutcome = prev && now - prev.at < VISIT_GAP ? prev.visit : { pr, at: now, cold: false, waitMs: 0, failed: false, after }
    if (visit !== prev?.visit) out.visits.push(visit)
    lastView.set(pr, { at: now, visit })
    out.pageViews++
    if (env.route !== null) { served(env); return }
    // Not running: a page load wakes it (src/proxy/cold.ts) and waits.
    out.coldPageViews++
    visit.cold = true
    manager.wake(env, 'browser', 'navigation').then(() => {
      visit.waitMs = Math.max(visit.waitMs, Date.now() - now)
      served(env)
    }, () => { visit.failed = true })
  }

  for (const ev of trace.events) {
    if (ev.at > Date.now()) await clock.tickAsync(ev.at - Date.now())
    if (ev.kind === 'push' || ev.kind === 'review_requested' || ev.kind === 'comment') lastSignal.set(ev.pr, ev.at)
    switch (ev.kind) {
      case 'open': {
        // A reopened PR's env may wake again.
        if (envOf(ev.pr).state !== 'destroyed') break
        const env = manager.register(APP, ev.pr, { source: 'simulate' })
        if (policy.kind === 'always-on') manager.wake(env, 'always on').catch(() => {})
        break
      }
      case 'push': {
        const env = envOf(ev.pr)
        const n = (pushes.get(ev.pr) ?? 0) + 1
        pushes.set(ev.pr, n)
        manager.redeploy(env, shaOf(ev.pr, n), 'push')
        warmups?.signal(env, 'push')
        break
      }
      case 'review_requested': warmups?.signal(envOf(ev.pr), 'review-requested'); break
      case 'comment': warmups?.signal(envOf(ev.pr), 'mention'); break
      case 'visit': pageView(ev.pr, ev.at); break
      case 'close': manager.destroy(envOf(ev.pr)); break
    }
  }
  if (trace.end > Date.now()) await clock.tickAsync(trace.end - Date.now())

  out.taskMs = backend.taskMs(trace.start, trace.end)
  out.starts = backend.tasks.length
  out.pulls = backend.tasks.filter(t => !t.cached).length
  out.wakePhases = wakePhasesView(manager.apps)
  if (warmups) {
    warmups.settleAll()
    const total = { signals: 0, warmUps: 0, starts: 0, used: 0, wasted: 0 }
    for (const c of Object.values(warmups.counts()[APP] ?? {})) {
      if (!c) continue
      for (const k of Object.keys(total) as Array<keyof typeof total>) total[k] += c[k]
    }
    out.warmups = total
    warmups.close()
  }
  await manager.close()
  return out
}
