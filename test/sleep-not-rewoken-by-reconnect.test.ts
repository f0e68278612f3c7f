// An env an operator put to sleep stays asleep while an open tab reconnects: a real Vite dev
// server's page in Chromium keeps pinging for its server and nothing starts; a page reload
// wakes it. Reconnects (WebSocket upgrades, EventSource, Vite's HTTP ping) are refused with
// 503 WAKEGATE_ENV_ASLEEP and a plain reason; a page load or an API call wakes as before.
import t from 'tap'
import { request } from 'undici'
import WebSocket from 'ws'
import { launchBrowser } from './support/browser.js'
import { startGateway, testConfig, exampleApp, waitFor, sleep, rawHttp } from './support/harness.js'
import { viteApp, metric } from './support/vite.js'
import { pino } from 'pino'
import { MemoryStore } from '../src/stores/memory.js'
import { readRecords, restoreEnvs } from '../src/replicas/restore.js'

const TOKEN = 'sleep-test-token'
const auth = { authorization: `Bearer ${TOKEN}` }

async function adminSleep (adminUrl: string, key: string): Promise<Record<string, unknown>> {
  const res = await request(`${adminUrl}/api/envs/${key}/sleep`, { method: 'POST', headers: auth })
  if (res.statusCode !== 202) throw new Error(`sleep: ${res.statusCode}`)
  return await res.body.json() as Record<string, unknown>
}

t.test('after an admin sleep, the open Vite tab\'s reconnects do not wake the env; a reload does', async t => {
  const h = await startGateway(testConfig({ admin: { host: '127.0.0.1', port: 0, token: TOKEN } }, [viteApp()]))
  t.teardown(() => h.close())
  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const env = h.wg.manager.envs.get('example/1')!
  const starts = () => h.backends.get('example')!.calls.start
  const refused = () => metric(h.wg.adminUrl!, TOKEN, 'wakegate_reconnects_refused_total{app="example"}')

  await page.goto(`http://pr-1.localhost:${h.port}/`)
  await page.waitForFunction(() => document.getElementById('hmr')?.textContent === 'loaded', undefined, { timeout: 30_000 })
  await waitFor(() => env.streams === 1, 10_000, 'the HMR socket open through the gateway')
  t.equal(starts(), 1)

  const view = await adminSleep(h.wg.adminUrl!, 'example/1')
  t.equal(view.sleptBy, 'operator', 'the API says who put it to sleep')
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep')
  await page.waitForFunction(() => document.getElementById('hmr')?.textContent === 'disconnected', undefined, { timeout: 10_000 })

  // Vite pings for its server every second (and would reload the page on an answer): for 4 s, nothing starts.
  const before = await refused()
  await sleep(4000)
  const after = await refused()
  t.ok(after - before >= 2, `the tab kept reconnecting (${after - before} refused)`)
  t.equal(starts(), 1, 'the backend start count did not move')
  t.equal(env.state, 'asleep')
  t.equal(await page.textContent('#hmr'), 'disconnected', 'the page is still the old one, waiting')

  await page.reload()
  await page.waitForFunction(() => document.getElementById('hmr')?.textContent === 'loaded', undefined, { timeout: 30_000 })
  t.equal(starts(), 2, 'the reload (a page load) woke it')
  t.equal(env.state, 'running')
  t.equal(env.sleptBy, '')
  await waitFor(() => env.streams === 1, 10_000, 'the HMR socket open again')
})

