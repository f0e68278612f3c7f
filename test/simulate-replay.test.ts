// The simulator's replay against the real lifecycle code, on hand-made traces whose answers
// are worked out by hand below: which visits are cold, how long the tasks ran.
import t from 'tap'
import FakeTimers from '@sinonjs/fake-timers'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { replay } from '../src/simulate/replay.js'
import { POLICIES, type Policy } from '../src/simulate/policies.js'
import { SimulatedBackend } from '../src/simulate/backend.js'
import { defaultPhaseModel, loadPhaseModel, type PhaseModel } from '../src/simulate/phases.js'
import { mulberry32 } from '../src/simulate/prng.js'
import { sortEvents, type Trace, type TraceEvent, type TraceKind } from '../src/simulate/trace.js'

const S = 1000
const MIN = 60 * S
const T0 = Date.UTC(2026, 2, 2, 9)
const policy = (id: string): Policy => POLICIES.find(p => p.id === id)!

/**
 * Fixed phases, so the answers can be worked out: RunTask 1 s, placement 1 s, pull 10 s
 * (0 when the instance has the image), container start 1 s, app boot 5 s. A start thus
 * runs at 13 s (3 s cached) and is healthy at 18 s (8 s cached).
 */
const FIXED: PhaseModel = {
  source: 'test: fixed phases',
  sample: (_r, cached) => ({ queue: 1 * S, placement: 1 * S, pull: cached ? 0 : 10 * S, start: 1 * S, health: 5 * S })
}
/** wakegate notices a healthy task within one status round (1 s on ECS) plus one probe interval (50 ms). */
const NOTICE = 1 * S + 50

function trace (end: number, rows: Array<[number, TraceKind]>, pr = 7): Trace {
  const events: TraceEvent[] = rows.map(([at, kind]) => ({ at: T0 + at, pr, kind }))
  return { start: T0, end: T0 + end, events: sortEvents(events), source: 'test' }
}

const inRange = (t: { ok: (ok: boolean, message: string) => unknown }, x: number, lo: number, hi: number, what: string) => t.ok(x >= lo && x <= hi, `${what}: ${x} ms within [${lo}, ${hi}]`)

t.test('fixed 15 min: visits at 0, 10 min and 100 min', async t => {
  const tr = trace(4 * 60 * MIN, [[0, 'open'], [0, 'visit'], [10 * MIN, 'visit'], [100 * MIN, 'visit']])
  const r = await replay(tr, policy('fixed-15m'), { seed: 1, phases: FIXED, instances: 1 })
  t.same(r.visits.map(v => v.cold), [true, false, true], 'the first and the third are cold')
  t.same(r.visits.map(v => v.after), ['first', 'gap', 'gap'], 'no signal before any of them')
  t.equal(r.starts, 2)
  t.equal(r.pulls, 1, 'the second start finds the image on the instance')
  // Visit 1 waits for a start with a pull: healthy at 18 s, noticed within NOTICE.
  inRange(t, r.visits[0].waitMs, 18 * S, 18 * S + NOTICE, 'first wait')
  t.equal(r.visits[1].waitMs, 0)
  inRange(t, r.visits[2].waitMs, 8 * S, 8 * S + NOTICE, 'third wait (image cached)')
  // Task 1: asked for at 0, idle 15 min after the visit at 10 min → stopped at 25 min, give or
  // take one reaper tick (5 s). Task 2: asked for at 100 min, the visit is served when it is
  // ready (8 s + notice), idle 15 min after that, plus a tick.
  const reapTick = 5 * S
  const lo = 25 * MIN + (8 * S + 15 * MIN)
  const hi = 25 * MIN + reapTick + (8 * S + NOTICE + 15 * MIN + reapTick)
  inRange(t, r.taskMs, lo, hi, 'task time')
})

t.test('always on: no cold visit after the first warm start, a push redeploys beside the running task', async t => {
  const tr = trace(8 * 60 * MIN, [
    [0, 'open'], [10 * MIN, 'visit'], [20 * MIN, 'visit'], [50 * MIN, 'push'], [50 * MIN + 5 * S, 'visit'],
    [100 * MIN, 'visit'], [300 * MIN, 'visit'], [360 * MIN, 'close']
  ])
  const r = await replay(tr, policy('always-on'), { seed: 1, phases: FIXED, instances: 1 })
  t.equal(r.visits.length, 5)
  t.equal(r.visits.filter(v => v.cold).length, 0, 'every visit warm, the one during the redeploy too')
  t.equal(r.starts, 2, 'the warm start at open and the redeploy')
  t.equal(r.pulls, 2, 'the new SHA is pulled')
  // One task from 0 until the switch (the new SHA healthy 18 s after the push, noticed, then
  // drained within a 100 ms drain tick), the next from the push until the close at 6 h.
  inRange(t, r.taskMs, 6 * 60 * MIN + 18 * S, 6 * 60 * MIN + 18 * S + NOTICE + 100, 'task time')
})

