import t from 'tap'
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs'
import { startGateway, testConfig, waitFor } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment, type FakeAws as Fake } from './support/fake-aws/index.js'
import { ecsApp, prs } from './support/fake-aws/app.js'

useFakeAwsEnvironment()

/** A task started behind wakegate's back, carrying its startedBy and these tags. */
async function runTaskDirectly (fake: Fake, tags: Record<string, string>): Promise<string> {
  const ecs = new ECSClient({ endpoint: fake.url, region: 'us-east-1', maxAttempts: 1 })
  try {
    const out = await ecs.send(new RunTaskCommand({
      cluster: 'review',
      taskDefinition: 'web',
      startedBy: 'wakegate',
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
      overrides: { containerOverrides: [{ name: 'web', environment: [{ name: 'PR_NUMBER', value: tags['wakegate:pr'] ?? '?' }] }] }
    }))
    const arn = out.tasks![0].taskArn!
    await waitFor(() => fake.task(arn).lastStatus === 'RUNNING', 10_000, 'task running')
    return arn
  } finally {
    ecs.destroy()
  }
}

t.test('a restarted gateway adopts the 5 running tasks (no RunTask), serves them, and stops an unowned and a duplicate task', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  const config = testConfig({}, [ecsApp(fake, { prs: prs(5) })])

  // The first gateway wakes 5 envs, then goes away; ECS tasks outlive it.
  const first = await startGateway(config)
  const pids = new Map<number, number>()
  for (const pr of prs(5)) {
    const res = await first.get(`pr-${pr.number}.review.test`, '/info')
    t.equal(res.status, 200)
    pids.set(pr.number, JSON.parse(res.body).pid)
  }
  await first.close()
  t.equal(fake.tasks.filter(x => x.lastStatus === 'RUNNING').length, 5, 'tasks left running by the old gateway')

  const ghost = await runTaskDirectly(fake, { 'wakegate:app': 'ghost', 'wakegate:pr': '9', 'wakegate:sha': 'deadbeef', 'wakegate:generation': '1' })
  const duplicate = await runTaskDirectly(fake, { 'wakegate:app': 'example', 'wakegate:pr': '2', 'wakegate:sha': shaOf(2), 'wakegate:generation': '0' })
  const unknownPr = await runTaskDirectly(fake, { 'wakegate:app': 'example', 'wakegate:pr': '7', 'wakegate:sha': 'abcdef7', 'wakegate:generation': '3' })
  const runTasks = fake.count('RunTask')

  const second = await startGateway(config)
  t.teardown(() => second.close())
  t.equal(fake.count('RunTask'), runTasks, 'no new RunTask: boot reconcile adopted them')
  t.equal(fake.count('ListTasks'), 2, 'one ListTasks per gateway boot')
  t.ok(fake.callsOf('ListTasks').every(c => c.params.startedBy === 'wakegate'), 'listed by startedBy')
  for (const pr of prs(5)) {
    const env = second.wg.manager.envs.get(`example/${pr.number}`)!
    t.equal(env.state, 'running', `env ${pr.number} adopted`)
    const res = await second.get(`pr-${pr.number}.review.test`, '/info')
    t.equal(res.status, 200)
    t.equal(JSON.parse(res.body).pid, pids.get(pr.number), `PR ${pr.number} served by the same task`)
    t.notOk(res.headers['x-wakegate-cold-start'], 'not a cold start')
  }
  const seven = second.wg.manager.envs.get('example/7')!
  t.equal(seven.source, 'reconcile', 'a task for a PR the gateway did not know registers its env')
  t.equal(seven.state, 'running')
  t.equal(seven.sha, 'abcdef7', 'with the SHA from its tags')
  t.equal(seven.m.generation, 3, 'and its generation')

  await waitFor(() => fake.task(ghost).lastStatus === 'STOPPED' && fake.task(duplicate).lastStatus === 'STOPPED', 10_000, 'unowned tasks stopped')
  t.match(fake.task(ghost).stoppedReason, /^wakegate: reconcile: app "ghost" is not configured/)
  t.match(fake.task(duplicate).stoppedReason, /^wakegate: reconcile: duplicate task for example\/2/)
  t.equal(fake.task(unknownPr).desiredStatus, 'RUNNING')
  t.equal(fake.count('StopTask'), 2, 'only those two stopped')
})

function shaOf (pr: number): string { return prs(5)[pr - 1].sha }

t.test('a task stopped outside wakegate: its env is asleep after the next reconcile, and the next request wakes it again', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  const h = await startGateway(testConfig({}, [ecsApp(fake, {}, { reconcileInterval: '100ms' })]))
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!

  const first = JSON.parse((await h.get('pr-1.review.test', '/info')).body)
  t.equal(env.state, 'running')
  fake.stopOutside(fake.tasks[0].taskArn, 'Task stopped by user (console)')
  await waitFor(() => env.state === 'asleep', 10_000, 'env asleep')
  t.equal(fake.count('StopTask'), 0, 'wakegate did not stop it again')
  t.match(env.recent.map(e => e.message).join('\n'), /task stopped outside wakegate: ECS task stopped: Task stopped by user \(console\)/, 'the event log says why')

  const again = await h.get('pr-1.review.test', '/info')
  t.equal(again.status, 200)
  t.not(JSON.parse(again.body).pid, first.pid, 'a new task')
  t.equal(fake.count('RunTask'), 2)
})

t.test('an EC2 instance reclaimed: envs on it go asleep, others keep running, the next request starts on live capacity', async t => {
  const fake = await FakeAws.start() // 2 instances; tasks are placed round-robin
  t.teardown(() => fake.close())
  const h = await startGateway(testConfig({}, [ecsApp(fake, {}, { reconcileInterval: '100ms' })]))
  t.teardown(() => h.close())
  const one = h.wg.manager.envs.get('example/1')!
  const two = h.wg.manager.envs.get('example/2')!

  t.equal((await h.get('pr-1.review.test', '/info')).status, 200)
  t.equal((await h.get('pr-2.review.test', '/info')).status, 200)
  const [t1, t2] = fake.tasks
  t.not(t1.instance!.ec2InstanceId, t2.instance!.ec2InstanceId, 'on different instances')

  fake.reclaimInstance(t1.instance!.ec2InstanceId)
  await waitFor(() => one.state === 'asleep', 10_000, 'env on the reclaimed instance asleep')
  t.equal(two.state, 'running', 'the other env is untouched')
  t.match(one.recent.map(e => e.message).join('\n'), /Host EC2 \(instance i-[0-9a-f]+\) terminated/)

  const res = await h.get('pr-1.review.test', '/info')
  t.equal(res.status, 200)
  const t3 = fake.tasks[2]
  t.equal(t3.instance, t2.instance, 'placed on the instance that is left')
  t.equal(JSON.parse(res.body).port, t3.port)
})
