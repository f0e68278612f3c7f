// The env state machine, pure: given a state and an event it returns the next state and the
// effects the manager must carry out. No I/O, no clocks other than the `now` passed in.
import type { ErrorCode } from '../errors.js'
import type { TaskRef } from '../backends/backend.js'

export type EnvState = 'asleep' | 'waking' | 'running' | 'stopping' | 'failed' | 'destroyed'

export type WakePhase = 'queued' | 'starting' | 'pulling' | 'health' | 'ready'

export interface MachineState {
  state: EnvState
  /** Highest generation issued (current, waking or pending task); grows with every start. */
  generation: number
  /** Generation of the redeploy waking beside the running task, 0 when none. */
  pending: number
  /** A wake asked for while stopping: start again once the stop is done. */
  wakeAfterStop: boolean
  failedAt: number
  reason: string
  /** Catalogue code of the failure that put the env in `failed` ('' otherwise). */
  code: ErrorCode | ''
}

export type LifecycleEvent =
  | { type: 'wake', cause: string }
  | { type: 'ready' }
  | { type: 'wake-failed', code: ErrorCode, reason: string }
  | { type: 'idle' }
  | { type: 'sleep', cause: string }
  | { type: 'stopped' }
  | { type: 'task-lost', reason: string }
  | { type: 'destroy' }
  /**
   * A task reconcile found (left by a previous gateway) becomes the env's own, without a
   * start: a running one its current task; one still starting (`starting`) a wake in
   * progress, or the pending generation beside a running task.
   */
  | { type: 'adopt', generation: number, starting?: boolean, ref?: TaskRef }
  /** A closed PR reopened: its destroyed env may wake again. */
  | { type: 'revive' }
  /** New code (a push): start the next generation beside the current one. */
  | { type: 'redeploy' }
  /** New code for a failed env: the next request may try again at once. */
  | { type: 'clear-backoff' }
  | { type: 'pending-ready', generation: number }
  | { type: 'pending-failed', generation: number, reason: string }
  /**
   * A wake that would start a task is not admitted (running caps: every env that counts is
   * in use). Nothing starts; whoever waits for it gets `code`. While stopping, the start
   * asked for after the stop is dropped.
   */
  | { type: 'refuse', code: ErrorCode, reason: string, retryAfter?: number }

export type Effect =
  /** `adopted`: the task exists already (reconcile found it starting): wait for it, start none. */
  | { type: 'start-task', generation: number, adopted?: TaskRef }
  | { type: 'stop-task', reason: string }
  | { type: 'release-waiters' }
  /** Requests waiting for the wake get this error (with Retry-After seconds when given). */
  | { type: 'fail-waiters', code: ErrorCode, reason: string, retryAfter?: number }
  | { type: 'drop-route' }
  | { type: 'start-pending', generation: number, adopted?: TaskRef }
  /** Stop the pending generation's task (superseded, failed or env going away). */
  | { type: 'cancel-pending', generation: number, reason: string }
  /** Route new requests to the pending generation; drain and stop the old one. */
  | { type: 'switch', generation: number }

export interface Transition {
  next: MachineState
  effects: Effect[]
  /** False when the event does not apply in this state (nothing changes). */
  changed: boolean
}

export function initialState (): MachineState {
  return { state: 'asleep', generation: 0, pending: 0, wakeAfterStop: false, failedAt: 0, reason: '', code: '' }
}

const same = (s: MachineState): Transition => ({ next: s, effects: [], changed: false })

/**
 * @param backoff ms a failed env refuses wakes for (so a crash-looping app is not restarted
 *   by every request).
 */