t.test('reconnects to a put-to-sleep env are answered 503 WAKEGATE_ENV_ASLEEP; API calls and page loads wake it', async t => {
  const h = await startGateway(testConfig({ admin: { host: '127.0.0.1', port: 0, token: TOKEN } }, [exampleApp()]))
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!
  const starts = () => h.backends.get('example')!.calls.start
  const ws = (protocol?: string) => new Promise<{ status: number, body: string, headers: Record<string, unknown> }>((resolve, reject) => {
    const sock = new WebSocket(`${h.url.replace('http', 'ws')}/`, protocol, { headers: { host: 'pr-1.review.test' } })
    sock.once('open', () => { sock.close(); reject(new Error('opened')) })
    sock.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    sock.once('error', () => {})
  })

  // Never put to sleep: a WebSocket wakes it as before.
  const first = new WebSocket(`${h.url.replace('http', 'ws')}/ws`, { headers: { host: 'pr-1.review.test' } })
  await new Promise((resolve, reject) => { first.once('open', resolve); first.once('error', reject) })
  first.close()
  t.equal(starts(), 1, 'an env that was never put to sleep is woken by an upgrade')

  await adminSleep(h.wg.adminUrl!, 'example/1')
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep')

  for (const protocol of [undefined, 'vite-hmr', 'vite-ping']) {
    const r = await ws(protocol)
    t.equal(r.status, 503, `upgrade (${protocol ?? 'no subprotocol'}) refused`)
    t.equal(r.headers['x-wakegate-error'], 'WAKEGATE_ENV_ASLEEP')
    t.equal(r.headers['retry-after'], '60')
    t.match(JSON.parse(r.body), { error: 'WAKEGATE_ENV_ASLEEP', detail: 'put to sleep by an operator; reload the page to start it again' })
  }
  for (const accept of ['text/event-stream', 'text/x-vite-ping']) {
    const r = await h.get('pr-1.review.test', '/', { accept })
    t.equal(r.status, 503, `Accept: ${accept} refused`)
    t.equal(JSON.parse(r.body).error, 'WAKEGATE_ENV_ASLEEP')
  }
  const rawSse = await rawHttp(h.port, 'GET /events HTTP/1.1\r\nHost: pr-1.review.test\r\nAccept: text/event-stream\r\nLast-Event-ID: 7\r\nConnection: close\r\n\r\n')
  t.equal(rawSse.status, 503, 'an EventSource reconnect with Last-Event-ID too')
  t.equal(starts(), 1, 'none of them started anything')
  t.equal(env.state, 'asleep')
  t.equal(await metric(h.wg.adminUrl!, TOKEN, 'wakegate_reconnects_refused_total{app="example"}'), 6)

  // An API call (no reconnect) wakes it and clears the mark; reconnects then go through.
  const api = await h.get('pr-1.review.test', '/info', { accept: 'application/json' })
  t.equal(api.status, 200, 'an API call wakes it')
  t.equal(starts(), 2)
  t.equal(env.sleptBy, '')
  const sse = await h.get('pr-1.review.test', '/info', { accept: 'text/event-stream' })
  t.equal(sse.status, 200, 'a running env serves an EventSource as usual')

  // Put to sleep again: a page load wakes it (the waking page), and so does an upgrade held beside it.
  await adminSleep(h.wg.adminUrl!, 'example/1')
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep again')
  t.equal(env.sleptBy, 'operator')
  const nav = await h.get('pr-1.review.test', '/', { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' })
  t.equal(nav.status, 503, 'the waking page')
  t.match(nav.body, /Waking PR #1/)
  const held = new WebSocket(`${h.url.replace('http', 'ws')}/ws`, { headers: { host: 'pr-1.review.test' } })
  await new Promise((resolve, reject) => { held.once('open', resolve); held.once('error', reject) })
  held.close()
  t.equal(starts(), 3, 'one start for the page load, the upgrade held for it')
})

t.test('an env the idle policy put to sleep is not woken by a reconnect either', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ idleTimeout: '300ms' })]), { reapInterval: 50 })
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!
  t.equal((await h.get('pr-1.review.test', '/info')).status, 200)
  await waitFor(() => env.state === 'asleep', 10_000, 'idle stop')
  t.equal(env.sleptBy, 'policy')
  const r = await h.get('pr-1.review.test', '/events', { accept: 'text/event-stream' })
  t.equal(r.status, 503)
  t.match(JSON.parse(r.body).detail, /^put to sleep after it was left idle/)
  t.equal(h.backends.get('example')!.calls.start, 1)
})

t.test('who put an env to sleep travels through the store to a new leader', async t => {
  const store = new MemoryStore()
  const h = await startGateway(testConfig({}, [exampleApp()]), { store })
  // A PR the config does not list (as from GitHub): the new leader knows it from the store only.
  const env = h.wg.manager.register('example', 7, { source: 'admin' })
  t.equal((await h.get('pr-7.review.test', '/info')).status, 200)
  h.wg.manager.sleep(env, 'test', 'operator')
  await waitFor(async () => env.state === 'asleep' && (await store.get('example/7'))?.meta?.sleptBy === 'operator', 10_000, 'the record written')
  t.equal(env.meta.sleptBy, undefined, 'kept in the record, not in the env\'s own meta')
  await h.close()

  const records = await readRecords(store, pino({ level: 'silent' }))
  const next = await startGateway(testConfig({}, [exampleApp()]), { store })
  t.teardown(() => next.close())
  restoreEnvs(next.wg.manager, records, pino({ level: 'silent' }))
  const restored = next.wg.manager.envs.get('example/7')!
  t.equal(restored.sleptBy, 'operator', 'restored from the record')
  t.equal((await next.get('pr-7.review.test', '/', { accept: 'text/event-stream' })).status, 503, 'its reconnects are still refused')
  t.equal(next.backends.get('example')!.calls.start, 0)
  t.equal((await next.get('pr-7.review.test', '/info')).status, 200, 'an API call wakes it')
  t.equal(restored.sleptBy, '')
  await waitFor(async () => (await store.get('example/7'))?.meta?.sleptBy === undefined, 5000, 'the record without it')
})
