import t, { type Test } from 'tap'
import { request } from 'undici'
import { startGateway, testConfig, waitFor, type Harness } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { ecsApp } from './support/fake-aws/app.js'

useFakeAwsEnvironment()

const nav = { accept: 'text/html', 'sec-fetch-mode': 'navigate' }

/** The waking page's event stream until it ends; returns the data of the `failed` event. */
async function failedEvent (h: Harness, host: string): Promise<{ reason: string }> {
  const res = await request(`${h.url}/__wakegate/events`, { headers: { host, accept: 'text/event-stream' } })
  const text = await res.body.text() // the gateway ends the stream after `failed`
  const m = /event: failed\ndata: (.*)\n/.exec(text)
  if (!m) throw new Error(`no failed event in:\n${text}`)
  return JSON.parse(m[1])
}

/** Browser opens the URL: waking page, its event stream says why it failed, then the failed page. */
async function browserSeesFailure (t: Test, h: Harness, reason: RegExp) {
  const page = await h.get('pr-1.review.test', '/', nav)
  t.equal(page.status, 503, 'the waking page')
  t.equal(page.headers['cache-control'], 'no-store')
  const ev = await failedEvent(h, 'pr-1.review.test')
  t.match(ev.reason, reason, 'its event stream sends `failed` with the reason')
  const again = await h.get('pr-1.review.test', '/', nav)
  t.equal(again.status, 503)
  t.equal(again.headers['x-wakegate-error'], 'WAKEGATE_ENV_FAILED', 'within the failure backoff: the failed page')
  t.match(again.body, reason, 'with the reason on it')
  return ev.reason
}

t.test('RunTask failures[] (RESOURCE:MEMORY) fail the env; the reason reaches the waking page in plain words', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  fake.failRunTask('RESOURCE:MEMORY')
  const h = await startGateway(testConfig({}, [ecsApp(fake, { failureBackoff: '1m' })]))
  t.teardown(() => h.close())

  const reason = await browserSeesFailure(t, h, /RESOURCE:MEMORY/)
  t.match(reason, /no container instance in the cluster has enough free memory/, 'in plain words')
  t.equal(h.wg.manager.envs.get('example/1')!.state, 'failed')
  t.equal(fake.count('RunTask'), 1, 'no retry inside the failure backoff')
  t.equal(fake.tasks.length, 0)
})

t.test('a container that exits on start fails the env with ECS\'s stoppedReason and the exit code', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  // The example app exits with code 3 right after starting.
  const h = await startGateway(testConfig({}, [ecsApp(fake, { env: { EXIT_AFTER_MS: '1' }, failureBackoff: '1m' })]))
  t.teardown(() => h.close())

  const held = await h.get('pr-1.review.test', '/info')
  t.equal(held.status, 502, 'a held API request gets the failure')
  t.match(held.body, /Essential container in task exited/)
  const reason = await browserSeesFailure(t, h, /Essential container in task exited/)
  t.match(reason, /container web exited with code 3/)
  t.equal(fake.count('RunTask'), 1)
  t.equal(fake.tasks[0].stopCode, 'EssentialContainerExited')
})

t.test('a missing cluster fails the env with the AWS message after exactly one call', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  const h = await startGateway(testConfig({}, [ecsApp(fake, { failureBackoff: '1m' }, { cluster: 'no-such-cluster' })]))
  t.teardown(() => h.close())

  const res = await h.get('pr-1.review.test', '/info')
  t.equal(res.status, 502)
  t.match(res.body, /ClusterNotFoundException/)
  await browserSeesFailure(t, h, /ClusterNotFoundException: Cluster not found/)
  t.equal(fake.count('RunTask'), 1, 'not retried: no retry storm')
})

t.test('access denied fails the env with the AWS message, not retried', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  fake.denied.add('RunTask')
  const h = await startGateway(testConfig({}, [ecsApp(fake, { failureBackoff: '1m' })]))
  t.teardown(() => h.close())

  const reason = await browserSeesFailure(t, h, /AccessDeniedException/)
  t.match(reason, /not authorized to perform: ecs:RunTask/)
  t.match(reason, /IAM/, 'with a hint where to look')
  t.equal(fake.count('RunTask'), 1)
})

t.test('a running task that publishes no port for the app fails at once with the reason, and is stopped', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  // The task definition maps container port 3000; the app config says 4000.
  const h = await startGateway(testConfig({}, [ecsApp(fake, { port: 4000, failureBackoff: '1m' })]))
  t.teardown(() => h.close())

  const res = await h.get('pr-1.review.test', '/info')
  t.equal(res.status, 502)
  t.match(res.body, /publishes no host port for container port 4000/)
  t.match(h.wg.manager.envs.get('example/1')!.m.reason, /portMappings/, 'says where to look')
  await waitFor(() => fake.count('StopTask') === 1, 10_000, 'the unreachable task stopped')
})
