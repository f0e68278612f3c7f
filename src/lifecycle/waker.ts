// One wake: start a task, wait until the backend says it runs, then until the readiness
// probe passes. Reports progress through callbacks; knows nothing about requests.
import type { Backend, TaskRef, TaskSpec, TaskStatus } from '../backends/backend.js'
import { BackendError } from '../backends/backend.js'
import { WakegateError, type ErrorCode } from '../errors.js'
import type { StatusPoller } from './poller.js'
import { probeOnce, nextProbeDelay, type ProbeTarget } from './probe.js'
import type { WakePhase } from './machine.js'

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
  onPhase: (phase: WakePhase, detail: string) => void
  /** A task already started (reconcile adopted it while starting): wait for it, start none. */
  existing?: TaskRef
}

export type WakeOutcome =
  | { ok: true, ref: TaskRef, endpoint: { host: string, port: number } }
  | { ok: false, ref?: TaskRef, error: WakegateError, cancelled?: boolean }

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))
const fail = (code: ErrorCode, detail: string, ref?: TaskRef): WakeOutcome => ({ ok: false, ref, error: new WakegateError(code, detail) })
const cancelled = (ref: TaskRef): WakeOutcome => ({ ok: false, ref, error: new WakegateError('WAKEGATE_TASK_EXITED', 'wake cancelled'), cancelled: true })

/** What was probed, in words: the address and path (or TCP) a reviewer can check the app against. */
function probed (t: ProbeTarget): string {
  return t.path === undefined ? `TCP connect to ${t.host}:${t.port}` : `GET http://${t.host}:${t.port}${t.path} with Host ${t.hostHeader}`
}

export async function runWake (job: WakeJob): Promise<WakeOutcome> {
  job.onPhase('starting', job.existing ? 'waiting for a task already starting' : 'starting task')
  let ref: TaskRef
  try {
    ref = job.existing ?? await job.backend.start(job.spec)
  } catch (err) {
    return fail('WAKEGATE_BACKEND_FAILED', err instanceof BackendError ? err.message : `backend error: ${(err as Error).message}`)
  }
  job.onTask(ref)
  if (!job.wanted()) return cancelled(ref)

  // 1. Until the backend reports RUNNING with an endpoint.
  let status: TaskStatus
  let lastPhase = ''
  for (;;) {
    try {
      status = await job.poller.status(ref)
    } catch (err) {
      if (err instanceof BackendError && err.permanent) return fail('WAKEGATE_BACKEND_FAILED', err.message, ref)
      status = { ref, phase: 'pending' } // transient describe failure: keep waiting until the deadline
    }
    if (!job.wanted()) return cancelled(ref)
    if (status.phase === 'stopped') return fail('WAKEGATE_TASK_EXITED', status.reason ?? 'task stopped while starting', ref)
    if (status.phase === 'running' && status.endpoint) break
    if (status.phase !== lastPhase) {
      lastPhase = status.phase
      if (status.phase === 'pulling') job.onPhase('pulling', status.reason ?? 'pulling image')
    }
    if (Date.now() > job.deadline) return fail('WAKEGATE_WAKE_TIMEOUT', `task did not reach RUNNING before the start timeout (last status: ${status.phase})`, ref)
  }
  const endpoint = status.endpoint

  // 2. Until the readiness probe passes; the task may still die meanwhile.
  job.onPhase('health', job.health.tcp ? `connecting to port ${endpoint.port}` : `checking ${job.health.path ?? '/'}`)
  const target: ProbeTarget = { host: endpoint.host, port: endpoint.port, path: job.health.tcp ? undefined : (job.health.path ?? '/'), hostHeader: job.hostHeader }
  let lastReason: string
  let lastStatusAt = Date.now()
  for (let attempt = 0; ; attempt++) {
    const res = await probeOnce(target, Math.max(100, Math.min(2000, job.deadline - Date.now())))
    if (!job.wanted()) return cancelled(ref)
    if (res.ok) return { ok: true, ref, endpoint }
    lastReason = res.reason
    if (Date.now() > job.deadline) {
      // What was tried and what the task was given (its PORT, its output): enough to see
      // e.g. an app listening on its own default port rather than $PORT.
      const about = await job.backend.diagnose?.(ref).catch(() => undefined) ?? `The app is expected to listen on container port ${job.spec.port}.`
      return fail('WAKEGATE_WAKE_TIMEOUT', `health check (${probed(target)}) did not pass before the start timeout (last: ${lastReason}).\n${about}`, ref)
    }
    if (Date.now() - lastStatusAt >= job.statusEvery) {
      lastStatusAt = Date.now()
      const s = await job.poller.status(ref).catch(() => undefined)
      if (s?.phase === 'stopped') return fail('WAKEGATE_TASK_EXITED', s.reason ?? 'task stopped during health check', ref)
    }
    await sleep(Math.min(nextProbeDelay(attempt), Math.max(0, job.deadline - Date.now())))
  }
}
