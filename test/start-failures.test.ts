import t from 'tap'
import { startGateway, testConfig, exampleApp, waitFor, EXAMPLE_COMMAND } from './support/harness.js'

const nav = { accept: 'text/html', 'sec-fetch-mode': 'navigate' }

t.test('a task that never becomes healthy fails after the start timeout with the reason kept and shown', async t => {
  // Long enough for the app to start listening (and answer 503) even on a loaded machine.
  const app = exampleApp({ env: { READY_AFTER_MS: '600000' }, startTimeout: '4s', failureBackoff: '1m' })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!

  const held = await h.get('pr-1.review.test', '/info')
  t.equal(held.status, 504, 'a held API request gets the failure as a start timeout')
  t.equal(JSON.parse(held.body).error, 'WAKEGATE_WAKE_TIMEOUT')
  t.match(held.body, /health check \(GET http:\/\/127\.0\.0\.1:\d+\/healthz with Host pr-1\.review\.test\) did not pass before the start timeout/)
  t.equal(env.state, 'failed')
  t.match(env.m.reason, /answered 503/, 'the last probe result is part of the reason')

  const page = await h.get('pr-1.review.test', '/', nav)
  t.equal(page.status, 503)
  t.match(page.body, /could not be started/)
  t.match(page.body, /start timeout/, 'the reason is on the page')
  t.equal(page.headers['cache-control'], 'no-store')
  t.equal(h.backends.get('example')!.calls.start, 1, 'no restart inside the failure backoff')
  await waitFor(() => h.backends.get('example')!.calls.stop >= 1, 5000, 'failed task stopped')
})

t.test('a task that exits at start fails with its exit code and last log lines', async t => {
  const app = exampleApp({ env: { EXIT_AFTER_MS: '1' }, failureBackoff: '1m' })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())
  const res = await h.get('pr-1.review.test', '/info')
  t.equal(res.status, 502)
  const env = h.wg.manager.envs.get('example/1')!
  t.equal(env.state, 'failed')
  t.match(env.m.reason, /exited with code 3/)
  t.match(env.m.reason, /exiting as asked/, 'last output lines kept')
  const page = await h.get('pr-1.review.test', '/', nav)
  t.match(page.body, /exited with code 3/)
})

t.test('after the failure backoff a request retries the start', async t => {
  const app = exampleApp({ backend: { kind: 'local', command: 'exit 1' }, failureBackoff: '300ms' })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())
  await h.get('pr-1.review.test', '/')
  await h.get('pr-1.review.test', '/')
  t.equal(h.backends.get('example')!.calls.start, 1, 'inside the backoff: one start')
  await new Promise(resolve => setTimeout(resolve, 400))
  await h.get('pr-1.review.test', '/')
  t.equal(h.backends.get('example')!.calls.start, 2, 'after it: retried')
})

t.test('new code for a failed env clears the failure backoff', async t => {
  const app = exampleApp({ backend: { kind: 'local', command: `if [ "$GIT_SHA" = fixed ]; then ${EXAMPLE_COMMAND}; else exit 1; fi` }, failureBackoff: '1h' })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!
  t.equal((await h.get('pr-1.review.test', '/info')).status, 502)
  t.equal(env.state, 'failed')
  t.equal((await h.get('pr-1.review.test', '/info')).status, 503, 'inside the backoff')
  h.wg.manager.redeploy(env, 'fixed', 'push')
  const res = await h.get('pr-1.review.test', '/info')
  t.equal(res.status, 200, 'the push is tried at once')
  t.equal(JSON.parse(res.body).sha, 'fixed')
})
