import t from 'tap'
import { startGateway, testConfig, exampleApp } from './support/harness.js'

t.test('non-browser requests are held until ready; past holdTimeout they get 503 with Retry-After', async t => {
  const app = exampleApp({ env: { READY_AFTER_MS: '3000' }, holdTimeout: '300ms' })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())
  const res = await h.get('pr-1.review.test', '/info')
  t.equal(res.status, 503)
  t.ok(res.headers['retry-after'], 'Retry-After set')
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(JSON.parse(res.body).error, 'WAKEGATE_HOLD_TIMEOUT')
  t.equal(h.wg.manager.envs.get('example/1')!.state, 'waking', 'the wake goes on')
})

t.test('held requests are bounded per env; beyond the bound 503 at once', async t => {
  const app = exampleApp({ env: { READY_AFTER_MS: '1500' }, maxHeld: 5 })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())
  const all = await Promise.all(Array.from({ length: 8 }, () => h.get('pr-1.review.test', '/info')))
  const ok = all.filter(r => r.status === 200).length
  const full = all.filter(r => r.status === 503 && JSON.parse(r.body).error === 'WAKEGATE_HOLD_FULL').length
  t.equal(ok, 5, 'five held and served')
  t.equal(full, 3, 'three refused at once')
  t.equal(h.backends.get('example')!.calls.start, 1)
})

t.test('browser navigations get the waking page (503, no-store), scripts and fetches are held', async t => {
  const app = exampleApp({ env: { READY_AFTER_MS: '500' } })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())
  const [page, script, fetchCall] = await Promise.all([
    h.get('pr-1.review.test', '/', { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }),
    h.get('pr-1.review.test', '/info', { accept: '*/*', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'script' }),
    h.get('pr-1.review.test', '/info', { accept: 'text/html', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' })
  ])
  t.equal(page.status, 503)
  t.equal(page.headers['cache-control'], 'no-store')
  t.ok(page.headers['retry-after'])
  t.match(page.body, /Waking up PR #1/)
  t.equal(script.status, 200, 'script request held, then served')
  t.equal(fetchCall.status, 200, 'fetch accepting HTML is not a navigation: held, then served')
  t.equal(script.headers['x-wakegate-cold-start'], undefined, 'a page load was part of the wake: the cold-start header waits for its document')
  t.equal(h.backends.get('example')!.calls.start, 1)
})

t.test('the waking page progress stream reports phases and ready', async t => {
  const app = exampleApp({ env: { READY_AFTER_MS: '300' } })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())
  await h.get('pr-1.review.test', '/', { accept: 'text/html' })
  const sse = await h.get('pr-1.review.test', '/__wakegate/events', { accept: 'text/event-stream' })
  t.equal(sse.headers['content-type'], 'text/event-stream')
  t.match(sse.body, /event: phase/)
  t.match(sse.body, /event: ready/)
})
