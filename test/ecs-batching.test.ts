import t from 'tap'
import { pino } from 'pino'
import { startGateway, testConfig } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { ecsApp, prs } from './support/fake-aws/app.js'
import { EcsBackend } from '../src/backends/ecs.js'
import { validateConfig } from '../src/config/load.js'

useFakeAwsEnvironment()

t.test('20 envs woken at once: one RunTask each, one DescribeTasks per poll round, one EC2 lookup per instance', async t => {
  const fake = await FakeAws.start() // 2 container instances
  t.teardown(() => fake.close())
  const h = await startGateway(testConfig({}, [ecsApp(fake, { prs: prs(20) })]))
  t.teardown(() => h.close())
  const backend = h.backends.get('example')!

  const answers = await Promise.all(prs(20).map(pr => h.get(`pr-${pr.number}.review.test`, '/info')))
  t.same(answers.map(a => a.status), Array(20).fill(200), 'every env served')
  t.same(answers.map(a => JSON.parse(a.body).pr), prs(20).map(p => String(p.number)), 'each by its own task')

  t.equal(fake.count('RunTask'), 20, 'one RunTask per env')
  t.same(new Set(fake.callsOf('RunTask').map(c => c.params.tags.find((x: any) => x.key === 'wakegate:pr').value)).size, 20)
  t.equal(fake.tasks.length, 20)

  // Each poll round is one describe() for every waking env: ⌈20/100⌉ = 1 DescribeTasks.
  const describes = fake.callsOf('DescribeTasks')
  t.equal(describes.length, backend.calls.describe, 'one DescribeTasks per poll round')
  t.ok(describes.every(c => c.params.tasks.length <= 100), 'at most 100 tasks a call')
  t.ok(Math.max(...describes.map(c => c.params.tasks.length)) > 1, 'rounds carry several envs\' tasks')

  const instances = new Set(fake.tasks.map(x => x.instance!.ec2InstanceId))
  t.equal(instances.size, 2, 'tasks spread over both instances')
  const asked = fake.callsOf('DescribeInstances').flatMap(c => Object.entries(c.params).filter(([k]) => k.startsWith('InstanceId.')).map(([, v]) => v))
  t.same(asked.sort(), [...instances].sort(), 'DescribeInstances asked about each instance exactly once')
  t.ok(fake.count('DescribeInstances') <= 2)
  const ciAsked = fake.callsOf('DescribeContainerInstances').flatMap(c => c.params.containerInstances)
  t.equal(ciAsked.length, 2, 'and each container instance once')
})

t.test('describe() splits more than 100 tasks into ⌈n/100⌉ DescribeTasks calls', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  const cfg = validateConfig({ apps: [ecsApp(fake)] }, {})
  const b = new EcsBackend({ apps: [{ app: 'example', port: 3000, config: cfg.apps[0].backend as any }], log: pino({ level: 'silent' }) })
  t.teardown(() => b.close())

  const refs = Array.from({ length: 150 }, (_, i) => ({ id: `arn:aws:ecs:us-east-1:123456789012:task/review/${i.toString(16).padStart(32, '0')}`, app: 'example', pr: i + 1, sha: 'x', generation: 1 }))
  const statuses = await b.describe(refs)
  t.same(fake.callsOf('DescribeTasks').map(c => c.params.tasks.length).sort((a, b) => b - a), [100, 50], 'two calls, in parallel')
  t.equal(statuses.length, 150, 'one status per ref, in order')
  t.same(statuses.map(s => s.ref.id), refs.map(r => r.id))
  t.ok(statuses.every(s => s.phase === 'stopped' && /MISSING/.test(s.reason ?? '')), 'tasks ECS does not know are stopped')
})

t.test('4 apps on one cluster: one ListTasks per reconcile pass, one DescribeTasks per poll round for all their waking envs', async t => {
  const fake = await FakeAws.start({ delays: { pending: 800 } }) // all 8 tasks pending together for several rounds
  t.teardown(() => fake.close())
  const names = ['alpha', 'beta', 'gamma', 'delta']
  const apps = names.map(name => ecsApp(fake, { name, host: `pr-{pr}.${name}.review.test`, prs: prs(2) }))
  const h = await startGateway(testConfig({}, apps))
  t.teardown(() => h.close())
  t.equal(fake.count('ListTasks'), 1, 'the boot pass listed the cluster once, not once per app')
  const backend = h.backends.get('alpha')!
  t.ok(names.every(n => h.backends.get(n) === backend), 'the apps share one backend')

  const answers = await Promise.all(names.flatMap(n => [1, 2].map(pr => h.get(`pr-${pr}.${n}.review.test`, '/info'))))
  t.same(answers.map(a => a.status), Array(8).fill(200), 'every env served')
  t.equal(fake.count('RunTask'), 8)

  const appOf = new Map(fake.tasks.map(x => [x.taskArn, fake.tag(x, 'wakegate:app')]))
  const describes = fake.callsOf('DescribeTasks').filter(c => !c.params.include) // status rounds, not listings
  t.equal(describes.length, backend.calls.describe, 'one DescribeTasks per poll round')
  const widest = Math.max(...describes.map(c => new Set(c.params.tasks.map((arn: string) => appOf.get(arn))).size))
  t.equal(widest, 4, 'a round carries the waking envs of all four apps')
  t.ok(describes.some(c => c.params.tasks.length === 8), 'all eight tasks in one call')
})

t.test('apps on one cluster with different startedBy: list() pages through each startedBy once and finds both apps\' tasks', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  const cfg = validateConfig({
    apps: [
      ecsApp(fake, { name: 'one', host: 'pr-{pr}.one.test' }, { startedBy: 'wakegate-one' }),
      ecsApp(fake, { name: 'two', host: 'pr-{pr}.two.test' }, { startedBy: 'wakegate-two' })
    ]
  }, {})
  const b = new EcsBackend({ apps: cfg.apps.map(a => ({ app: a.name, port: a.port, config: a.backend as any })), log: pino({ level: 'silent' }) })
  t.teardown(() => b.close())
  const spec = (app: string) => ({ app, pr: 1, branch: 'main', sha: 'abc1234', generation: 1, port: 3000, env: {} })
  const started = [await b.start(spec('one')), await b.start(spec('two'))]
  const listed = await b.list()
  t.same(listed.map(r => [r.app, r.id]).sort(), started.map(r => [r.app, r.id]).sort())
  t.same(fake.callsOf('ListTasks').map(c => c.params.startedBy).sort(), ['wakegate-one', 'wakegate-two'])
  t.equal(fake.count('DescribeTasks'), 1, 'their tags in one DescribeTasks')
})
