// One wake: start a task, wait until the backend says it runs, then until the readiness
// probe passes. Reports progress through callbacks; knows nothing about requests.
import type { Backend, TaskRef, TaskSpec, TaskStatus } from '../backends/backend.js'
import { BackendError } from '../backends/backend.js'
import type { StatusPoller } from './poller.js'
import { probeOnce, nextProbeDelay } from './probe.js'
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
}

export type WakeOutcome =
  | { ok: true, ref: TaskRef, endpoint: { host: string, port: number } }
  | { ok: false, ref?: TaskRef, reason: string, timeout?: boolean, cancelled?: boolean }

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

export async function runWake (job: WakeJob): Promise<WakeOutcome> {
  job.onPhase('starting', 'starting task')
  let ref: TaskRef
  try {
    ref = await job.backend.start(job.spec)
  } catch (err) {
    const reason = err instanceof BackendError ? err.message : `backend error: ${(err as Error).message}`
    return { ok: false, reason }
  }
  job.onTask(ref)
  if (!job.wanted()) return { ok: false, ref, reason: 'wake cancelled', cancelled: true }

  // 1. Until the backend reports RUNNING with an endpoint.
  let status: TaskStatus
  let lastPhase = ''
  for (;;) {
    try {
      status = await job.poller.status(ref)
    } catch (err) {
      if (err instanceof BackendError && err.permanent) return { ok: false, ref, reason: err.message }
      status = { ref, phase: 'pending' } // transient describe failure: keep waiting until the deadline
    }
    if (!job.wanted()) return { ok: false, ref, reason: 'wake cancelled', cancelled: true }
    if (status.phase === 'stopped') return { ok: false, ref, reason: status.reason ?? 'task stopped while starting' }
    if (status.phase === 'running' && status.endpoint) break
    if (status.phase !== lastPhase) {
      lastPhase = status.phase
      if (status.phase === 'pulling') job.onPhase('pulling', status.reason ?? 'pulling image')
    }
    if (Date.now() > job.deadline) return { ok: false, ref, reason: `task did not reach RUNNING before the start timeout (last status: ${status.phase})`, timeout: true }
  }
  const endpoint = status.endpoint

  // 2. Until the readiness probe passes; the task may still die meanwhile.
  job.onPhase('health', job.health.tcp ? `connecting to port ${endpoint.port}` : `checking ${job.health.path ?? '/'}`)
  const target = { host: endpoint.host, port: endpoint.port, path: job.health.tcp ? undefined : (job.health.path ?? '/'), hostHeader: job.hostHeader }
  let lastReason: string
  let lastStatusAt = Date.now()
  for (let attempt = 0; ; attempt++) {
    const res = await probeOnce(target, Math.max(100, Math.min(2000, job.deadline - Date.now())))
    if (!job.wanted()) return { ok: false, ref, reason: 'wake cancelled', cancelled: true }
    if (res.ok) return { ok: true, ref, endpoint }
    lastReason = res.reason
    if (Date.now() > job.deadline) {
      return { ok: false, ref, reason: `health check did not pass before the start timeout (last: ${lastReason})`, timeout: true }
    }
    if (Date.now() - lastStatusAt >= job.statusEvery) {
      lastStatusAt = Date.now()
      const s = await job.poller.status(ref).catch(() => undefined)
      if (s?.phase === 'stopped') return { ok: false, ref, reason: s.reason ?? 'task stopped during health check' }
    }
    await sleep(Math.min(nextProbeDelay(attempt), Math.max(0, job.deadline - Date.now())))
  }
}
