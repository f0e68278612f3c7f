// The replica acceptance on the ECS backend, against the test ECS fake: the replicas are real
// processes whose AWS SDK clients call the fake over HTTP.
import t from 'tap'
import { Agent } from 'undici'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { ecsBackend } from './support/fake-aws/app.js'
import { twoReplicas, get } from './support/replicas.js'
import { waitFor } from './support/harness.js'

useFakeAwsEnvironment()

t.test('ECS, two replicas: 1,000 concurrent cold requests across both → RunTask = 1; both serve the task', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  const { a, b } = await twoReplicas(t, { backend: ecsBackend(fake) })
  const agent = new Agent({ connections: 100 })
  t.teardown(() => agent.close())
  const results = await Promise.all(Array.from({ length: 1000 }, (_v, i) => get(i % 2 ? b : a, '/info', 1, agent).catch(err => ({ status: 0, body: String(err), headers: {} }))))
  t.equal(results.filter(r => r.status !== 200).length, 0, 'every request answered 200')
  t.equal(fake.count('RunTask'), 1, 'RunTask = 1')
  t.equal(new Set(results.map(r => JSON.parse(r.body).port)).size, 1, 'one task answered them all')
})

t.test('ECS: the leader restarted mid-wake → the task is adopted, RunTask = 1, StopTask = 0', async t => {
  // 1.5 s from RunTask to RUNNING: the leader is killed while the task starts.
  const fake = await FakeAws.start({ delays: { pending: 1500 } })
  t.teardown(() => fake.close())
  const { set, leader, follower } = await twoReplicas(t, { backend: ecsBackend(fake) })

  const held = get(follower, '/info', 2)
  await waitFor(() => fake.count('RunTask') === 1, 10_000, 'RunTask sent')
  leader.child.kill('SIGKILL')
  await leader.exited
  const again = await set.spawn(`${leader.name}2`) // the orchestrator restarts it

  const res = await held
  t.equal(res.status, 200, `the held request is served (${res.body.slice(0, 160)})`)
  t.equal(JSON.parse(res.body).port, fake.tasks[0].port, 'by the task the dead leader started')
  t.equal((await get(again, '/info', 2)).status, 200, 'the restarted replica serves it too')
  t.equal(fake.count('RunTask'), 1, 'RunTask = 1')
  t.equal(fake.count('StopTask'), 0, 'StopTask = 0')
})
