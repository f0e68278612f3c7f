// A wake flood from one address: 10,000 requests over 1,000 PR numbers, of which a handful
// are known. Unknown PRs never reach the backend; known ones start at most wakeBurst (plus
// what refilled meanwhile) and at most maxRunning; the rest are 429 with Retry-After; a
// request to an env already running is never refused.
import t from 'tap'
import { Pool } from 'undici'
import WebSocket from 'ws'
import { startGateway, testConfig, exampleApp, waitFor, rawHttp } from './support/harness.js'
import { FastBackend, fastUpstream } from './support/fast-backend.js'

const KNOWN = [3, 17, 256, 512, 777, 999]
const PER_MINUTE = 2
const BURST = 3
const MAX_RUNNING = 4

async function floodGateway (t: { teardown (fn: () => unknown): void }, limits: Record<string, unknown> = { wakesPerMinute: PER_MINUTE, wakeBurst: BURST }) {
  const up = await fastUpstream()
  const backend = new FastBackend(up.port)
  const config = testConfig({ limits }, [exampleApp({ prs: KNOWN.map(n => ({ number: n, branch: `b${n}` })), anyPr: false, maxRunning: MAX_RUNNING })])
  const h = await startGateway(config, { backends: new Map([['example', backend]]) })
  t.teardown(async () => { await h.close(); await up.close() })
  return { h, backend }
}

t.test('10,000 requests for 1,000 random PRs from one address', async t => {
  const { h, backend } = await floodGateway(t)
  const pool = new Pool(h.url, { connections: 100, pipelining: 1 })
  t.teardown(() => pool.close())
  // A fixed pseudo-random sequence (the known PRs are among 1..1000).
  let seed = 12345
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
  const prs = Array.from({ length: 10_000 }, () => 1 + Math.floor(rand() * 1000))
  t.ok(KNOWN.every(n => prs.includes(n)), 'every known PR is asked for')

  type Result = { pr: number, sentAt: number, status: number, retryAfter?: string, error?: string }
  const results: Result[] = []
  let next = 0
  let maxActive = 0
  const started = Date.now()
  const worker = async () => {
    while (next < prs.length) {
      const pr = prs[next++]
      const sentAt = Date.now()
      const res = await pool.request({ path: '/', method: 'GET', headers: { host: `pr-${pr}.review.test`, accept: 'application/json' } })
      const body = await res.body.text()
      const r: Result = { pr, sentAt, status: res.statusCode }
      if (res.statusCode !== 200) { r.retryAfter = res.headers['retry-after'] as string | undefined; r.error = JSON.parse(body).error }
      results.push(r)
      maxActive = Math.max(maxActive, [...h.wg.manager.active].filter(e => e.state === 'running' || e.state === 'waking').length)
    }
  }
  await Promise.all(Array.from({ length: 100 }, worker))
  const elapsed = Date.now() - started
  t.equal(results.length, 10_000)

  const unknown = results.filter(r => !KNOWN.includes(r.pr))
  t.ok(unknown.length > 9_000)
  t.ok(unknown.every(r => r.status === 404 && r.error === 'WAKEGATE_UNKNOWN_PR'), 'unknown PRs: 404, never rate limited, never started')
  t.equal(backend.started.filter(k => !KNOWN.includes(Number(k.split('/')[1]))).length, 0, 'no backend start for an unknown PR')

  const starts = backend.started.length
  const refilled = Math.ceil(elapsed * PER_MINUTE / 60_000)
  t.ok(starts >= 1, `some known PRs started (${starts})`)
  t.ok(starts <= BURST + refilled, `starts ${starts} ≤ wakeBurst ${BURST} + ${refilled} refilled in ${elapsed} ms`)
  t.ok(starts <= MAX_RUNNING, `starts ${starts} ≤ maxRunning ${MAX_RUNNING}`)
  t.ok(maxActive <= MAX_RUNNING, `at most ${MAX_RUNNING} ran at once (${maxActive})`)
  t.equal(new Set(backend.started).size, starts, 'one start per env: requests joined wakes under way')

  const known = results.filter(r => KNOWN.includes(r.pr))
  const limited = known.filter(r => r.status === 429)
  t.ok(limited.length > 0, `some known PRs were refused (${limited.length})`)
  t.ok(known.every(r => r.status === 200 || r.status === 429), 'a known PR is served or rate limited')
  t.ok(limited.every(r => r.error === 'WAKEGATE_WAKE_RATE_LIMITED' && Number(r.retryAfter) >= 1), '429s say WAKEGATE_WAKE_RATE_LIMITED with Retry-After')
  // Once an env answered, later requests for it are never rate limited (it keeps running:
  // idleTimeout 10 m and no eviction under maxRunning).
  for (const pr of KNOWN) {
    const firstOk = known.find(r => r.pr === pr && r.status === 200)
    if (!firstOk) continue
    const doneAt = firstOk.sentAt
    const after = known.filter(r => r.pr === pr && r.sentAt > doneAt + 50)
    t.ok(after.every(r => r.status === 200), `PR ${pr}: every request after its env ran was served (${after.length})`)
  }
  const running = KNOWN.filter(n => h.wg.manager.envs.get(`example/${n}`)?.state === 'running')
  t.equal(running.length, starts, 'the envs started are running')
  t.same(running.map(n => `example/${n}`).sort(), [...backend.started].sort())

  // The address has no token left now: running envs are still served, asleep ones refused.
  const asleep = KNOWN.find(n => !running.includes(n))!
  const refused = await h.get(`pr-${asleep}.review.test`, '/')
  t.equal(refused.status, 429)
  t.ok(Number(refused.headers['retry-after']) >= 1)
  t.equal(refused.headers['x-wakegate-error'], 'WAKEGATE_WAKE_RATE_LIMITED')
  for (const n of running) t.equal((await h.get(`pr-${n}.review.test`, '/')).status, 200, `running PR ${n} is served`)
  // A browser is told so on a page.
  const page = await h.get(`pr-${asleep}.review.test`, '/', { accept: 'text/html', 'sec-fetch-mode': 'navigate' })
  t.equal(page.status, 429)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, `PR #${asleep} of example cannot be started right now`)
  t.match(page.body, 'Too many environments were started from this address')
  t.equal(backend.started.length, starts, 'nothing more started')
})

