// Running caps in the lifecycle, GitHub or not: apps[].maxRunning (with github.maxRunning,
// the smaller wins) and limits.maxRunning across apps. A wake past a cap puts the idle env
// used longest ago to sleep; with every running env busy (a request in flight, an open
// WebSocket) the wake is refused with 503 WAKEGATE_AT_CAPACITY before anything starts.
import t from 'tap'
import { request } from 'undici'
import WebSocket from 'ws'
import { startGateway, testConfig, exampleApp, waitFor, rawHttp, sleep, type Harness } from './support/harness.js'
import { FastBackend, fastUpstream } from './support/fast-backend.js'
import { appCap } from '../src/lifecycle/capacity.js'

const prs = (...ns: number[]) => ns.map(number => ({ number, branch: `b${number}` }))

async function capsGateway (t: { teardown (fn: () => unknown): void }, apps: Array<Record<string, unknown>>, over: Record<string, unknown> = {}) {
  const up = await fastUpstream()
  const backend = new FastBackend(up.port)
  const h = await startGateway(testConfig(over, apps), { backends: new Map(apps.map(a => [a.name as string, backend])) })
  t.teardown(async () => { await h.close(); await up.close() })
  const state = (key: string) => h.wg.manager.envs.get(key)?.state
  // Envs are told apart by lastSeen (ms): keep requests a few ms apart.
  const hit = async (host: string, path = '/') => { const r = await h.get(host, path); await sleep(5); return r }
  return { h, backend, state, hit }
}

