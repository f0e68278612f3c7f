import t from 'tap'
import { startGateway, testConfig, waitFor, alive } from './support/harness.js'

t.test('upstream killed while running: the next request re-wakes and succeeds', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  const first = JSON.parse((await h.get('pr-1.review.test', '/info')).body)
  process.kill(first.pid, 'SIGKILL')
  await waitFor(() => !alive(first.pid), 5000, 'upstream dead')

  const next = await h.get('pr-1.review.test', '/info')
  t.equal(next.status, 200, 'the request that found the upstream dead still succeeds')
  const info = JSON.parse(next.body)
  t.not(info.pid, first.pid, 'served by a new task')
  t.equal(h.backends.get('example')!.calls.start, 2)
  t.equal(h.wg.gateway.counters.retries, 1, 'retried once')
  t.equal(h.wg.manager.envs.get('example/1')!.state, 'running')
})

t.test('a non-idempotent request to a dead upstream is not retried but the env re-wakes', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  const first = JSON.parse((await h.get('pr-1.review.test', '/info')).body)
  process.kill(first.pid, 'SIGKILL')
  await waitFor(() => !alive(first.pid), 5000, 'upstream dead')
  const { request } = await import('undici')
  const res = await request(`${h.url}/echo`, { method: 'POST', headers: { host: 'pr-1.review.test' }, body: 'payload' })
  await res.body.text()
  t.equal(res.statusCode, 502, 'POST with a body is answered 502, not replayed')
  const next = await h.get('pr-1.review.test', '/info')
  t.equal(next.status, 200, 'the env came back')
})
