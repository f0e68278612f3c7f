// Image prewarm on ECS (EC2 capacity): a push to an asleep env pulls the new SHA's image
// onto the container instances with no-op tasks, so the next wake's pull phase is near
// nothing. The fake's pull model (1.5 s uncached, 0 cached) makes the gain measurable.
import t, { type Test } from 'tap'
import { DescribeTasksCommand, ECSClient } from '@aws-sdk/client-ecs'
import { pino, type Logger } from 'pino'
import { request } from 'undici'
import { testConfig, waitFor } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment, type FakeAwsOptions, type FakeTask } from './support/fake-aws/index.js'
import { ecsApp } from './support/fake-aws/app.js'
import { createWakegate, type Wakegate } from '../src/server.js'
import { Reconciler } from '../src/lifecycle/reconcile.js'
import type { ResolvedConfig } from '../src/config/load.js'

useFakeAwsEnvironment()

const PULL_MS = 1500
const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/web:{sha}'
const image = (sha: string) => IMAGE.replace('{sha}', sha)

interface Gateway { wg: Wakegate, log: Logger, lines: Array<Record<string, any>> }

/** A gateway as `wakegate serve` builds it (its backends unwrapped), logging to `lines`. */
async function gateway (t: Test, config: ResolvedConfig): Promise<Gateway> {
  const lines: Array<Record<string, any>> = []
  const log = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s)) } })
  const wg = await createWakegate(config, { log })
  await wg.listen()
  t.teardown(() => wg.close())
  return { wg, log, lines }
}

async function fakeAws (t: Test, opts: FakeAwsOptions = {}): Promise<FakeAws> {
  const fake = await FakeAws.start({ pull: { pullMs: PULL_MS, cachedMs: 0 }, ...opts })
  t.teardown(() => fake.close())
  return fake
}

async function get (wg: Wakegate, host: string, path = '/') {
  const res = await request(`${wg.url}${path}`, { headers: { host } })
  return { status: res.statusCode, body: await res.body.text() }
}

/** A push as the admin API takes it (GitHub's synchronize webhook calls the same redeploy). */
async function push (wg: Wakegate, pr: number, sha: string): Promise<void> {
  const res = await request(`${wg.adminUrl}/api/envs/example/${pr}/redeploy`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sha }) })
  await res.body.text()
  if (res.statusCode >= 300) throw new Error(`redeploy answered ${res.statusCode}`)
}

