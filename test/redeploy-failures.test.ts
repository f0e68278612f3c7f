import t from 'tap'
import { startGateway, testConfig, exampleApp, waitFor, alive, EXAMPLE_COMMAND } from './support/harness.js'

// Tasks for SHA "broken" never pass health; every other SHA is the example app.
const command = `if [ "$GIT_SHA" = broken ]; then export READY_AFTER_MS=600000; fi; ${EXAMPLE_COMMAND}`

t.test('a new generation that fails health leaves the old one serving; the failure is reported', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ startTimeout: '1500ms', backend: { kind: 'local', command } })]))
  t.teardown(() => h.close())
  const m = h.wg.manager
  const env = m.envs.get('example/1')!
  const first = JSON.parse((await h.get('pr-1.review.test', '/info')).body)
  const failures: string[] = []
  m.on('redeploy-failed', (_e, reason: string) => failures.push(reason))

  m.redeploy(env, 'broken', 'test')
  let failed = 0
  let served = 0
  while (failures.length === 0) {
    const r = await h.get('pr-1.review.test', '/info')
    if (r.status === 200 && JSON.parse(r.body).pid === first.pid) served++
    else failed++
  }
  t.equal(failed, 0, '0 failed requests while the new generation was failing')
  t.ok(served > 0)
  t.match(failures[0], /health check \(GET http:\/\/127\.0\.0\.1:\d+\/healthz with Host pr-1\.review\.test\) did not pass/)
  t.equal(env.state, 'running')
  t.equal(env.runningSha, 'aaaaaaa1', 'old generation still current')
  t.ok(env.recent.some(e => /redeploy of broken failed/.test(e.message)), 'reported as an env event')
  await waitFor(async () => (await h.backends.get('example')!.inner.list()).length === 1, 5000, 'failed task stopped')
  t.equal(m.envs.get('example/1')!.m.pending, 0)
})

t.test('5 pushes in quick succession: exactly the last SHA ends up running, no leftover tasks', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ drainTimeout: '500ms' })]))
  t.teardown(() => h.close())
  const m = h.wg.manager
  const env = m.envs.get('example/1')!
  const first = JSON.parse((await h.get('pr-1.review.test', '/info')).body)
  for (let i = 1; i <= 5; i++) {
    m.redeploy(env, `push-${i}`, 'test')
    await new Promise(resolve => setTimeout(resolve, 30))
  }
  await waitFor(() => env.runningSha === 'push-5' && env.draining.size === 0 && env.m.pending === 0, 30_000, 'last push running')
  const info = JSON.parse((await h.get('pr-1.review.test', '/info')).body)
  t.equal(info.sha, 'push-5')
  await waitFor(async () => (await h.backends.get('example')!.inner.list()).length === 1, 10_000, 'one task left')
  const tasks = await h.backends.get('example')!.inner.list()
  t.same(tasks.map(x => x.sha), ['push-5'], 'no leftover tasks')
  t.notOk(alive(first.pid), 'the first task is gone')
  t.ok(h.backends.get('example')!.calls.start <= 6, `at most one start per push (${h.backends.get('example')!.calls.start})`)
})

t.test('a push while waking redeploys once the wake is done; a push while asleep is used by the next wake', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ env: { READY_AFTER_MS: '300' } })]))
  t.teardown(() => h.close())
  const m = h.wg.manager
  const env = m.envs.get('example/1')!
  m.redeploy(env, 'while-asleep', 'test')
  t.equal(h.backends.get('example')!.calls.start, 0, 'asleep: nothing started')
  const pending = h.get('pr-1.review.test', '/info')
  await waitFor(() => env.state === 'waking', 5000, 'waking')
  m.redeploy(env, 'while-waking', 'test')
  t.equal(JSON.parse((await pending).body).sha, 'while-asleep', 'the wake used the SHA known when it started')
  await waitFor(() => env.runningSha === 'while-waking', 20_000, 'redeployed after the wake')
  t.equal(JSON.parse((await h.get('pr-1.review.test', '/info')).body).sha, 'while-waking')
})