function openWs (h: Harness, host: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws`, { headers: { host } })
  return new Promise((resolve, reject) => { ws.once('open', () => resolve(ws)); ws.once('error', reject) })
}

const handshake = (h: Harness, host: string, headers = '') => rawHttp(h.port, `GET /ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${headers}\r\n`)

t.test('apps[].maxRunning: the idle env used longest ago is put to sleep to make room', async t => {
  const { h, backend, state, hit } = await capsGateway(t, [exampleApp({ prs: prs(1, 2, 3), maxRunning: 2 })])
  t.equal((await hit('pr-1.review.test')).status, 200)
  t.equal((await hit('pr-2.review.test')).status, 200)
  await hit('pr-1.review.test') // 2 is now the one used longest ago
  t.equal((await hit('pr-3.review.test')).status, 200)
  await waitFor(() => state('example/2') === 'asleep', 5_000, '2 put to sleep')
  t.equal(state('example/1'), 'running')
  t.equal(state('example/3'), 'running')
  t.same(backend.started, ['example/1', 'example/2', 'example/3'])
  t.same(backend.stopped, ['example/2'])
  t.equal(h.wg.manager.capacity.evicted, 1)
  t.match(h.wg.manager.envs.get('example/2')!.recent.map(e => e.message).join('\n'), /maxRunning: making room for example\/3/)
})

t.test('limits.maxRunning counts every app; the oldest idle env of any app makes room', async t => {
  const { h, backend, state, hit } = await capsGateway(t, [
    exampleApp({ name: 'web', host: 'web-{pr}.review.test', prs: prs(1, 2) }),
    exampleApp({ name: 'api', host: 'api-{pr}.review.test', prs: prs(1, 2) })
  ], { limits: { maxRunning: 2 } })
  t.equal((await hit('web-1.review.test')).status, 200)
  t.equal((await hit('api-1.review.test')).status, 200)
  await hit('web-1.review.test') // api/1 is the oldest now
  t.equal((await hit('web-2.review.test')).status, 200)
  await waitFor(() => state('api/1') === 'asleep', 5_000, 'api/1 put to sleep for web/2')
  t.equal(state('web/1'), 'running')
  t.equal(state('web/2'), 'running')
  t.equal([...h.wg.manager.active].filter(e => e.state === 'running').length, 2)
  t.same(backend.stopped, ['api/1'])
  t.equal(backend.started.length, 3)
})

t.test('the app cap is the smaller of maxRunning and github.maxRunning', async t => {
  const { state, hit, backend } = await capsGateway(t, [exampleApp({ prs: prs(1, 2), maxRunning: 3, github: { maxRunning: 1 } })])
  t.equal((await hit('pr-1.review.test')).status, 200)
  t.equal((await hit('pr-2.review.test')).status, 200)
  await waitFor(() => state('example/1') === 'asleep', 5_000, '1 put to sleep: github.maxRunning 1 wins')
  t.same(backend.started, ['example/1', 'example/2'])
  const app = (over: Record<string, unknown>) => testConfig({}, [exampleApp(over)]).apps[0]
  t.equal(appCap(app({})), undefined, 'no cap')
  t.equal(appCap(app({ maxRunning: 4 })), 4)
  t.equal(appCap(app({ github: { maxRunning: 2 } })), 2)
  t.equal(appCap(app({ maxRunning: 2, github: { maxRunning: 5 } })), 2)
})

t.test('every running env busy: a wake is refused with 503 WAKEGATE_AT_CAPACITY, nothing starts', async t => {
  const { h, backend, state, hit } = await capsGateway(t, [exampleApp({ prs: prs(1, 2, 3), maxRunning: 2 })], { limits: { wakeBurst: 3, wakesPerMinute: 1 } })
  t.equal((await hit('pr-1.review.test')).status, 200)
  // 1 holds an open WebSocket; 2 a slow request in flight.
  const ws = await openWs(h, 'pr-1.review.test')
  t.teardown(() => ws.terminate())
  t.equal((await hit('pr-2.review.test')).status, 200)
  const slow = h.get('pr-2.review.test', '/slow?ms=1500')
  await waitFor(() => h.wg.manager.envs.get('example/2')!.inflight > 0, 2_000, 'slow request in flight')
  const starts = backend.started.length

  // An API client.
  const api = await h.get('pr-3.review.test', '/info', { accept: 'application/json' })
  t.equal(api.status, 503)
  t.equal(api.headers['retry-after'], '60')
  t.equal(api.headers['x-wakegate-error'], 'WAKEGATE_AT_CAPACITY')
  t.match(api.headers['content-type'], /application\/json/)
  const body = JSON.parse(api.body)
  t.equal(body.error, 'WAKEGATE_AT_CAPACITY')
  t.equal(body.detail, '2 environments of example are running (maxRunning 2) and all of them are in use.')
  t.match(body.message, 'As many environments as allowed are running')

  // A browser opening the page: an HTML page at once, not the waking page.
  const page = await h.get('pr-3.review.test', '/', { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate' })
  t.equal(page.status, 503)
  t.match(page.headers['content-type'], /text\/html/)
  t.equal(page.headers['x-wakegate-error'], 'WAKEGATE_AT_CAPACITY')
  t.equal(page.headers['retry-after'], '60')
  t.match(page.body, 'PR #3 of example cannot be started right now')
  t.match(page.body, '2 environments of example are running (maxRunning 2) and all of them are in use.')
  t.notMatch(page.body, 'EventSource', 'not the waking page')

  // A WebSocket upgrade.
  const upgrade = await handshake(h, 'pr-3.review.test')
  t.equal(upgrade.status, 503)
  t.equal(upgrade.headers['x-wakegate-error'], 'WAKEGATE_AT_CAPACITY')
  t.equal(upgrade.headers['retry-after'], '60')

  t.equal(backend.started.length, starts, 'the backend was not asked to start anything')
  t.equal(state('example/3'), 'asleep')
  t.equal(state('example/1'), 'running')
  t.equal(state('example/2'), 'running')
  t.ok(h.wg.manager.capacity.refused >= 3)
  t.equal(h.wg.manager.envs.get('example/3')!.wake, null, 'no waiter left behind')
  t.match(h.wg.manager.envs.get('example/3')!.recent.map(e => e.message).join('\n'), /wake refused: 2 environments of example are running/)
  // Refusals gave their rate-limit token back (wakeBurst 3, 2 taken by 1 and 2): still 503, not 429.
  t.equal((await h.get('pr-3.review.test', '/info')).status, 503)

  // The slow request ends: 2 is idle now and makes room.
  t.equal((await slow).status, 200)
  t.equal((await hit('pr-3.review.test', '/info')).status, 200)
  await waitFor(() => state('example/2') === 'asleep', 5_000, '2 put to sleep')
  t.equal(state('example/1'), 'running', 'the env with an open WebSocket is kept')
  t.same(backend.started, ['example/1', 'example/2', 'example/3'])
})

t.test('a held request and an admin warm start are refused alike', async t => {
  const { h, backend, state, hit } = await capsGateway(t, [exampleApp({ prs: prs(1, 2), maxRunning: 1 })])
  t.equal((await hit('pr-1.review.test')).status, 200)
  const ws = await openWs(h, 'pr-1.review.test')
  t.teardown(() => ws.terminate())
  // Admin API wake: 202 (it only asks), but nothing starts and the env says why.
  const admin = await request(`${h.wg.adminUrl}/api/envs/example/2/wake`, { method: 'POST' })
  await admin.body.text()
  t.equal(backend.started.length, 1, 'the admin wake started nothing')
  t.equal(state('example/2'), 'asleep')
  t.match(h.wg.manager.envs.get('example/2')!.recent.at(-1)!.message, /^wake refused: 1 environment of example is running \(maxRunning 1\) and it is in use\.$/)
  // A manager-level wake (a webhook's warm start) rejects with the code and Retry-After.
  const err = await h.wg.manager.wake(h.wg.manager.envs.get('example/2')!, 'github: opened').then(() => null, e => e)
  t.equal(err?.code, 'WAKEGATE_AT_CAPACITY')
  t.equal(err?.retryAfter, 60)
  t.equal(backend.started.length, 1)
})

t.test('a wake asked for while stopping is refused when the stop ends at capacity; its waking page is told', async t => {
  const { h, backend, state, hit } = await capsGateway(t, [exampleApp({ prs: prs(1, 2), maxRunning: 1 })])
  t.equal((await hit('pr-2.review.test')).status, 200)
  let release!: () => void
  backend.stopGate = new Promise(resolve => { release = resolve })
  h.wg.manager.sleep(h.wg.manager.envs.get('example/2')!, 'test')
  t.equal(state('example/2'), 'stopping')
  // A page load while it stops: the start is asked for after the stop, the waking page shown.
  const page = await h.get('pr-2.review.test', '/', { accept: 'text/html', 'sec-fetch-mode': 'navigate' })
  t.equal(page.status, 503)
  t.equal(page.headers['x-wakegate-state'], 'stopping')
  t.ok(h.wg.manager.envs.get('example/2')!.m.wakeAfterStop)
  const events = h.get('pr-2.review.test', '/__wakegate/events', { accept: 'text/event-stream' })
  // Meanwhile PR 1 takes the only place (a stopping env does not count) and stays busy.
  t.equal((await hit('pr-1.review.test')).status, 200)
  const ws = await openWs(h, 'pr-1.review.test')
  t.teardown(() => ws.terminate())
  release()
  backend.stopGate = null
  const stream = (await events).body
  const m = /event: failed\ndata: (.*)\n/.exec(stream)
  t.ok(m, 'the page hears a failure')
  const failed = JSON.parse(m![1])
  t.equal(failed.code, 'WAKEGATE_AT_CAPACITY')
  t.match(failed.reason, 'wake refused: 1 environment of example is running (maxRunning 1) and it is in use.')
  t.equal(state('example/2'), 'asleep')
  t.notOk(h.wg.manager.envs.get('example/2')!.m.wakeAfterStop)
  t.same(backend.started, ['example/2', 'example/1'], 'PR 2 was not started again')
})
