import t from 'tap'
import { request } from 'undici'
import { startGateway, testConfig, exampleApp, waitFor, EXAMPLE_APP } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { ecsApp } from './support/fake-aws/app.js'
import { LocalBackend } from '../src/backends/local.js'
import type { WakeTimeline } from '../src/lifecycle/wake-timeline.js'

useFakeAwsEnvironment()

type TimelineView = Omit<WakeTimeline, 'at'> & { at: string }

async function json<T> (url: string, init: Parameters<typeof request>[1] = {}): Promise<T> {
  const res = await request(url, init)
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${await res.body.text()}`)
  return await res.body.json() as T
}

/** `wakegate_wake_phase_seconds_count{...}` for one app, kind and phase, or undefined when absent. */
function phaseCount (metrics: string, app: string, kind: string, phase: string): number | undefined {
  const line = metrics.split('\n').find(l => l.startsWith('wakegate_wake_phase_seconds_count{') && l.includes(`app="${app}"`) && l.includes(`phase="${phase}"`) && l.includes(`kind="${kind}"`))
  return line === undefined ? undefined : Number(line.split(' ').pop())
}

const sum = (w: { phases: Array<{ ms: number }> }) => w.phases.reduce((a, p) => a + p.ms, 0)
const ms = (seconds: number | undefined) => Math.round(seconds! * 1000)

t.test('a wake against the ECS fake records placement, pull, start and health from the task\'s own timestamps', async t => {
  const fake = await FakeAws.start({ delays: { pending: 400 } })
  t.teardown(() => fake.close())
  const h = await startGateway(testConfig({}, [ecsApp(fake)]))
  t.teardown(() => h.close())
  const admin = h.wg.adminUrl!

  t.equal((await h.get('pr-1.review.test', '/info')).status, 200)
  const metrics = await (await request(`${admin}/metrics`)).body.text()
  for (const phase of ['queue', 'placement', 'pull', 'start', 'detect', 'health', 'total']) {
    t.equal(phaseCount(metrics, 'example', 'wake', phase), 1, `one ${phase} sample`)
  }
  t.match(metrics, /wakegate_wake_phase_seconds_bucket\{le="0.025",app="example",phase="pull",kind="wake"\}/, 'buckets from 25 ms')
  t.match(metrics, /wakegate_wake_phase_seconds_bucket\{le="300",app="example",phase="pull",kind="wake"\}/, 'to 5 min')

  const view = await json<{ wakes: TimelineView[] }>(`${admin}/api/envs/example/1`)
  t.equal(view.wakes.length, 1)
  const [w] = view.wakes
  t.same(w.phases.map(p => p.phase), ['queue', 'placement', 'pull', 'start', 'detect', 'health'], 'the phases in order')
  t.equal(sum(w), w.totalMs, 'they add up to the whole wake')
  t.ok(w.ok)
  t.equal(w.kind, 'wake')
  t.equal(w.generation, 1)
  t.equal(w.sha, 'aaaaaaa1')
  t.ok(Date.parse(w.at) > 0, 'an ISO start time')

  // The pull and the container start are ECS's own timestamps, as the fake recorded them.
  const [task] = fake.tasks
  const byPhase = Object.fromEntries(w.phases.map(p => [p.phase, p.ms]))
  t.equal(byPhase.pull, ms(task.pullStoppedAt) - ms(task.pullStartedAt), 'pull = pullStartedAt → pullStoppedAt')
  t.equal(byPhase.start, ms(task.startedAt) - ms(task.pullStoppedAt), 'start = pullStoppedAt → startedAt')
  t.ok(byPhase.pull >= 200, 'the fake pulls for half its pending delay')
})

t.test('GET /api/wake-phases has count, mean, p50, p95 and the samples per phase of recent wakes', async t => {
  const fake = await FakeAws.start({ delays: { pending: 200 } })
  t.teardown(() => fake.close())
  const h = await startGateway(testConfig({}, [ecsApp(fake)]))
  t.teardown(() => h.close())
  const admin = h.wg.adminUrl!
  const env = h.wg.manager.envs.get('example/1')!

  for (let i = 0; i < 3; i++) {
    t.equal((await h.get('pr-1.review.test', '/info')).status, 200)
    h.wg.manager.sleep(env, 'test')
    await waitFor(() => env.state === 'asleep', 10_000, 'asleep')
  }
  type Summary = { count: number, mean: number, p50: number, p95: number, samples: number[] }
  const body = await json<{ samplesKept: number, apps: Record<string, { backend: string, wakes: number, phases: Record<string, Summary>, total: Summary }> }>(`${admin}/api/wake-phases`)
  t.equal(body.samplesKept, 100)
  const app = body.apps.example
  t.equal(app.backend, 'ecs')
  t.equal(app.wakes, 3)
  t.same(Object.keys(app.phases), ['queue', 'placement', 'pull', 'start', 'detect', 'health'])
  const pulls = env.wakes.map(w => w.phases.find(p => p.phase === 'pull')!.ms)
  const pull = app.phases.pull
  t.same(pull.samples, pulls, 'the samples are the wakes\' pull times, oldest first')
  t.equal(pull.count, 3)
  const sorted = [...pulls].sort((a, b) => a - b)
  t.equal(pull.p50, sorted[1])
  t.equal(pull.p95, sorted[2])
  t.equal(pull.mean, Math.round(pulls.reduce((a, b) => a + b, 0) / 3 * 10) / 10)
  t.same(app.total.samples, env.wakes.map(w => w.totalMs))
  t.equal(h.wg.manager.apps.get('example')!.wakeStats.typical('pull'), sorted[1], 'the waking page\'s typical pull is the median')
})

t.test('a local wake has no image pull: queue, start (spawn → listening), detect, health', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ env: { READY_AFTER_MS: '300' } })]))
  t.teardown(() => h.close())
  const admin = h.wg.adminUrl!

  t.equal((await h.get('pr-1.review.test', '/info')).status, 200)
  const view = await json<{ wakes: TimelineView[] }>(`${admin}/api/envs/example/1`)
  const [w] = view.wakes
  t.same(w.phases.map(p => p.phase), ['queue', 'start', 'detect', 'health'])
  t.equal(sum(w), w.totalMs)
  t.equal(w.phases.find(p => p.phase === 'detect')!.ms, 0, 'a local task runs from its spawn: nothing to detect')
  t.ok(w.phases.find(p => p.phase === 'health')!.ms > 0, 'healthy only 300 ms after the app started')

  const metrics = await (await request(`${admin}/metrics`)).body.text()
  t.equal(phaseCount(metrics, 'example', 'wake', 'start'), 1)
  t.equal(phaseCount(metrics, 'example', 'wake', 'health'), 1)
  t.equal(phaseCount(metrics, 'example', 'wake', 'pull'), undefined, 'no pull sample')
  t.equal(phaseCount(metrics, 'example', 'wake', 'placement'), undefined, 'no placement sample')
})

t.test('the local backend dates the spawn and the moment the port accepts connections', async t => {
  const backend = new LocalBackend({ app: 'example', command: `sleep 0.5; exec node ${JSON.stringify(EXAMPLE_APP)}`, cwd: process.cwd(), stopGrace: 2000 })
  t.teardown(() => backend.close())
  const ref = await backend.start({ app: 'example', pr: 1, branch: 'b', sha: 's', generation: 1, port: 3000, env: {} })
  const [first] = await backend.describe([ref])
  t.equal(first.phase, 'running')
  t.ok(first.timing?.createdAt, 'spawn time')
  t.equal(first.timing?.startedAt, undefined, 'not listening yet')
  const timing = await waitFor(async () => {
    const [s] = await backend.describe([ref])
    return s.timing?.startedAt === undefined ? undefined : s.timing
  }, 10_000, 'listening')
  t.ok(timing!.startedAt! - timing!.createdAt! >= 450, 'not before the app could listen (it sleeps 0.5 s first)')
  t.equal(timing!.pullStartedAt, undefined, 'no pull')
  t.equal(timing!.createdAt, first.timing!.createdAt, 'the spawn time stays')
})

t.test('a failed wake keeps its timeline on the env but adds no sample; a redeploy is recorded as such', async t => {
  const h = await startGateway(testConfig({}, [
    exampleApp(),
    exampleApp({ name: 'broken', host: 'pr-{pr}.broken.test', backend: { kind: 'local', command: 'echo boom >&2; exit 3' }, failureBackoff: '1m' })
  ]))
  t.teardown(() => h.close())
  const admin = h.wg.adminUrl!

  t.ok((await h.get('pr-1.broken.test', '/info')).status >= 500, 'the app exits at once')
  const broken = h.wg.manager.envs.get('broken/1')!
  await waitFor(() => broken.state === 'failed', 10_000, 'failed')
  t.equal(broken.wakes.length, 1)
  t.equal(broken.wakes[0].ok, false)
  t.equal(broken.wakes[0].code, 'WAKEGATE_TASK_EXITED')
  t.equal(sum(broken.wakes[0]), broken.wakes[0].totalMs, 'the failed wake\'s phases cover it too')
  t.equal(h.wg.manager.apps.get('broken')!.wakeStats.wakes, 0, 'no sample from a failure')

  t.equal((await h.get('pr-1.review.test', '/info')).status, 200)
  const env = h.wg.manager.envs.get('example/1')!
  h.wg.manager.redeploy(env, 'ccccccc3', 'test')
  await waitFor(() => env.runningSha === 'ccccccc3', 20_000, 'redeployed')
  t.same(env.wakes.map(w => [w.kind, w.generation, w.ok]), [['wake', 1, true], ['redeploy', 2, true]])
  t.equal(h.wg.manager.apps.get('example')!.wakeStats.wakes, 1, 'typical wake times come from wakes only')
  const metrics = await (await request(`${admin}/metrics`)).body.text()
  t.equal(phaseCount(metrics, 'example', 'redeploy', 'health'), 1, 'the histogram has the redeploy under kind="redeploy"')
  t.equal(phaseCount(metrics, 'example', 'wake', 'health'), 1)
  t.equal(phaseCount(metrics, 'broken', 'wake', 'total'), undefined)
  const view = await json<{ wakes: TimelineView[] }>(`${admin}/api/envs/example/1`)
  t.same(view.wakes.map(w => w.kind), ['wake', 'redeploy'])
})
