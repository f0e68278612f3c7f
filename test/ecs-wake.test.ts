import t from 'tap'
import { startGateway, testConfig, waitFor } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { ecsApp } from './support/fake-aws/app.js'

useFakeAwsEnvironment()

t.test('a cold request starts one ECS task with the PR\'s overrides and tags and is served from its host port', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  const app = ecsApp(fake, { env: { GREETING: 'hello from {pr}' } }, { tags: { team: 'web' } })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())

  const res = await h.get('pr-1.review.test', '/info')
  t.equal(res.status, 200)
  const info = JSON.parse(res.body)
  t.equal(info.pr, '1')
  t.equal(info.branch, 'feature/one')
  t.equal(info.sha, 'aaaaaaa1')
  t.ok(res.headers['x-wakegate-cold-start'], 'the first response says it was a cold start')

  t.equal(fake.count('RunTask'), 1, 'one RunTask')
  const run = fake.callsOf('RunTask')[0].params
  t.equal(run.cluster, 'review')
  t.equal(run.taskDefinition, 'web')
  t.equal(run.count, 1)
  t.equal(run.startedBy, 'wakegate')
  t.equal(run.enableECSManagedTags, true)
  t.equal(run.propagateTags, 'TASK_DEFINITION')
  t.ok(run.clientToken, 'idempotency token, so an SDK retry cannot start a second task')
  t.notOk(run.launchType ?? run.capacityProviderStrategy, 'neither: the cluster default')
  t.same(run.overrides.containerOverrides, [{
    name: 'web',
    environment: [
      { name: 'BRANCH', value: 'feature/one' },
      { name: 'GIT_SHA', value: 'aaaaaaa1' },
      { name: 'GREETING', value: 'hello from 1' },
      { name: 'PR_NUMBER', value: '1' }
    ]
  }], 'BRANCH, PR_NUMBER, GIT_SHA and the templated app env for the app container')
  t.same(run.tags, [
    { key: 'team', value: 'web' },
    { key: 'wakegate:app', value: 'example' },
    { key: 'wakegate:pr', value: '1' },
    { key: 'wakegate:sha', value: 'aaaaaaa1' },
    { key: 'wakegate:generation', value: '1' }
  ])

  const [task] = fake.tasks
  t.equal(info.port, task.port, 'served from the task\'s host port')
  t.equal(info.pid, task.child?.pid, 'by the task\'s process')
  t.equal(info.headers.host, 'pr-1.review.test', 'Host preserved')
  t.not(task.port, 3000, 'bridge networking: a dynamic host port, not the container port')
  t.equal(fake.containerEnv(task).GREETING, 'hello from 1')
  t.equal(fake.count('DescribeContainerInstances'), 1)
  t.equal(fake.count('DescribeInstances'), 1, 'the instance\'s private IP looked up once')

  const calls = fake.calls.length
  const again = await h.get('pr-1.review.test', '/info')
  t.equal(JSON.parse(again.body).pid, info.pid, 'same task')
  t.equal(fake.calls.length, calls, 'a running env costs no AWS call')
})

t.test('an idle env\'s task is stopped with a reason naming wakegate and the cause', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  const h = await startGateway(testConfig({}, [ecsApp(fake, { idleTimeout: '300ms' })]), { reapInterval: 50 })
  t.teardown(() => h.close())

  t.equal((await h.get('pr-1.review.test', '/info')).status, 200)
  const env = h.wg.manager.envs.get('example/1')!
  await waitFor(() => env.state === 'asleep', 10_000, 'env asleep after idle timeout')
  t.equal(fake.count('StopTask'), 1)
  const stop = fake.callsOf('StopTask')[0].params
  t.equal(stop.cluster, 'review')
  t.equal(stop.task, fake.tasks[0].taskArn)
  t.match(stop.reason, /^wakegate: idle timeout/)
  t.ok(stop.reason.length <= 255)
  await waitFor(() => fake.tasks[0].lastStatus === 'STOPPED', 10_000, 'task stopped')
  t.equal(fake.tasks[0].stoppedReason, stop.reason, 'the reason shows in ECS')
})
