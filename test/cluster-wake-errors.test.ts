// --workers 2: a wake failure crosses the primary → worker boundary with its code, and the
// `failed` event a worker streams to a waking page carries the reason.
import t from 'tap'
import { request, Agent } from 'undici'
import { pino } from 'pino'
import { testConfig, exampleApp, CountingBackend } from './support/harness.js'
import { createBackend } from '../src/backends/index.js'
import { startCluster } from '../src/cluster/primary.js'

t.test('a start timeout reaches a worker\'s held request as 504 WAKEGATE_WAKE_TIMEOUT; its waking page hears why', async t => {
  const config = testConfig({}, [exampleApp({ env: { READY_AFTER_MS: '600000' }, startTimeout: '800ms', failureBackoff: '1m' })])
  const backend = new CountingBackend(await createBackend(config.apps[0], pino({ level: 'silent' })))
  const c = await startCluster(config, { workers: 2, backends: new Map([['example', backend]]) })
  t.teardown(() => c.close())
  const agent = new Agent({ connections: 16 })
  t.teardown(() => agent.close())
  const get = (host: string, path: string, headers: Record<string, string> = {}) =>
    request(`${c.url}${path}`, { headers: { host, ...headers }, dispatcher: agent })
      .then(async res => ({ status: res.statusCode, headers: res.headers, body: await res.body.text() }))

  // PR 2 is opened in a browser: the waking page, then its event stream until `failed`.
  const page = await get('pr-2.review.test', '/', { accept: 'text/html', 'sec-fetch-mode': 'navigate' })
  t.equal(page.status, 503, 'the waking page')
  const stream = get('pr-2.review.test', '/__wakegate/events', { accept: 'text/event-stream' })
  // PR 1 is asked for by an API client: held until the wake fails.
  const held = await get('pr-1.review.test', '/info')
  t.equal(held.status, 504)
  t.equal(JSON.parse(held.body).error, 'WAKEGATE_WAKE_TIMEOUT', 'the code survives the IPC reply')
  t.match(JSON.parse(held.body).detail, /health check \(GET http:\/\/127\.0\.0\.1:\d+\/healthz/)

  const later = await get('pr-1.review.test', '/info')
  t.equal(later.status, 503)
  t.equal(JSON.parse(later.body).error, 'WAKEGATE_ENV_FAILED')
  t.equal(JSON.parse(later.body).cause, 'WAKEGATE_WAKE_TIMEOUT')
  t.ok(Number(later.headers['retry-after']) > 5, 'Retry-After is the backoff left')

  const events = (await stream).body // the worker ends the stream after `failed`
  const m = /event: failed\ndata: (.*)\n/.exec(events)
  t.ok(m, 'a failed event')
  const failed = JSON.parse(m![1])
  t.match(failed.reason, /health check \(GET http:\/\/127\.0\.0\.1:\d+\/healthz[^]*did not pass before the start timeout/, 'it carries the reason')
  t.equal(failed.code, 'WAKEGATE_WAKE_TIMEOUT')
  t.equal(failed.message, 'The environment did not become ready in time.')
  t.equal(backend.calls.start, 2, 'one start per env')
})
