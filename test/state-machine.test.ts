import t from 'tap'
import { transition, initialState, type EnvState, type MachineState, type LifecycleEvent } from '../src/lifecycle/machine.js'

const run = (s: MachineState, ...evs: LifecycleEvent[]) => {
  let cur = s
  const effects: string[] = []
  for (const ev of evs) {
    const r = transition(cur, ev, 1000, 100)
    cur = r.next
    effects.push(...r.effects.map(e => e.type))
  }
  return { s: cur, effects }
}

t.test('asleep → waking → running → stopping → asleep', async t => {
  let r = run(initialState(), { type: 'wake', cause: 'request' })
  t.equal(r.s.state, 'waking')
  t.equal(r.s.generation, 1)
  t.same(r.effects, ['start-task'])
  r = run(r.s, { type: 'wake', cause: 'request' })
  t.equal(r.s.generation, 1, 'a second wake while waking starts nothing (single flight)')
  t.same(r.effects, [])
  r = run(r.s, { type: 'ready' })
  t.equal(r.s.state, 'running')
  t.same(r.effects, ['release-waiters'])
  r = run(r.s, { type: 'idle' })
  t.equal(r.s.state, 'stopping')
  t.same(r.effects, ['drop-route', 'stop-task'])
  r = run(r.s, { type: 'stopped' })
  t.equal(r.s.state, 'asleep')
})

t.test('wake while stopping starts again once stopped', async t => {
  const r = run(initialState(), { type: 'wake', cause: 'x' }, { type: 'ready' }, { type: 'idle' }, { type: 'wake', cause: 'x' }, { type: 'stopped' })
  t.equal(r.s.state, 'waking')
  t.equal(r.s.generation, 2)
  t.equal(r.effects.filter(e => e === 'start-task').length, 2)
})

t.test('failure keeps the reason and refuses wakes inside the backoff', async t => {
  let r = run(initialState(), { type: 'wake', cause: 'x' }, { type: 'wake-failed', code: 'WAKEGATE_TASK_EXITED', reason: 'exit 3' })
  t.equal(r.s.state, 'failed')
  t.equal(r.s.reason, 'exit 3')
  t.same(r.effects, ['start-task', 'stop-task', 'fail-waiters'])
  const inside = transition(r.s, { type: 'wake', cause: 'x' }, 1050, 100)
  t.notOk(inside.changed, 'no restart inside the backoff')
  const after = transition(r.s, { type: 'wake', cause: 'x' }, 1100, 100)
  t.equal(after.next.state, 'waking', 'restart after it')
  r = { s: after.next, effects: [] }
  t.equal(r.s.reason, '')
})

t.test('task lost while running re-wakes with a new generation', async t => {
  const r = run(initialState(), { type: 'wake', cause: 'x' }, { type: 'ready' }, { type: 'task-lost', reason: 'refused' })
  t.equal(r.s.state, 'waking')
  t.equal(r.s.generation, 2)
  t.same(r.effects.slice(-3), ['drop-route', 'stop-task', 'start-task'])
})

t.test('destroy from any state stops tasks and is final', async t => {
  for (const evs of [[], [{ type: 'wake', cause: 'x' }], [{ type: 'wake', cause: 'x' }, { type: 'ready' }]] as LifecycleEvent[][]) {
    const r = run(initialState(), ...evs, { type: 'destroy' })
    t.equal(r.s.state, 'destroyed')
    t.equal(r.effects.includes('stop-task'), evs.length > 0)
    const after = transition(r.s, { type: 'wake', cause: 'x' }, 5000, 0)
    t.notOk(after.changed, 'a destroyed env never wakes')
  }
})