export function transition (s: MachineState, ev: LifecycleEvent, now: number, backoff: number): Transition {
  if (s.state === 'destroyed') {
    return ev.type === 'revive' ? { next: { ...s, state: 'asleep', reason: '', code: '' }, effects: [], changed: true } : same(s)
  }
  if (ev.type === 'destroy') {
    const effects: Effect[] = [{ type: 'drop-route' }, { type: 'fail-waiters', code: 'WAKEGATE_ENV_DESTROYED', reason: '' }]
    if (s.state === 'running' || s.state === 'waking' || s.state === 'stopping') effects.unshift({ type: 'stop-task', reason: 'PR closed' })
    if (s.pending) effects.unshift({ type: 'cancel-pending', generation: s.pending, reason: 'PR closed' })
    return { next: { ...s, state: 'destroyed', wakeAfterStop: false, pending: 0 }, effects, changed: true }
  }

  if (ev.type === 'refuse') return refuse(s, ev)

  switch (s.state) {
    case 'asleep':
      if (ev.type === 'wake') return start(s)
      if (ev.type === 'adopt') return adopt(s, ev)
      return same(s)

    case 'failed':
      if (ev.type === 'wake' && now - s.failedAt >= backoff) return start(s)
      if (ev.type === 'adopt') return adopt(s, ev)
      if (ev.type === 'clear-backoff' && now - s.failedAt < backoff) return { next: { ...s, failedAt: now - backoff }, effects: [], changed: true }
      return same(s)

    case 'waking':
      switch (ev.type) {
        case 'ready':
          return { next: { ...s, state: 'running', reason: '', code: '' }, effects: [{ type: 'release-waiters' }], changed: true }
        case 'wake-failed':
          return {
            next: { ...s, state: 'failed', failedAt: now, reason: ev.reason, code: ev.code },
            effects: [{ type: 'stop-task', reason: 'failed to start' }, { type: 'fail-waiters', code: ev.code, reason: ev.reason }],
            changed: true
          }
        case 'sleep':
          return {
            next: { ...s, state: 'stopping', reason: ev.cause },
            effects: [{ type: 'stop-task', reason: ev.cause }, { type: 'fail-waiters', code: 'WAKEGATE_TASK_EXITED', reason: `put to sleep while starting: ${ev.cause}` }],
            changed: true
          }
        default:
          return same(s)
      }

    case 'running':
      switch (ev.type) {
        case 'idle':
        case 'sleep': {
          const effects: Effect[] = [{ type: 'drop-route' }, { type: 'stop-task', reason: ev.type === 'idle' ? 'idle timeout' : ev.cause }]
          if (s.pending) effects.unshift({ type: 'cancel-pending', generation: s.pending, reason: 'env going to sleep' })
          return { next: { ...s, state: 'stopping', pending: 0, reason: ev.type === 'idle' ? 'idle' : ev.cause }, effects, changed: true }
        }
        case 'redeploy': {
          // A newer push supersedes a redeploy still waking: at most current + 1 pending.
          const generation = s.generation + 1
          const effects: Effect[] = [{ type: 'start-pending', generation }]
          if (s.pending) effects.unshift({ type: 'cancel-pending', generation: s.pending, reason: 'superseded by a newer redeploy' })
          return { next: { ...s, generation, pending: generation }, effects, changed: true }
        }
        case 'adopt': {
          // A newer task still starting: the redeploy the previous gateway had in flight.
          if (!ev.starting || s.pending || ev.generation <= s.generation) return same(s)
          const generation = ev.generation
          return { next: { ...s, generation, pending: generation }, effects: [{ type: 'start-pending', generation, adopted: ev.ref }], changed: true }
        }
        case 'pending-ready':
          if (ev.generation !== s.pending) return same(s)
          return { next: { ...s, pending: 0, reason: '' }, effects: [{ type: 'switch', generation: ev.generation }], changed: true }
        case 'pending-failed':
          if (ev.generation !== s.pending) return same(s)
          // The old generation keeps serving; the failure is kept as the reason.
          return { next: { ...s, pending: 0, reason: ev.reason }, effects: [{ type: 'cancel-pending', generation: ev.generation, reason: 'failed to start' }], changed: true }
        case 'task-lost': {
          // The task vanished under us: forget it and start a fresh one right away.
          const effects: Effect[] = [{ type: 'drop-route' }, { type: 'stop-task', reason: `lost: ${ev.reason}` }, { type: 'start-task', generation: s.generation + 1 }]
          if (s.pending) effects.unshift({ type: 'cancel-pending', generation: s.pending, reason: 'current task lost' })
          return { next: { ...s, state: 'waking', generation: s.generation + 1, pending: 0, reason: ev.reason }, effects, changed: true }
        }
        default:
          return same(s)
      }

    case 'stopping':
      if (ev.type === 'wake') return s.wakeAfterStop ? same(s) : { next: { ...s, wakeAfterStop: true }, effects: [], changed: true }
      if (ev.type === 'stopped') {
        if (s.wakeAfterStop) return start({ ...s, wakeAfterStop: false, state: 'asleep' })
        return { next: { ...s, state: 'asleep', reason: '' }, effects: [], changed: true }
      }
      return same(s)
  }
}

/** Asleep or failed: a running task becomes the current one, a starting one a wake waiting for it. */
function adopt (s: MachineState, ev: { generation: number, starting?: boolean, ref?: TaskRef }): Transition {
  const generation = Math.max(s.generation, ev.generation)
  const next: MachineState = { ...s, generation, reason: '', code: '', wakeAfterStop: false, state: ev.starting ? 'waking' : 'running' }
  return { next, effects: [ev.starting ? { type: 'start-task', generation, adopted: ev.ref } : { type: 'release-waiters' }], changed: true }
}

/** Asleep, failed, or stopping with a start asked for: the waiters fail and nothing starts. */
function refuse (s: MachineState, ev: { code: ErrorCode, reason: string, retryAfter?: number }): Transition {
  if (s.state !== 'asleep' && s.state !== 'failed' && !(s.state === 'stopping' && s.wakeAfterStop)) return same(s)
  const fail: Effect = ev.retryAfter === undefined
    ? { type: 'fail-waiters', code: ev.code, reason: ev.reason }
    : { type: 'fail-waiters', code: ev.code, reason: ev.reason, retryAfter: ev.retryAfter }
  return { next: s.state === 'stopping' ? { ...s, wakeAfterStop: false } : s, effects: [fail], changed: true }
}

function start (s: MachineState): Transition {
  const generation = s.generation + 1
  return {
    next: { ...s, state: 'waking', generation, reason: '', code: '', wakeAfterStop: false },
    effects: [{ type: 'start-task', generation }],
    changed: true
  }
}
