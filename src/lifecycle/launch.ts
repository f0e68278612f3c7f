// Launches one task for an env (a wake or a redeploy's pending generation): runs the wake,
// reports phases as env events, keeps its timeline, and hands back a ready Upstream or the
// error it failed with. Tasks nobody wants any more (env slept, superseded, gateway closing)
// are stopped here.
import type { Logger } from 'pino'
import type { Backend, TaskRef } from '../backends/backend.js'
import { taskEnv } from '../backends/backend.js'
import { Upstream, type UpstreamOptions } from '../proxy/upstream.js'
import { WakegateError } from '../errors.js'
import type { Env, EnvEvent } from './env.js'
import type { StatusPoller } from './poller.js'
import { runWake, type WakeJob } from './waker.js'
import { wakeTimeline, WAKES_KEPT, type TimelinePhase, type WakeMarks, type WakeTimeline } from './wake-timeline.js'

export type LaunchKind = 'wake' | 'redeploy'
export type LaunchOutcome =
  | { ok: true, ref: TaskRef, upstream: Upstream }
  | { ok: false, ref?: TaskRef, error: WakegateError, cancelled?: boolean }

export interface LaunchDeps {
  backend: Backend
  poller: StatusPoller
  upstream: UpstreamOptions
  closing: () => boolean
  stopRef: (ref: TaskRef, reason: string) => void
  emit: (e: EnvEvent) => void
  persist: () => void
  log: Logger
  /** Readiness probe override (ManagerOptions.probe). */
  probe?: WakeJob['probe']
}

/** @param existing a task already starting (adopted by reconcile) to wait for instead of starting one */
export function launchTask (deps: LaunchDeps, env: Env, generation: number, sha: string, kind: LaunchKind, done: (out: LaunchOutcome) => void, existing?: TaskRef): void {
  const app = env.app.config
  const startedAt = Date.now()
  const spec = {
    app: app.name, pr: env.pr, branch: env.branch, sha, generation, port: app.port,
    env: taskEnv({ app: app.name, pr: env.pr, branch: env.branch, sha }, app.env)
  }
  const setPhase = (phase: Env['phase'], detail: string, step?: TimelinePhase) => {
    if (kind === 'wake') { env.phase = phase; env.phaseDetail = detail }
    const message = kind === 'wake' ? detail : `redeploy g${generation}: ${detail}`
    deps.emit(env.emit(step ? { type: 'phase', phase, step, message, generation } : { type: 'phase', phase, message, generation }))
  }
  // Wakes wakegate ran from the start: an adopted task's start was not ours to time.
  const keepTimeline = (marks: WakeMarks, ok: boolean, code?: string) => {
    if (!existing) rememberWake(env, wakeTimeline(marks, { kind, generation, sha, ok, code }))
  }
  // Still wanted: the env is in the state this launch was for and nothing newer replaced it.
  const wanted = kind === 'wake'
    ? () => !deps.closing() && env.m.generation === generation && env.state === 'waking'
    : () => !deps.closing() && env.m.pending === generation && env.state === 'running'
  setPhase('queued', kind === 'wake' ? 'wake requested' : `redeploying ${sha.slice(0, 12)}`, 'queue')
  runWake({
    spec,
    existing,
    probe: deps.probe,
    backend: deps.backend,
    poller: deps.poller,
    deadline: startedAt + app.startTimeout,
    health: app.health,
    hostHeader: env.app.template.hostFor(env.pr),
    statusEvery: app.backend.kind === 'ecs' ? app.backend.pollInterval : 250,
    wanted,
    onTask: ref => {
      if (kind === 'wake' && env.m.generation === generation) env.task = ref
      else if (kind === 'redeploy' && env.m.pending === generation) env.pendingTask = ref
      else return
      deps.persist()
    },
    onPhase: setPhase
  }, startedAt).then(out => {
    // On shutdown the backend decides what becomes of its tasks: local stops them, ECS
    // leaves them for the next gateway to adopt (a task still starting included).
    const keep = deps.closing()
    if (!out.ok) {
      // A task nobody tracks any more must not be left running.
      if (out.ref && !keep && (out.cancelled || (env.task?.id !== out.ref.id && env.pendingTask?.id !== out.ref.id))) deps.stopRef(out.ref, 'wake cancelled')
      const cancelled = out.cancelled || !wanted()
      if (!cancelled) keepTimeline(out.marks, false, out.error.code)
      done({ ok: false, ref: out.ref, error: out.error, cancelled })
      return
    }
    if (!wanted()) {
      if (!keep) deps.stopRef(out.ref, 'wake no longer wanted')
      done({ ok: false, ref: out.ref, error: new WakegateError('WAKEGATE_TASK_EXITED', 'wake cancelled'), cancelled: true })
      return
    }
    const upstream = new Upstream(out.endpoint.host, out.endpoint.port, generation, deps.upstream)
    const ms = Date.now() - startedAt
    env.app.typicalWake = env.app.typicalWake ? Math.round(env.app.typicalWake * 0.7 + ms * 0.3) : ms
    keepTimeline(out.marks, true)
    setPhase('ready', `ready in ${ms} ms`)
    done({ ok: true, ref: out.ref, upstream })
  }, err => {
    deps.log.error({ err, env: env.key }, 'wake crashed')
    done({ ok: false, error: new WakegateError('WAKEGATE_BACKEND_FAILED', `wake crashed: ${(err as Error).message}`) })
  })
}

/** The env keeps its last WAKES_KEPT timelines; the app's stats take the successful ones. */
function rememberWake (env: Env, t: WakeTimeline): void {
  env.wakes.push(t)
  if (env.wakes.length > WAKES_KEPT) env.wakes.shift()
  env.app.wakeStats.record(t)
}