t.test('WebSocket upgrades and page loads that would start a wake take a token too', async t => {
  const { h, backend } = await floodGateway(t, { wakesPerMinute: 1, wakeBurst: 1 })
  const handshake = (pr: number) => rawHttp(h.port, `GET /ws HTTP/1.1\r\nHost: pr-${pr}.review.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`)
  const page = await h.get('pr-17.review.test', '/', { accept: 'text/html', 'sec-fetch-mode': 'navigate' })
  t.equal(page.status, 503, 'the first wake (a page load): the waking page')
  t.equal(page.headers['x-wakegate-state'], 'waking')
  await waitFor(() => h.wg.manager.envs.get('example/17')?.state === 'running', 5_000, 'pr 17 running')
  const refused = await handshake(3)
  t.equal(refused.status, 429, 'an upgrade that would start a second wake')
  t.equal(refused.headers['x-wakegate-error'], 'WAKEGATE_WAKE_RATE_LIMITED')
  t.ok(Number(refused.headers['retry-after']) > 1)
  // The running env's WebSocket is not counted.
  const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws`, { headers: { host: 'pr-17.review.test' } })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const echoed = new Promise<string>(resolve => ws.once('message', m => resolve(String(m))))
  ws.send('hi')
  t.equal(await echoed, 'hi', 'an upgrade to a running env goes through')
  ws.close()
  t.same(backend.started, ['example/17'])
})

t.test('wakesPerMinute 0: no limit', async t => {
  const { h, backend } = await floodGateway(t, { wakesPerMinute: 0 })
  for (const n of KNOWN.slice(0, MAX_RUNNING)) t.equal((await h.get(`pr-${n}.review.test`, '/')).status, 200)
  t.equal(backend.started.length, MAX_RUNNING)
  t.equal(h.wg.gateway.cold.wakeLimit, null)
})