t.test('warm-up: review requests before every burst make the bursts warm', async t => {
  // Bursts 3 h apart (beyond adaptive's 2 h max), each 5 min after a review request.
  const rows: Array<[number, TraceKind]> = [[0, 'open']]
  for (let k = 0; k < 8; k++) {
    const at = 60 * MIN + k * 180 * MIN
    rows.push([at, 'review_requested'], [at + 5 * MIN, 'visit'], [at + 5 * MIN + 30 * S, 'visit'], [at + 6 * MIN, 'visit'])
  }
  const tr = trace(30 * 60 * MIN, rows)
  const plain = await replay(tr, policy('adaptive'), { seed: 1, phases: FIXED })
  const warm = await replay(tr, policy('adaptive-warmup'), { seed: 1, phases: FIXED })
  t.equal(plain.visits.length, 8)
  t.equal(warm.visits.length, 8)
  const cold = (r: typeof plain) => r.visits.filter(v => v.cold).length
  t.equal(cold(plain), 8, 'without warm-up every burst, after 3 h, is cold')
  t.same(plain.visits.map(v => v.after), ['first', ...Array(7).fill('signal')], 'each after a review request')
  t.ok(cold(warm) < cold(plain), `with warm-up fewer are cold (${cold(warm)} of 8)`)
  t.equal(cold(warm), 0, 'none: each request started the env 5 min ahead')
  t.equal(warm.warmups?.used, 8, 'every warm-up was used')
  t.equal(warm.warmups?.wasted, 0)
  t.notOk(plain.warmups, 'no warm-ups without the warmup config')
})

t.test('the simulated backend: phases at their virtual times, a seeded draw', async t => {
  const clock = FakeTimers.withGlobal(globalThis).install({ now: T0, toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
  t.teardown(() => clock.uninstall())
  const b = new SimulatedBackend(FIXED, mulberry32(1), 1)
  const spec = { app: 'web', pr: 3, branch: 'b', sha: 'aaa', generation: 1, port: 3000, env: {} }
  const refP = b.start(spec)
  await clock.tickAsync(1 * S)
  const ref = await refP
  const at = async (ms: number) => { await clock.tickAsync(T0 + ms - Date.now()); return (await b.describe([ref]))[0] }
  t.equal((await at(1 * S + 500)).phase, 'pending', 'placement')
  t.equal((await at(2 * S + 500)).phase, 'pulling', 'pull')
  t.equal((await at(12 * S + 500)).phase, 'pending', 'container start')
  const running = await at(13 * S)
  t.equal(running.phase, 'running')
  t.same(running.timing, { createdAt: T0 + 1 * S, pullStartedAt: T0 + 2 * S, pullStoppedAt: T0 + 12 * S, startedAt: T0 + 13 * S }, 'ECS-style timestamps')
  const target = { host: running.endpoint!.host, port: running.endpoint!.port, path: '/' }
  t.same(await b.probe(target), { ok: false, reason: 'ECONNREFUSED' }, 'booting')
  await at(18 * S)
  t.same(await b.probe(target), { ok: true }, 'healthy at 18 s')
  await clock.tickAsync(60 * S)
  await b.stop(ref)
  t.equal((await b.describe([ref]))[0].phase, 'stopped')
  t.equal(b.taskMs(T0, T0 + 3600 * S), 78 * S, 'ran from the start call to the stop')

  // The default model's draws follow the seed.
  const draws = (seed: number) => { const m = defaultPhaseModel(); const r = mulberry32(seed); return Array.from({ length: 5 }, (_, i) => m.sample(r, i % 2 === 0)) }
  t.same(draws(5), draws(5), 'same seed, same phases')
  t.notSame(draws(5), draws(6), 'another seed, other phases')
  t.ok(draws(5).every((d, i) => i % 2 === 0 ? d.pull < 5 * S : d.pull > 5 * S), 'cached pulls are short, new ones long')
})

t.test('--phases replays what a gateway measured (GET /api/wake-phases)', async t => {
  // The simulated wakes, as the gateway's own wake timelines measured them.
  const tr = trace(10 * 60 * MIN, Array.from({ length: 12 }, (_, k): [number, TraceKind] => [k * 40 * MIN, 'visit']))
  const r = await replay(tr, policy('fixed-5m'), { seed: 2, phases: FIXED, instances: 1 })
  const web = r.wakePhases.apps.web
  t.equal(web.wakes, 12, 'every wake recorded')
  t.ok(web.phases.pull && web.phases.health && web.phases.detect, 'with pull, detect and health phases')
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-phases-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'phases.json'), JSON.stringify(r.wakePhases))
  const model = loadPhaseModel(join(dir, 'phases.json'))
  t.match(model.source, /app web/)
  const rng = mulberry32(9)
  for (let i = 0; i < 20; i++) {
    const s = model.sample(rng, i % 2 === 0)
    t.ok(web.phases.start!.samples.includes(s.start), 'start drawn from the samples')
    t.ok(web.phases.placement!.samples.includes(s.placement))
    t.ok(i % 2 === 0 ? s.pull <= 3 * S : s.pull >= 9 * S, `a ${i % 2 === 0 ? 'cached' : 'new'} pull from the right samples (${s.pull} ms)`)
  }
  t.throws(() => loadPhaseModel(join(dir, 'phases.json'), 'api'), /no app "api" in the phases file \(it has web\)/)
})