t.test('redeploy: pending generation, switch, supersede, failure keeps the old one', async t => {
  let r = run(initialState(), { type: 'wake', cause: 'x' }, { type: 'ready' }, { type: 'redeploy' })
  t.equal(r.s.state, 'running')
  t.equal(r.s.pending, 2)
  t.equal(r.effects.at(-1), 'start-pending')
  r = run(r.s, { type: 'redeploy' })
  t.equal(r.s.pending, 3, 'a newer push supersedes the pending one')
  t.same(r.effects, ['cancel-pending', 'start-pending'])
  const stale = transition(r.s, { type: 'pending-ready', generation: 2 }, 0, 0)
  t.notOk(stale.changed, 'a superseded generation never switches')
  r = run(r.s, { type: 'pending-ready', generation: 3 })
  t.equal(r.s.pending, 0)
  t.same(r.effects, ['switch'])
  r = run(r.s, { type: 'redeploy' }, { type: 'pending-failed', generation: 4, reason: 'health' })
  t.equal(r.s.state, 'running', 'old generation keeps serving')
  t.equal(r.s.reason, 'health')
  t.equal(r.effects.at(-1), 'cancel-pending')
})

t.test('sleep while a redeploy is pending cancels it', async t => {
  const r = run(initialState(), { type: 'wake', cause: 'x' }, { type: 'ready' }, { type: 'redeploy' }, { type: 'sleep', cause: 'admin' })
  t.equal(r.s.state, 'stopping')
  t.equal(r.s.pending, 0)
  t.ok(r.effects.includes('cancel-pending'))
})

t.test('adopt makes an asleep env running without a start', async t => {
  const r = run(initialState(), { type: 'adopt', generation: 7 })
  t.equal(r.s.state, 'running')
  t.equal(r.s.generation, 7)
  t.notOk(r.effects.includes('start-task'))
})

t.test('adopting a task still starting: a wake that waits for it, or the pending generation beside a running task', async t => {
  const failed = run(initialState(), { type: 'wake', cause: 'x' }, { type: 'wake-failed', code: 'WAKEGATE_TASK_EXITED', reason: 'boom' }).s
  const running = run(initialState(), { type: 'adopt', generation: 3 }).s
  const pending = run(running, { type: 'adopt', generation: 5, starting: true }).s
  // state, event → next state, generation, pending, effects (with their generation and the adopted task)
  const task = (generation: number) => ({ id: `task-${generation}`, app: 'web', pr: 1, sha: 'abc1234', generation })
  const rows: Array<[string, MachineState, LifecycleEvent, string, number, number, unknown[]]> = [
    ['asleep, starting', initialState(), { type: 'adopt', generation: 4, starting: true, ref: task(4) }, 'waking', 4, 0, [{ type: 'start-task', generation: 4, adopted: task(4) }]],
    ['asleep, starting, generation 0', initialState(), { type: 'adopt', generation: 0, starting: true, ref: task(0) }, 'waking', 0, 0, [{ type: 'start-task', generation: 0, adopted: task(0) }]],
    ['failed, starting (no backoff: the task exists)', failed, { type: 'adopt', generation: 2, starting: true, ref: task(2) }, 'waking', 2, 0, [{ type: 'start-task', generation: 2, adopted: task(2) }]],
    ['failed, running', failed, { type: 'adopt', generation: 2 }, 'running', 2, 0, [{ type: 'release-waiters' }]],
    ['running, newer starting', running, { type: 'adopt', generation: 5, starting: true, ref: task(5) }, 'running', 5, 5, [{ type: 'start-pending', generation: 5, adopted: task(5) }]],
    ['running, older starting', running, { type: 'adopt', generation: 2, starting: true }, 'running', 3, 0, []],
    ['running, another running', running, { type: 'adopt', generation: 9 }, 'running', 3, 0, []],
    ['running with a pending one', pending, { type: 'adopt', generation: 6, starting: true }, 'running', 5, 5, []],
    ['waking', run(initialState(), { type: 'wake', cause: 'x' }).s, { type: 'adopt', generation: 4, starting: true }, 'waking', 1, 0, []]
  ]
  for (const [name, from, ev, state, generation, pend, effects] of rows) {
    const r = transition(from, ev, 1000, 100_000)
    t.same([r.next.state, r.next.generation, r.next.pending, r.effects], [state, generation, pend, effects], name)
    t.equal(r.changed, effects.length > 0, `${name}: changed`)
  }
  t.equal(transition(failed, { type: 'adopt', generation: 2, starting: true }, 1000, 100_000).next.reason, '', 'the failure is cleared')
  // The adopted wake ends like any other: ready releases the waiters, a failure is kept.
  const waking = transition(initialState(), { type: 'adopt', generation: 4, starting: true }, 1000, 100).next
  t.same(run(waking, { type: 'ready' }).effects, ['release-waiters'])
  const gone = run(waking, { type: 'wake-failed', code: 'WAKEGATE_TASK_EXITED', reason: 'exit 137' })
  t.same([gone.s.state, gone.s.reason, gone.effects], ['failed', 'exit 137', ['stop-task', 'fail-waiters']])
})

