// The env state machine, pure: given a state and an event it returns the next state and the
// effects the manager must carry out. No I/O, no clocks other than the `now` passed in.

export type EnvState = 'asleep' | 'waking' | 'running' | 'stopping' | 'failed' | 'destroyed'

export type WakePhase = 'queued' | 'starting' | 'pulling' | 'health' | 'ready'

export interface MachineState {
  state: EnvState
  /** Generation of the current (or waking) task; grows with every start. */
  generation: number
  /** A wake asked for while stopping: start again once the stop is done. */
  wakeAfterStop: boolean
  failedAt: number
  reason: string
}

export type LifecycleEvent =
  | { type: 'wake', cause: string }
  | { type: 'ready' }
  | { type: 'wake-failed', reason: string }
  | { type: 'idle' }
  | { type: 'sleep', cause: string }
  | { type: 'stopped' }
  | { type: 'task-lost', reason: string }
  | { type: 'destroy' }

export type Effect =
  | { type: 'start-task', generation: number }
  | { type: 'stop-task', reason: string }
  | { type: 'release-waiters' }
  | { type: 'fail-waiters', reason: string }
  | { type: 'drop-route' }

export interface Transition {
  next: MachineState
  effects: Effect[]
  /** False when the event does not apply in this state (nothing changes). */
  changed: boolean
}

export function initialState (): MachineState {
  return { state: 'asleep', generation: 0, wakeAfterStop: false, failedAt: 0, reason: '' }
}

const same = (s: MachineState): Transition => ({ next: s, effects: [], changed: false })

/**
 * @param backoff ms a failed env refuses wakes for (so a crash-looping app is not restarted
 *   by every request).
 */
export function transition (s: MachineState, ev: LifecycleEvent, now: number, backoff: number): Transition {
  if (s.state === 'destroyed') return same(s)
  if (ev.type === 'destroy') {
    const effects: Effect[] = [{ type: 'drop-route' }, { type: 'fail-waiters', reason: 'destroyed' }]
    if (s.state === 'running' || s.state === 'waking' || s.state === 'stopping') effects.unshift({ type: 'stop-task', reason: 'PR closed' })
    return { next: { ...s, state: 'destroyed', wakeAfterStop: false }, effects, changed: true }
  }

  switch (s.state) {
    case 'asleep':
      if (ev.type === 'wake') return start(s)
      return same(s)

    case 'failed':
      if (ev.type === 'wake' && now - s.failedAt >= backoff) return start(s)
      return same(s)

    case 'waking':
      switch (ev.type) {
        case 'ready':
          return { next: { ...s, state: 'running', reason: '' }, effects: [{ type: 'release-waiters' }], changed: true }
        case 'wake-failed':
          return {
            next: { ...s, state: 'failed', failedAt: now, reason: ev.reason },
            effects: [{ type: 'stop-task', reason: 'failed to start' }, { type: 'fail-waiters', reason: ev.reason }],
            changed: true
          }
        case 'sleep':
          return {
            next: { ...s, state: 'stopping', reason: ev.cause },
            effects: [{ type: 'stop-task', reason: ev.cause }, { type: 'fail-waiters', reason: `stopped: ${ev.cause}` }],
            changed: true
          }
        default:
          return same(s)
      }

    case 'running':
      switch (ev.type) {
        case 'idle':
        case 'sleep':
          return {
            next: { ...s, state: 'stopping', reason: ev.type === 'idle' ? 'idle' : ev.cause },
            effects: [{ type: 'drop-route' }, { type: 'stop-task', reason: ev.type === 'idle' ? 'idle timeout' : ev.cause }],
            changed: true
          }
        case 'task-lost':
          // The task vanished under us: forget it and start a fresh one right away.
          return {
            next: { ...s, state: 'waking', generation: s.generation + 1, reason: ev.reason },
            effects: [{ type: 'drop-route' }, { type: 'stop-task', reason: `lost: ${ev.reason}` }, { type: 'start-task', generation: s.generation + 1 }],
            changed: true
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

function start (s: MachineState): Transition {
  const generation = s.generation + 1
  return {
    next: { ...s, state: 'waking', generation, reason: '', wakeAfterStop: false },
    effects: [{ type: 'start-task', generation }],
    changed: true
  }
}
