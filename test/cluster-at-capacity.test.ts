// --workers 2: a wake the primary refuses at capacity reaches a worker's client with its code
// and Retry-After (over IPC), as JSON, as a page for a browser (the worker's mirror never sees
// the env waking) and as a raw answer to an upgrade; a worker limits wakes per address itself.
import t from 'tap'
import { request, Agent } from 'undici'
import WebSocket from 'ws'
import { testConfig, exampleApp, waitFor, rawHttp } from './support/harness.js'
import { FastBackend, fastUpstream } from './support/fast-backend.js'
import { startCluster } from '../src/cluster/primary.js'

t.test('AT_CAPACITY and WAKE_RATE_LIMITED through a worker', async t => {
  const up = await fastUpstream()
  t.teardown(() => up.close())
  const backend = new FastBackend(up.port)
  const config = testConfig({ limits: { wakeBurst: 2, wakesPerMinute: 1 } }, [exampleApp({ prs: [1, 2, 3, 4].map(number => ({ number })), maxRunning: 1, idleTimeout: '4s' })])
  const c = await startCluster(config, { workers: 2, backends: new Map([['example', backend]]) })
  t.teardown(() => c.close())
  const agent = new Agent({ connections: 16 })
  t.teardown(() => agent.close())
  const port = Number(new URL(c.url).port)
  const get = (host: string, path: string, headers: Record<string, string> = {}) =>
    request(`${c.url}${path}`, { headers: { host, ...headers }, dispatcher: agent })
      .then(async res => ({ status: res.statusCode, headers: res.headers, body: await res.body.text() }))

  t.equal((await get('pr-1.review.test', '/')).status, 200)
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host: 'pr-1.review.test' } })
  t.teardown(() => ws.terminate())
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  // The worker's open tunnel reaches the primary's counters with its activity report.
  await waitFor(() => c.manager.envs.get('example/1')!.streams > 0, 5_000, 'the tunnel counted at the primary')

  const api = await get('pr-2.review.test', '/info')
  t.equal(api.status, 503)
  t.equal(api.headers['retry-after'], '60', 'Retry-After crosses the IPC reply')
  t.equal(JSON.parse(api.body).error, 'WAKEGATE_AT_CAPACITY')
  t.equal(JSON.parse(api.body).detail, '1 environment of example is running (maxRunning 1) and it is in use.')

  const page = await get('pr-2.review.test', '/', { accept: 'text/html', 'sec-fetch-mode': 'navigate' })
  t.equal(page.status, 503)
  t.equal(page.headers['x-wakegate-error'], 'WAKEGATE_AT_CAPACITY')
  t.match(page.body, 'PR #2 of example cannot be started right now')
  t.notMatch(page.body, 'EventSource', 'an error page, not the waking page')

  const upgrade = await rawHttp(port, 'GET /ws HTTP/1.1\r\nHost: pr-2.review.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
  t.equal(upgrade.status, 503)
  t.equal(upgrade.headers['x-wakegate-error'], 'WAKEGATE_AT_CAPACITY')
  t.same(backend.started, ['example/1'], 'nothing started for PR 2')

  // The tunnel closes: PR 1 is idle, and PR 2's wake puts it to sleep.
  ws.close()
  await waitFor(() => c.manager.envs.get('example/1')!.streams === 0, 5_000, 'the tunnel gone at the primary')
  t.equal((await get('pr-2.review.test', '/info')).status, 200)
  await waitFor(() => c.manager.envs.get('example/1')!.state === 'asleep', 5_000, 'PR 1 made room')
  t.same(backend.started, ['example/1', 'example/2'])

  // Rate limit per worker (wakeBurst 2, wakesPerMinute 1): each worker counts its own wakes,
  // 2 tokens each, 2 of the 4 spent on PR 1 and PR 2. Every request below would start a wake
  // (maxRunning 1: each puts the previous env to sleep, or is refused while the primary
  // still counts the previous request as in flight).
  const statuses: number[] = []
  for (const pr of [3, 4, 1, 3, 4, 1]) statuses.push((await get(`pr-${pr}.review.test`, '/info')).status)
  t.ok(statuses.every(s => s === 200 || s === 429 || s === 503), statuses.join(' '))
  t.ok(statuses.filter(s => s === 429).length >= 2, `429s once the workers' tokens are spent (${statuses.join(' ')})`)
  t.ok(backend.started.length <= 4, `at most wakeBurst per worker (${backend.started.length} starts)`)
})