async function metric (wg: Wakegate, outcome: string): Promise<number> {
  const text = await (await request(`${wg.adminUrl}/metrics`)).body.text()
  const m = new RegExp(`^wakegate_prewarm_tasks_total\\{app="example",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)
  return m ? Number(m[1]) : 0
}

const prewarmTasks = (fake: FakeAws, sha?: string) => fake.tasks.filter(x => fake.tag(x, 'wakegate:prewarm') !== undefined && (sha === undefined || fake.tag(x, 'wakegate:prewarm') === sha))
const envTask = (fake: FakeAws, pr: number) => fake.tasks.find(x => fake.tag(x, 'wakegate:pr') === String(pr))
const prewarmRuns = (fake: FakeAws) => fake.callsOf('RunTask').filter(c => c.params.startedBy === 'wakegate-prewarm')

/** The pull phase of a task as ECS reports it, through the SDK (ms). */
async function pullPhase (fake: FakeAws, task: FakeTask): Promise<number> {
  const ecs = new ECSClient({ endpoint: fake.url, region: 'us-east-1' })
  try {
    const out = await ecs.send(new DescribeTasksCommand({ cluster: 'review', tasks: [task.taskArn] }))
    const x = out.tasks![0]
    return x.pullStoppedAt!.getTime() - x.pullStartedAt!.getTime()
  } finally {
    ecs.destroy()
  }
}

/** An asleep env gets a push, then a visit: the wake's pull phase and length. */
async function pushThenVisit (t: Test, prewarm: boolean) {
  const fake = await fakeAws(t)
  const app = ecsApp(fake, { prs: [{ number: 1, branch: 'feature/one', sha: 'aaaaaaa1' }] }, { image: IMAGE, ...(prewarm ? { prewarm: {} } : {}) })
  const gw = await gateway(t, testConfig({}, [app]))
  const env = gw.wg.manager.envs.get('example/1')!
  await push(gw.wg, 1, 'bbbbbbb2')
  if (prewarm) await waitFor(async () => await metric(gw.wg, 'completed') === 2, 20_000, 'prewarm tasks completed')
  t.equal(env.state, 'asleep', 'the push woke nothing')
  const res = await get(gw.wg, 'pr-1.review.test', '/info')
  t.equal(res.status, 200)
  t.equal(JSON.parse(res.body).sha, 'bbbbbbb2', 'the wake runs the pushed SHA')
  const task = envTask(fake, 1)!
  return { fake, gw, task, pullMs: await pullPhase(fake, task), wakeMs: env.lastWakeMs }
}

t.test('a push to an asleep env prewarms the image on every instance; the next wake skips the pull', async t => {
  const warm = await pushThenVisit(t, true)
  const { fake } = warm

  // One RunTask: distinctInstance, the no-op command, EC2, its own startedBy and tags.
  const runs = prewarmRuns(fake)
  t.equal(runs.length, 1, 'one RunTask for the prewarm')
  const run = runs[0].params
  t.equal(run.count, 10, 'prewarm.instances (default 10)')
  t.same(run.placementConstraints, [{ type: 'distinctInstance' }])
  t.equal(run.launchType, 'EC2')
  t.same(run.overrides, { containerOverrides: [{ name: 'web', command: ['true'] }] })
  t.ok(run.tags.some((x: any) => x.key === 'wakegate:prewarm' && x.value === 'bbbbbbb2'))
  t.notOk(run.tags.some((x: any) => x.key === 'wakegate:pr'), 'belongs to no env')

  // ECS placed one per instance and reported the other eight as failures.
  const tasks = prewarmTasks(fake, 'bbbbbbb2')
  t.equal(tasks.length, 2, 'two instances, two prewarm tasks')
  t.equal(new Set(tasks.map(x => x.instance!.containerInstanceArn)).size, 2, 'one per instance')
  for (const x of tasks) {
    t.equal(x.child?.spawnfile, 'true', 'the no-op command ran, not the app')
    t.equal(x.lastStatus, 'STOPPED')
    t.equal(x.exitCode, 0)
    t.equal(x.stopCode, 'EssentialContainerExited')
    t.ok((x.pullStoppedAt! - x.pullStartedAt!) * 1000 >= PULL_MS, 'the prewarm task paid the pull')
    t.equal(x.td.containerDefinitions[0].image, image('bbbbbbb2'))
  }
  t.equal(await metric(warm.gw.wg, 'started'), 2)
  t.equal(await metric(warm.gw.wg, 'unplaced'), 8)
  t.equal(await metric(warm.gw.wg, 'failed'), 0)
  t.equal(fake.count('RegisterTaskDefinition'), 1, 'the wake reused the revision the prewarm registered')
  t.equal(warm.task.td.taskDefinitionArn, tasks[0].td.taskDefinitionArn)

  // The same push and visit without prewarm.
  const cold = await pushThenVisit(t, false)
  t.equal(prewarmRuns(cold.fake).length, 0, 'no prewarm when not configured')
  t.ok(warm.pullMs < 200, `pull phase with prewarm: ${warm.pullMs} ms`)
  t.ok(cold.pullMs >= PULL_MS, `pull phase without prewarm: ${cold.pullMs} ms`)
  t.ok(warm.wakeMs < cold.wakeMs, `wake with prewarm ${warm.wakeMs} ms, without ${cold.wakeMs} ms`)
  t.comment(`gain: pull ${cold.pullMs} → ${warm.pullMs} ms, wake ${cold.wakeMs} → ${warm.wakeMs} ms`)
})

t.test('reconcile neither adopts nor stops prewarm tasks', async t => {
  const fake = await fakeAws(t, { pull: { pullMs: 4000 } })
  const gw = await gateway(t, testConfig({}, [ecsApp(fake, { prs: [{ number: 1, sha: 'aaaaaaa1' }] }, { image: IMAGE, prewarm: {} })]))
  const env = gw.wg.manager.envs.get('example/1')!
  await push(gw.wg, 1, 'bbbbbbb2')
  await waitFor(() => prewarmTasks(fake).length === 2, 10_000, 'prewarm tasks started')
  t.ok(prewarmTasks(fake).every(x => x.lastStatus === 'PENDING'), 'still pulling')

  const report = await new Reconciler(gw.wg.manager, gw.log).run()
  t.match(report, { listed: 0, adopted: 0, stopped: 0, errors: 0 })
  t.same(await gw.wg.manager.backends.get('example')!.list(), [], 'the backend lists no env task')
  t.equal(fake.count('StopTask'), 0, 'nothing stopped')
  t.equal(env.state, 'asleep')
  t.ok(prewarmTasks(fake).every(x => x.desiredStatus === 'RUNNING'))
})

t.test('a newer push supersedes a prewarm not started yet; one prewarm per SHA however many envs push it', async t => {
  const fake = await fakeAws(t)
  const gw = await gateway(t, testConfig({}, [ecsApp(fake, {}, { image: IMAGE, prewarm: {} })]))
  const [one, two] = [gw.wg.manager.envs.get('example/1')!, gw.wg.manager.envs.get('example/2')!]
  // Back to back, as two webhook deliveries are handled: b's revision is still being registered when c arrives.
  gw.wg.manager.redeploy(one, 'bbbbbbb2', 'push')
  gw.wg.manager.redeploy(one, 'ccccccc3', 'push')
  gw.wg.manager.redeploy(two, 'ccccccc3', 'push')
  await waitFor(async () => await metric(gw.wg, 'completed') === 2, 20_000, 'c prewarmed')
  await waitFor(() => gw.lines.some(l => l.msg === 'prewarm superseded by a newer push before it started'), 10_000, 'b given up')
  t.equal(prewarmRuns(fake).length, 1, 'one prewarm RunTask')
  t.equal(prewarmTasks(fake, 'bbbbbbb2').length, 0, 'none for the superseded SHA')
  t.equal(prewarmTasks(fake, 'ccccccc3').length, 2)

  // c is warm now: another env pushed to it needs no prewarm; the wakes pull nothing.
  gw.wg.manager.register('example', 3, { sha: 'aaaaaaa1', source: 'test' })
  gw.wg.manager.redeploy(gw.wg.manager.envs.get('example/3')!, 'ccccccc3', 'push')
  t.equal((await get(gw.wg, 'pr-2.review.test', '/info')).status, 200)
  t.equal(prewarmRuns(fake).length, 1, 'no second prewarm for a warm SHA')
  t.ok(await pullPhase(fake, envTask(fake, 2)!) < 200)
})

t.test('a running env is redeployed, not prewarmed', async t => {
  const fake = await fakeAws(t)
  const gw = await gateway(t, testConfig({}, [ecsApp(fake, { prs: [{ number: 1, sha: 'aaaaaaa1' }] }, { image: IMAGE, prewarm: {} })]))
  t.equal((await get(gw.wg, 'pr-1.review.test', '/info')).status, 200)
  const env = gw.wg.manager.envs.get('example/1')!
  await push(gw.wg, 1, 'bbbbbbb2')
  await waitFor(() => env.runningSha === 'bbbbbbb2', 20_000, 'switched to b')
  t.equal(prewarmRuns(fake).length, 0)
  t.equal(fake.tasks.length, 2, 'the two generations only')
})

t.test('Fargate apps do not prewarm (said once, at debug)', async t => {
  const fake = await fakeAws(t, {
    taskDefinitions: [{ family: 'web', networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'], cpu: '256', memory: '512', containerDefinitions: [{ name: 'web', image: image('base'), essential: true, portMappings: [{ containerPort: 3000, protocol: 'tcp' }] }] }]
  })
  const backend = { image: IMAGE, prewarm: {}, launchType: 'FARGATE', networkConfiguration: { subnets: ['subnet-0a'] } }
  const gw = await gateway(t, testConfig({}, [ecsApp(fake, {}, backend)]))
  await push(gw.wg, 1, 'bbbbbbb2')
  await push(gw.wg, 2, 'ccccccc3')
  t.equal((await get(gw.wg, 'pr-1.review.test', '/info')).status, 200)
  t.equal(fake.count('RunTask'), 1, "the wake's RunTask only")
  t.equal(fake.count('RegisterTaskDefinition'), 1, "the wake's revision only")
  t.equal(gw.lines.filter(l => /^prewarm skipped: Fargate/.test(l.msg)).length, 1)
  t.equal(prewarmTasks(fake).length, 0)
})

t.test('a prewarm that fails is counted and logged; the env wakes as usual', async t => {
  const fake = await fakeAws(t)
  const backend = { image: IMAGE, prewarm: { command: ['wakegate-no-such-command'] } }
  const gw = await gateway(t, testConfig({}, [ecsApp(fake, {}, backend)]))
  await push(gw.wg, 1, 'bbbbbbb2')
  await waitFor(async () => await metric(gw.wg, 'failed') === 2, 20_000, 'prewarm tasks failed')
  t.ok(gw.lines.some(l => l.level === 40 && /prewarm task failed/.test(l.msg) && /executable file not found/.test(l.reason)), 'the reason is logged')
  t.equal(await metric(gw.wg, 'completed'), 0)
  const env = gw.wg.manager.envs.get('example/1')!
  t.equal(env.state, 'asleep')
  t.equal((await get(gw.wg, 'pr-1.review.test', '/info')).status, 200)
  t.ok(await pullPhase(fake, envTask(fake, 1)!) < 200, 'the image was pulled all the same')

  // RunTask refused (tagging not allowed): counted as an error, logged.
  fake.denied.add('TagResource')
  await push(gw.wg, 2, 'ccccccc3')
  await waitFor(async () => await metric(gw.wg, 'error') === 1, 10_000, 'prewarm error counted')
  t.ok(gw.lines.some(l => l.level === 40 && l.msg === 'prewarm failed; the next wake pulls the image itself'))
})

t.test('a prewarm task that keeps running is stopped once the image is there; one stuck pulling past the timeout is stopped', async t => {
  // An image whose ENTRYPOINT ignores the command keeps running: modelled by a command that does not exit.
  const fake = await fakeAws(t)
  const running = { image: IMAGE, prewarm: { command: ['sleep', '60'] } }
  const gw = await gateway(t, testConfig({}, [ecsApp(fake, {}, running)]))
  await push(gw.wg, 1, 'bbbbbbb2')
  await waitFor(async () => await metric(gw.wg, 'completed') === 2, 20_000, 'prewarm tasks completed')
  await waitFor(() => prewarmTasks(fake).every(x => x.lastStatus === 'STOPPED'), 10_000, 'prewarm tasks stopped')
  for (const x of prewarmTasks(fake)) {
    t.equal(x.stopCode, 'UserInitiated', 'stopped by wakegate')
    t.match(x.stoppedReason, /prewarm: image pulled/)
  }

  const slow = await fakeAws(t, { pull: { pullMs: 5000 } })
  const stuck = { image: IMAGE, prewarm: { timeout: '300ms' } }
  const gw2 = await gateway(t, testConfig({}, [ecsApp(slow, {}, stuck)]))
  await push(gw2.wg, 1, 'bbbbbbb2')
  await waitFor(async () => await metric(gw2.wg, 'timed-out') === 2, 10_000, 'prewarm tasks timed out')
  t.equal(await metric(gw2.wg, 'completed'), 0)
  t.ok(prewarmTasks(slow).every(x => x.desiredStatus === 'STOPPED' && /prewarm\.timeout/.test(x.stoppedReason ?? '')), 'stopped, saying why')
})

t.test('prewarm settings are checked', async t => {
  const fake = await fakeAws(t)
  t.throws(() => testConfig({}, [ecsApp(fake, {}, { prewarm: {} })]), { message: /apps\[0\]\.backend\.prewarm: needs backend\.image/ })
  t.throws(() => testConfig({}, [ecsApp(fake, {}, { image: IMAGE, prewarm: { instances: 0 } })]), { message: /apps\[0\]\.backend\.prewarm\.instances/ })
  t.throws(() => testConfig({}, [ecsApp(fake, {}, { image: IMAGE, prewarm: { command: [] } })]), { message: /apps\[0\]\.backend\.prewarm\.command/ })
  const cfg = testConfig({}, [ecsApp(fake, {}, { image: IMAGE, prewarm: {} })])
  t.same((cfg.apps[0].backend as any).prewarm, { enabled: true, instances: 10, command: ['true'], timeout: 600_000 }, 'defaults')
  t.notOk((testConfig({}, [ecsApp(fake, {}, { image: IMAGE })]).apps[0].backend as any).prewarm, 'off unless set')
})
