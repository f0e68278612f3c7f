// One wake: start a task, wait until the backend says it runs, then until the readiness
// probe passes. Reports progress through callbacks, and the moments of each step (the
// wake's timeline); knows nothing about requests.
import type { Backend, TaskRef, TaskSpec, TaskStatus } from '../backends/backend.js'
import { BackendError } from '../backends/backend.js'
import { WakegateError, type ErrorCode } from '../errors.js'
import type { StatusPoller } from './poller.js'
import { probeOnce, nextProbeDelay, type ProbeTarget, type ProbeResult } from './probe.js'
import type { WakePhase } from './machine.js'
import { liveStep, type TimelinePhase, type WakeMarks } from './wake-timeline.js'

export interface WakeJob {
  spec: TaskSpec
  backend: Backend
  poller: StatusPoller
  deadline: number
  health: { path?: string, tcp?: boolean }
  hostHeader: string
  /** Status rounds for backends where describe is not free (ECS): ms between them while probing. */
  statusEvery: number
  /** The wake is still wanted (env not destroyed/slept, generation unchanged). */
  wanted: () => boolean
  onTask: (ref: TaskRef) => void
  /** `step`: the finer phase (placement, pull, start, …) the waking page shows. */
  onPhase: (phase: WakePhase, detail: string, step?: TimelinePhase) => void
  /** A task already started (reconcile adopted it while starting): wait for it, start none. */
  existing?: TaskRef
  /** The readiness probe (default: a real HTTP GET or TCP connect); the simulator answers without I/O. */
  probe?: (target: ProbeTarget, timeout: number) => Promise<ProbeResult>
}

type Outcome =
  | { ok: true, ref: TaskRef, endpoint: { host: string, port: number } }
  | { ok: false, ref?: TaskRef, error: WakegateError, cancelled?: boolean }

/** `marks`: what the wake saw when (its timeline), whatever the outcome. */
export type WakeOutcome = Outcome & { marks: WakeMarks }

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))
const fail = (code: ErrorCode, detail: string, ref?: TaskRef): Outcome => ({ ok: false, ref, error: new WakegateError(code, detail) })
const cancelled = (ref: TaskRef): Outcome => ({ ok: false, ref, error: new WakegateError('WAKEGATE_TASK_EXITED', 'wake cancelled'), cancelled: true })

/** What was probed, in words: the address and path (or TCP) a reviewer can check the app against. */
function probed (t: ProbeTarget): string {
  return t.path === undefined ? `TCP connect to ${t.host}:${t.port}` : `GET http://${t.host}:${t.port}${t.path} with Host ${t.hostHeader}`
}

/** @param asked when the wake was asked for (ms), the start of its timeline */
export async function runWake (job: WakeJob, asked = Date.now()): Promise<WakeOutcome> {
  const marks: WakeMarks = { asked, end: 0 }
  const out = await wake(job, marks)
  // A ready wake ends when its probe passed: its phases add up to its total.
  marks.end = marks.healthy ?? Date.now()
  return { ...out, marks }
}

async function wake (job: WakeJob, marks: WakeMarks): Promise<Outcome> {
  job.onPhase('starting', job.existing ? 'waiting for a task already starting' : 'starting task', 'queue')
  let ref: TaskRef
  try {
    ref = job.existing ?? await job.backend.start(job.spec)
  } catch (err) {
    return fail('WAKEGATE_BACKEND_FAILED', err instanceof BackendError ? err.message : `backend error: ${(err as Error).message}`)
  }
  if (!job.existing) marks.answered = Date.now()
  job.onTask(ref)
  if (!job.wanted()) return cancelled(ref)

  // 1. Until the backend reports RUNNING with an endpoint.
  let status: TaskStatus
  let lastStep = ''
  for (;;) {
    try {
      status = await job.poller.status(ref)
    } catch (err) {
      if (err instanceof BackendError && err.permanent) return fail('WAKEGATE_BACKEND_FAILED', err.message, ref)
      status = { ref, phase: 'pending' } // transient describe failure: keep waiting until the deadline
    }
    if (status.timing) marks.timing = status.timing
    if (!job.wanted()) return cancelled(ref)
    if (status.phase === 'stopped') return fail('WAKEGATE_TASK_EXITED', status.reason ?? 'task stopped while starting', ref)
    if (status.phase === 'running' && status.endpoint) break
    const step = liveStep(status, job.backend.kind)
    if (step !== lastStep) {
      lastStep = step
      job.onPhase(step === 'pull' ? 'pulling' : 'starting', status.reason ?? (step === 'pull' ? 'pulling image' : 'task starting'), step)
    }
    if (Date.now() > job.deadline) return fail('WAKEGATE_WAKE_TIMEOUT', `task did not reach RUNNING before the start timeout (last status: ${status.phase})`, ref)
  }
  const endpoint = status.endpoint
  marks.seen = Date.now()

  // 2. Until the readiness probe passes; the task may still die meanwhile. A backend that
  // dates when the app listened (local) and has not yet: it is still starting until a
  // probe gets past a refused connection.
  const checking = job.health.tcp ? `connecting to port ${endpoint.port}` : `checking ${job.health.path ?? '/'}`
  let listening = status.timing?.createdAt === undefined || status.timing.startedAt !== undefined
  if (listening) job.onPhase('health', checking, 'health')
  else job.onPhase('health', `waiting for the app to listen on port ${endpoint.port}`, 'start')
  const target: ProbeTarget = { host: endpoint.host, port: endpoint.port, path: job.health.tcp ? undefined : (job.health.path ?? '/'), hostHeader: job.hostHeader }
  let lastReason: string
  let lastStatusAt = Date.now()
  for (let attempt = 0; ; attempt++) {
    const tried = Date.now()
    const res = await (job.probe ?? probeOnce)(target, Math.max(100, Math.min(2000, job.deadline - Date.now())))
    if (!job.wanted()) return cancelled(ref)
    if (res.ok || res.reason !== 'ECONNREFUSED') marks.connected ??= tried
    if (res.ok) { marks.healthy = Date.now(); return { ok: true, ref, endpoint } }
    lastReason = res.reason
    if (!listening && res.reason !== 'ECONNREFUSED') { listening = true; job.onPhase('health', checking, 'health') }
    if (Date.now() > job.deadline) {
      // What was tried and what the task was given (its PORT, its output): enough to see
      // e.g. an app listening on its own default port rather than $PORT.
      const about = await job.backend.diagnose?.(ref).catch(() => undefined) ?? `The app is expected to listen on container port ${job.spec.port}.`
      return fail('WAKEGATE_WAKE_TIMEOUT', `health check (${probed(target)}) did not pass before the start timeout (last: ${lastReason}).\n${about}`, ref)
    }
    if (Date.now() - lastStatusAt >= job.statusEvery) {
      lastStatusAt = Date.now()
      const s = await job.poller.status(ref).catch(() => undefined)
      if (s?.timing) marks.timing = s.timing
      if (s?.phase === 'stopped') return fail('WAKEGATE_TASK_EXITED', s.reason ?? 'task stopped during health check', ref)
    }
    await sleep(Math.min(nextProbeDelay(attempt), Math.max(0, job.deadline - Date.now())))
  }
}
