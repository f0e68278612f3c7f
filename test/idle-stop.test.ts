import t from 'tap'
import { startGateway, testConfig, exampleApp, waitFor, alive } from './support/harness.js'

t.test('an idle env is stopped after its timeout, its process is gone, and the next request wakes it again', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ idleTimeout: '400ms' })]), { reapInterval: 50 })
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!

  const first = await h.get('pr-1.review.test', '/info')
  const pid = JSON.parse(first.body).pid
  t.ok(alive(pid), 'task process runs')
  t.equal(env.state, 'running')

  await waitFor(() => env.state === 'asleep', 10_000, 'env asleep')
  await waitFor(() => !alive(pid), 5_000, 'process gone')
  t.notOk(alive(pid), 'task process is gone after idle stop')
  t.equal(h.backends.get('example')!.calls.stop, 1)

  const again = await h.get('pr-1.review.test', '/info')
  t.equal(again.status, 200)
  t.not(JSON.parse(again.body).pid, pid, 'a new task serves the next request')
  t.equal(h.backends.get('example')!.calls.start, 2)
})

t.test('requests in flight keep an env awake past its idle timeout', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ idleTimeout: '300ms' })]), { reapInterval: 50 })
  t.teardown(() => h.close())
  await h.get('pr-1.review.test', '/info')
  const slow = await h.get('pr-1.review.test', '/slow?ms=1200')
  t.equal(slow.status, 200, 'a request longer than the idle timeout completes')
  t.equal(h.backends.get('example')!.calls.start, 1, 'no restart happened during it')
})
