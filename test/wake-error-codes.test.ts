// A wake failure keeps its catalogue code from where it happens (waker, backend) through the
// manager's waiters to the response: held requests, WebSocket upgrades and, inside the
// failure backoff, WAKEGATE_ENV_FAILED naming the original code as its cause.
import t from 'tap'
import WebSocket from 'ws'
import { startGateway, testConfig, exampleApp, waitFor } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { ecsApp } from './support/fake-aws/app.js'

useFakeAwsEnvironment()

const nav = { accept: 'text/html', 'sec-fetch-mode': 'navigate' }

/** A WebSocket handshake the gateway refuses: its status, headers and JSON body. */
function refusedUpgrade (url: string, host: string): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { host } })
    ws.once('open', () => { ws.terminate(); reject(new Error('the upgrade was accepted')) })
    ws.once('unexpected-response', (_req, res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }); ws.terminate() })
    })
    ws.once('error', err => { if (!/Unexpected server response/.test(err.message)) reject(err) })
  })
}

t.test('a start timeout is 504 WAKEGATE_WAKE_TIMEOUT; inside the backoff ENV_FAILED names it as the cause', async t => {
  const app = exampleApp({ env: { READY_AFTER_MS: '600000' }, startTimeout: '800ms', failureBackoff: '1m' })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())
  const ws = `${h.url.replace('http', 'ws')}/ws`

  // A request and an upgrade both wait for the wake that times out.
  const [held, upgrade] = await Promise.all([h.get('pr-1.review.test', '/info'), refusedUpgrade(ws, 'pr-1.review.test')])
  t.equal(held.status, 504, 'held request')
  t.equal(held.headers['x-wakegate-error'], 'WAKEGATE_WAKE_TIMEOUT')
  t.equal(JSON.parse(held.body).error, 'WAKEGATE_WAKE_TIMEOUT')
  t.equal(upgrade.status, 504, 'held WebSocket upgrade')
  t.equal(upgrade.body.error, 'WAKEGATE_WAKE_TIMEOUT')
  const env = h.wg.manager.envs.get('example/1')!
  t.equal(env.state, 'failed')
  t.equal(env.m.code, 'WAKEGATE_WAKE_TIMEOUT', 'the failed record keeps the code')

  // Inside the backoff: the same answer whichever way the request comes.
  const later = await h.get('pr-1.review.test', '/info')
  t.equal(later.status, 503)
  const body = JSON.parse(later.body)
  t.equal(body.error, 'WAKEGATE_ENV_FAILED')
  t.equal(body.cause, 'WAKEGATE_WAKE_TIMEOUT')
  t.equal(body.detail, env.m.reason, 'with the reason kept')
  t.equal(later.headers['x-wakegate-cause'], 'WAKEGATE_WAKE_TIMEOUT')
  const retryAfter = Number(later.headers['retry-after'])
  t.ok(retryAfter > 5 && retryAfter <= 60, `Retry-After is the backoff left (${retryAfter} s)`)

  const page = await h.get('pr-1.review.test', '/', nav)
  t.equal(page.status, 503)
  t.equal(page.headers['x-wakegate-error'], 'WAKEGATE_ENV_FAILED')
  t.equal(page.headers['x-wakegate-cause'], 'WAKEGATE_WAKE_TIMEOUT')
  t.match(page.body, /PR #1 of example could not be started/)
  t.match(page.body, /did not become ready in time/, 'the cause in plain words')

  const refused = await refusedUpgrade(ws, 'pr-1.review.test')
  t.equal(refused.status, 503)
  t.equal(refused.body.error, 'WAKEGATE_ENV_FAILED')
  t.equal(refused.body.cause, 'WAKEGATE_WAKE_TIMEOUT')
  t.equal(h.backends.get('example')!.calls.start, 1, 'one start')
})

t.test('a task that exits while starting is 502 WAKEGATE_TASK_EXITED', async t => {
  const app = exampleApp({ backend: { kind: 'local', command: 'echo "no DATABASE_URL" >&2; exit 3' }, failureBackoff: '1m' })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())
  const res = await h.get('pr-1.review.test', '/info')
  t.equal(res.status, 502)
  t.equal(res.headers['x-wakegate-error'], 'WAKEGATE_TASK_EXITED')
  t.match(JSON.parse(res.body).detail, /exited with code 3[^]*no DATABASE_URL/)
  t.equal(JSON.parse((await h.get('pr-1.review.test', '/info')).body).cause, 'WAKEGATE_TASK_EXITED', 'and is the cause inside the backoff')
})

t.test('an env put to sleep while a request waits for it answers WAKEGATE_TASK_EXITED', async t => {
  const app = exampleApp({ env: { READY_AFTER_MS: '600000' } })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!
  const held = h.get('pr-1.review.test', '/info')
  await waitFor(() => env.held === 1, 5000, 'the request to be held')
  h.wg.manager.sleep(env, 'admin')
  const res = await held
  t.equal(res.status, 502)
  t.equal(JSON.parse(res.body).error, 'WAKEGATE_TASK_EXITED')
  t.match(JSON.parse(res.body).detail, /put to sleep while starting: admin/)
})

t.test('a backend that refuses to start the task is 502 WAKEGATE_BACKEND_FAILED', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  fake.failRunTask('RESOURCE:MEMORY')
  const h = await startGateway(testConfig({}, [ecsApp(fake, { failureBackoff: '1m' })]))
  t.teardown(() => h.close())
  const res = await h.get('pr-1.review.test', '/info')
  t.equal(res.status, 502)
  t.equal(res.headers['x-wakegate-error'], 'WAKEGATE_BACKEND_FAILED')
  t.match(JSON.parse(res.body).detail, /RESOURCE:MEMORY/)
  t.equal(h.wg.manager.envs.get('example/1')!.m.code, 'WAKEGATE_BACKEND_FAILED')
})
