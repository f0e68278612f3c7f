// A gateway restarted while its ECS task is still PROVISIONING/PENDING adopts that task and
// waits for it (RunTask = 1 across the restart) instead of starting a second one and then
// stopping the first as a duplicate.
import t, { type Test } from 'tap'
import { startGateway, testConfig, waitFor, type Harness } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment, type FakeAws as Fake } from './support/fake-aws/index.js'
import { ecsApp } from './support/fake-aws/app.js'

useFakeAwsEnvironment()

// The fake's tasks take 1.5 s from RunTask to RUNNING: long enough to restart the gateway.
const SLOW = { pending: 1500 }

/** Gateway A starts a task for PR 1 and goes away while that task is still starting. */
async function leaveStartingTask (t: Test, fake: Fake): Promise<string> {
  const a = await startGateway(testConfig({}, [ecsApp(fake)]))
  const env = a.wg.manager.envs.get('example/1')!
  void a.wg.manager.wake(env, 'warm start').catch(() => {})
  await waitFor(() => env.task, 5_000, 'RunTask answered')
  await a.close()
  const task = fake.tasks[0]
  t.ok(['PROVISIONING', 'PENDING'].includes(task.lastStatus), `the task is still starting (${task.lastStatus})`)
  return task.taskArn
}

t.test('a task still starting when the gateway restarts is adopted and answers the first request: RunTask = 1, StopTask = 0', async t => {
  const fake = await FakeAws.start({ delays: SLOW })
  t.teardown(() => fake.close())
  const arn = await leaveStartingTask(t, fake)

  const b: Harness = await startGateway(testConfig({}, [ecsApp(fake)]))
  t.teardown(() => b.close())
  const env = b.wg.manager.envs.get('example/1')!
  t.equal(env.state, 'waking', 'the boot pass adopted it as a wake in progress, before the listener took requests')
  t.equal(env.task?.id, arn)

  const res = await b.get('pr-1.review.test', '/info')
  t.equal(res.status, 200)
  t.equal(JSON.parse(res.body).port, fake.task(arn).port, 'answered by that task')
  t.equal(env.state, 'running')
  t.equal(env.task?.id, arn)
  t.equal(fake.count('RunTask'), 1, 'RunTask = 1 across the restart')
  t.equal(fake.count('StopTask'), 0, 'StopTask = 0')
  t.equal(b.wg.manager.counters.starts, 0, 'the second gateway started nothing')
})

t.test('an adopted task that fails while starting fails the wake with its reason, as a normal wake would', async t => {
  const fake = await FakeAws.start({ delays: SLOW })
  t.teardown(() => fake.close())
  const arn = await leaveStartingTask(t, fake)

  const b = await startGateway(testConfig({}, [ecsApp(fake)]))
  t.teardown(() => b.close())
  const env = b.wg.manager.envs.get('example/1')!
  t.equal(env.state, 'waking')
  const held = b.get('pr-1.review.test', '/info') // held on the adopted wake
  await waitFor(() => fake.task(arn).child, 5_000, 'container process started')
  fake.crash(arn, 137, 'OutOfMemoryError: Container killed due to memory usage')

  const res = await held
  t.ok(res.status >= 500, `the held request gets the failure (${res.status})`)
  t.match(res.body, /OutOfMemoryError/, 'with the task\'s reason')
  t.equal(env.state, 'failed')
  t.match(env.m.reason, /exited with code 137.*OutOfMemoryError/)
  t.equal(fake.count('RunTask'), 1, 'no second task')
})

t.test('a redeploy in flight at the restart: the running task serves at once, the starting one becomes the pending generation and takes over', async t => {
  const fake = await FakeAws.start({ delays: SLOW })
  t.teardown(() => fake.close())
  const config = testConfig({}, [ecsApp(fake, { prs: [{ number: 1, sha: 'aaaaaaa1' }] })])
  const a = await startGateway(config)
  const envA = a.wg.manager.envs.get('example/1')!
  t.equal((await a.get('pr-1.review.test', '/info')).status, 200)
  a.wg.manager.redeploy(envA, 'bbbbbbb2', 'push')
  await waitFor(() => envA.pendingTask, 5_000, 'RunTask of the new generation answered')
  await a.close()
  const [first, second] = fake.tasks
  t.equal(first.lastStatus, 'RUNNING')
  t.not(second.lastStatus, 'RUNNING', 'the new generation is still starting')

  const b = await startGateway(config)
  t.teardown(() => b.close())
  const env = b.wg.manager.envs.get('example/1')!
  t.equal(env.state, 'running', 'the running task is current')
  t.equal(env.task?.id, first.taskArn)
  t.equal(env.pendingTask?.id, second.taskArn, 'the starting one is the pending generation')
  t.equal(JSON.parse((await b.get('pr-1.review.test', '/info')).body).sha, 'aaaaaaa1', 'served at once by the running task')

  await waitFor(() => env.runningSha === 'bbbbbbb2', 10_000, 'switched to the new generation')
  t.equal(JSON.parse((await b.get('pr-1.review.test', '/info')).body).sha, 'bbbbbbb2')
  await waitFor(() => fake.task(first.taskArn).desiredStatus === 'STOPPED', 10_000, 'old generation stopped after its drain')
  t.equal(fake.count('RunTask'), 2, 'RunTask = 2: one per generation, none by the second gateway')
  t.equal(fake.count('StopTask'), 1, 'only the drained generation was stopped')
})
