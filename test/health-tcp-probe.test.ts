import t from 'tap'
import { startGateway, testConfig, exampleApp } from './support/harness.js'

// An app with no health endpoint: every HTTP path answers 500, so only a TCP probe can see it ready.
const ALWAYS_500 = 'exec node -e "require(\'node:http\').createServer((q, s) => { s.statusCode = 500; s.end(\'app error page\') }).listen(+process.env.PORT, \'127.0.0.1\')"'

t.test('health: { tcp: true } is accepted as written and wakes on a TCP connect', async t => {
  const config = testConfig({}, [exampleApp({ health: { tcp: true }, startTimeout: '5s', backend: { kind: 'local', command: ALWAYS_500, stopGrace: '1s' } })])
  t.same(config.apps[0].health, { tcp: true }, 'no HTTP path merged in')
  const h = await startGateway(config)
  t.teardown(() => h.close())

  const res = await h.get('pr-1.review.test', '/')
  t.equal(res.status, 500, 'the app\'s own answer, proxied: the env woke')
  t.equal(res.body, 'app error page')
  t.equal(h.wg.manager.envs.get('example/1')!.state, 'running')
  t.equal(h.backends.get('example')!.calls.start, 1)
})

t.test('without health settings the probe is HTTP GET /', async t => {
  const { health: _h, ...app } = exampleApp()
  t.same(testConfig({}, [app]).apps[0].health, { path: '/' })
  t.same(testConfig({}, [exampleApp({ health: { path: '/ready', tcp: false } })]).apps[0].health, { path: '/ready' })
})