t.test('clear-backoff lets a failed env wake at once', async t => {
  const failed = run(initialState(), { type: 'wake', cause: 'x' }, { type: 'wake-failed', code: 'WAKEGATE_BACKEND_FAILED', reason: 'boom' }).s
  t.notOk(transition(failed, { type: 'wake', cause: 'x' }, 1001, 100_000).changed)
  const cleared = transition(failed, { type: 'clear-backoff' }, 1001, 100_000).next
  t.equal(transition(cleared, { type: 'wake', cause: 'x' }, 1001, 100_000).next.state, 'waking')
})

t.test('waiters are failed with the code of what happened; the failed state keeps it until the next start', async t => {
  const waking = run(initialState(), { type: 'wake', cause: 'x' }).s
  const table: Array<[string, LifecycleEvent, string, string]> = [
    ['start timeout', { type: 'wake-failed', code: 'WAKEGATE_WAKE_TIMEOUT', reason: 'health check …' }, 'WAKEGATE_WAKE_TIMEOUT', 'health check …'],
    ['task exited', { type: 'wake-failed', code: 'WAKEGATE_TASK_EXITED', reason: 'exit 3' }, 'WAKEGATE_TASK_EXITED', 'exit 3'],
    ['backend refused', { type: 'wake-failed', code: 'WAKEGATE_BACKEND_FAILED', reason: 'RESOURCE:MEMORY' }, 'WAKEGATE_BACKEND_FAILED', 'RESOURCE:MEMORY'],
    ['put to sleep while waking', { type: 'sleep', cause: 'admin' }, 'WAKEGATE_TASK_EXITED', 'put to sleep while starting: admin'],
    ['destroyed while waking', { type: 'destroy' }, 'WAKEGATE_ENV_DESTROYED', '']
  ]
  for (const [what, ev, code, reason] of table) {
    const r = transition(waking, ev, 1000, 100)
    const fail = r.effects.find(e => e.type === 'fail-waiters')
    t.same(fail, { type: 'fail-waiters', code, reason }, what)
  }
  const failed = transition(waking, table[0][1], 1000, 100).next
  t.equal(failed.state, 'failed')
  t.equal(failed.code, 'WAKEGATE_WAKE_TIMEOUT', 'the failed record keeps the code')
  t.equal(transition(failed, { type: 'clear-backoff' }, 1001, 100).next.code, 'WAKEGATE_WAKE_TIMEOUT', 'kept through clear-backoff')
  const again = transition(failed, { type: 'wake', cause: 'x' }, 1100, 100).next
  t.equal(again.state, 'waking')
  t.equal(again.code, '', 'cleared by the next start')
  t.equal(initialState().code, '')
})

