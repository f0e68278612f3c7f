// Long-lived exchanges (event streams left open, uploads dripping slowly) must not take the
// pool's slots from short ones: with 130 of them open, a GET to the same env is answered.
// What still has to wait for a slot waits at most proxy.queueTimeout, then gets 503.
import t from 'tap'
import { connect, type Socket } from 'node:net'
import { Agent, request } from 'undici'
import { rawGateway } from './support/raw-upstream.js'
import { waitFor } from './support/harness.js'

const HOST = 'pr-1.review.test'

t.test('130 open event streams do not starve a GET to the same env', async t => {
  const { h, get } = await rawGateway(t, (req, sock) => {
    if (req.path === '/events') sock.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n8\r\ndata: 1\n\r\n')
    else sock.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nquick')
  })
  await (await get('/healthz')).body.text()
  const agent = new Agent({ connections: 200 })
  t.teardown(() => agent.destroy())
  const streams = await Promise.all(Array.from({ length: 130 }, () => request(`${h.url}/events`, { headers: { host: HOST }, dispatcher: agent })))
  t.equal(streams.filter(s => s.statusCode === 200).length, 130, '130 streams open')
  const quick = await get('/quick', { signal: AbortSignal.timeout(8000) })
  t.equal(quick.statusCode, 200)
  t.equal(await quick.body.text(), 'quick')
  for (const s of streams) s.body.destroy()
})

t.test('130 uploads dripping slowly do not starve a GET to the same env', async t => {
  const { h, get, up } = await rawGateway(t, (_req, sock) => { sock.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nquick') })
  await (await get('/healthz')).body.text()
  const clients: Socket[] = []
  t.teardown(() => { for (const c of clients) c.destroy() })
  for (let i = 0; i < 130; i++) {
    const c = connect(h.port, '127.0.0.1')
    c.on('error', () => {})
    // 100 bytes announced, 1 sent: the upstream connection stays busy with this request.
    c.write(`POST /upload HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 100\r\n\r\nx`)
    clients.push(c)
  }
  await waitFor(() => up.open() >= 130, 10_000, '130 upstream connections')
  const quick = await get('/quick', { signal: AbortSignal.timeout(8000) })
  t.equal(quick.statusCode, 200)
  t.equal(await quick.body.text(), 'quick')
})

t.test('a request that waits queueTimeout for a slot gets 503 with Retry-After, counted in metrics', async t => {
  const { h, get } = await rawGateway(t, (req, sock) => {
    // /slow answers after 600 ms: short enough to count against the cap the whole time.
    const answer = () => sock.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nslow')
    if (req.path === '/slow') setTimeout(answer, 600)
    else answer()
  }, { upstreamConnections: 2, queueTimeout: '200ms' })
  await (await get('/healthz')).body.text()
  const results = await Promise.all(Array.from({ length: 3 }, () => get('/slow').then(async r => ({ status: r.statusCode, headers: r.headers, body: await r.body.text() }))))
  const statuses = results.map(r => r.status).sort()
  t.same(statuses, [200, 200, 503], 'two served, the third gave up waiting')
  const busy = results.find(r => r.status === 503)!
  t.equal(busy.headers['x-wakegate-error'], 'WAKEGATE_UPSTREAM_BUSY')
  t.ok(Number(busy.headers['retry-after']) > 0, 'Retry-After set')
  const metrics = await (await request(`${h.wg.adminUrl}/metrics`)).body.text()
  t.match(metrics, /wakegate_upstream_queue_timeouts_total 1\b/)
  // Within the cap, nothing waits.
  const again = await Promise.all([get('/slow'), get('/slow')])
  t.same(again.map(r => r.statusCode), [200, 200])
  for (const r of again) await r.body.text()
})

t.test('a queued request gets its slot when a short exchange ends', async t => {
  const { get, up } = await rawGateway(t, (req, sock) => {
    const answer = () => sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
    if (req.path === '/slow') setTimeout(answer, 150)
    else answer()
  }, { upstreamConnections: 1, queueTimeout: '5s' })
  await (await get('/healthz')).body.text()
  const before = up.connections()
  const results = await Promise.all(Array.from({ length: 4 }, () => get('/slow').then(r => r.body.text())))
  t.same(results, ['ok', 'ok', 'ok', 'ok'])
  t.equal(up.connections() - before, 1, 'one connection carried all four in turn')
})
