import t from 'tap'
import { startGateway, testConfig } from './support/harness.js'

t.test('first request wakes the env and is answered by its task; the second is served with no backend call', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  const backend = h.backends.get('example')!

  const first = await h.get('pr-1.review.test', '/info')
  t.equal(first.status, 200)
  const info = JSON.parse(first.body)
  t.equal(info.pr, '1', 'task knows its PR')
  t.equal(info.branch, 'feature/one')
  t.equal(info.sha, 'aaaaaaa1')
  t.ok(first.headers['x-wakegate-cold-start'], 'first response says it was a cold start')
  t.equal(backend.calls.start, 1)

  const callsBefore = backend.total
  const second = await h.get('pr-1.review.test', '/info')
  t.equal(second.status, 200)
  t.equal(JSON.parse(second.body).pid, info.pid, 'same task')
  t.notOk(second.headers['x-wakegate-cold-start'], 'warm response has no cold-start header')
  t.equal(backend.total, callsBefore, 'no backend call for a running env')
  t.equal(second.headers['x-robots-tag'], 'noindex, nofollow')
})

t.test('a warm start (no request waiting) is not reported as a cold start', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!
  await h.wg.manager.wake(env, 'admin')
  const res = await h.get('pr-1.review.test', '/info')
  t.equal(res.status, 200)
  t.equal(res.headers['x-wakegate-cold-start'], undefined)
})