t.test('every state × event: the next state and effects, or no change', async t => {
  // failedAt 950 at now 1000 with a 100 ms backoff: a failed env is inside its backoff.
  const base = (state: EnvState): MachineState => ({ ...initialState(), state, generation: 2, failedAt: state === 'failed' ? 950 : 0 })
  const events: LifecycleEvent[] = [
    { type: 'wake', cause: 'x' }, { type: 'ready' }, { type: 'wake-failed', code: 'WAKEGATE_WAKE_TIMEOUT', reason: 'r' }, { type: 'idle' },
    { type: 'sleep', cause: 'c' }, { type: 'stopped' }, { type: 'task-lost', reason: 'l' }, { type: 'destroy' },
    { type: 'adopt', generation: 3 }, { type: 'adopt', generation: 3, starting: true }, { type: 'redeploy' }, { type: 'clear-backoff' },
    { type: 'pending-ready', generation: 3 }, { type: 'pending-failed', generation: 3, reason: 'p' }, { type: 'revive' },
    { type: 'refuse', code: 'WAKEGATE_AT_CAPACITY', reason: 'full', retryAfter: 60 }
  ]
  const D = 'destroyed[drop-route,fail-waiters]'
  const DS = 'destroyed[stop-task,drop-route,fail-waiters]'
  const expected: Record<EnvState, string[]> = {
    asleep: ['waking[start-task]', '-', '-', '-', '-', '-', '-', D, 'running[release-waiters]', 'waking[start-task]', '-', '-', '-', '-', '-', 'asleep[fail-waiters]'],
    waking: ['-', 'running[release-waiters]', 'failed[stop-task,fail-waiters]', '-', 'stopping[stop-task,fail-waiters]', '-', '-', DS, '-', '-', '-', '-', '-', '-', '-', '-'],
    running: ['-', '-', '-', 'stopping[drop-route,stop-task]', 'stopping[drop-route,stop-task]', '-', 'waking[drop-route,stop-task,start-task]', DS, '-', 'running[start-pending]', 'running[start-pending]', '-', '-', '-', '-', '-'],
    stopping: ['stopping[]', '-', '-', '-', '-', 'asleep[]', '-', DS, '-', '-', '-', '-', '-', '-', '-', '-'],
    failed: ['-', '-', '-', '-', '-', '-', '-', D, 'running[release-waiters]', 'waking[start-task]', '-', 'failed[]', '-', '-', '-', 'failed[fail-waiters]'],
    destroyed: ['-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', 'asleep[]', '-']
  }
  for (const state of Object.keys(expected) as EnvState[]) {
    events.forEach((ev, i) => {
      const r = transition(base(state), ev, 1000, 100)
      const got = r.changed ? `${r.next.state}[${r.effects.map(e => e.type).join(',')}]` : '-'
      t.equal(got, expected[state][i], `${state} × ${ev.type}${ev.type === 'adopt' && ev.starting ? ' (starting)' : ''}`)
    })
  }
})

t.test('revive: only a destroyed env comes back, asleep and without its old failure', async t => {
  const destroyed = run(initialState(), { type: 'wake', cause: 'x' }, { type: 'wake-failed', code: 'WAKEGATE_TASK_EXITED', reason: 'exit 1' }, { type: 'destroy' }).s
  const r = transition(destroyed, { type: 'revive' }, 5000, 100)
  t.equal(r.next.state, 'asleep')
  t.equal(r.next.reason, '')
  t.equal(r.next.code, '')
  t.equal(r.next.generation, destroyed.generation, 'generations keep counting up')
})

t.test('refuse: a wake past the running caps starts nothing and fails its waiters with Retry-After', async t => {
  const ev: LifecycleEvent = { type: 'refuse', code: 'WAKEGATE_AT_CAPACITY', reason: '2 environments of web are running (maxRunning 2) and all of them are in use.', retryAfter: 60 }
  const asleep = transition(initialState(), ev, 1000, 100)
  t.equal(asleep.next.state, 'asleep')
  t.same(asleep.effects, [{ type: 'fail-waiters', code: 'WAKEGATE_AT_CAPACITY', reason: ev.reason, retryAfter: 60 }])
  const s0 = initialState()
  t.equal(transition(s0, ev, 1000, 100).next, s0, 'the same state object: nothing to persist')
  // Stopping with a start asked for: the start after the stop is dropped.
  const stopping = run(initialState(), { type: 'wake', cause: 'x' }, { type: 'ready' }, { type: 'idle' }, { type: 'wake', cause: 'x' }).s
  t.ok(stopping.wakeAfterStop)
  const r = run(stopping, ev, { type: 'stopped' })
  t.equal(r.s.state, 'asleep')
  t.same(r.effects, ['fail-waiters'], 'no start-task once stopped')
  t.equal(r.s.generation, stopping.generation)
  t.notOk(transition(run(initialState(), { type: 'wake', cause: 'x' }).s, ev, 1000, 100).changed, 'a wake under way is not refused')
})
