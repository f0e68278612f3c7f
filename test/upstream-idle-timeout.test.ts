// proxy.upstreamIdleTimeout (like nginx's proxy_read_timeout): an upstream that goes silent
// mid-body has the client's response aborted, so it cannot look complete, and its
// connection is dropped. Slow bodies whose bytes keep coming, and slow clients the gateway
// waits for, are not cut.
import t from 'tap'
import { rawGateway } from './support/raw-upstream.js'
import { sleep, waitFor } from './support/harness.js'

t.test('a body that stalls is cut, and the upstream connection is closed', async t => {
  let closed = 0
  const { h, get } = await rawGateway(t, (req, sock) => {
    sock.once('close', () => closed++)
    if (req.path === '/length') sock.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b')
    else sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\nonly ten b\r\n')
  }, { upstreamIdleTimeout: '300ms' })
  await (await get('/healthz')).body.text()
  for (const path of ['/length', '/chunked']) {
    const res = await get(path)
    t.equal(res.statusCode, 200, `${path}: the head had gone out`)
    await t.rejects(res.body.text(), `${path}: the client sees an aborted response`)
  }
  await waitFor(() => closed === 2, 5000, 'both upstream connections closed')
  const metrics = await (await fetch(`${h.wg.adminUrl}/metrics`)).text()
  t.match(metrics, /wakegate_responses_cut_total 2\b/)
})

t.test('a slow body whose bytes keep coming is not cut', async t => {
  const { get } = await rawGateway(t, (_req, sock) => {
    sock.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n')
    let n = 0
    const timer = setInterval(() => { sock.write('x'); if (++n === 10) clearInterval(timer) }, 100)
    sock.once('close', () => clearInterval(timer))
  }, { upstreamIdleTimeout: '300ms' })
  await (await get('/healthz')).body.text()
  const res = await get('/drip')
  t.equal(await res.body.text(), 'x'.repeat(10), '1 s of body at 100 ms a byte, with a 300 ms idle timeout')
})

t.test('a slow client is waited for: the upstream is paused, not timed out', async t => {
  const size = 8 * 1024 * 1024
  const { get } = await rawGateway(t, (_req, sock) => {
    sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`)
    sock.write(Buffer.alloc(size, 97))
  }, { upstreamIdleTimeout: '300ms' })
  await (await get('/healthz')).body.text()
  const res = await get('/big')
  let n = 0
  let first = true
  for await (const chunk of res.body) {
    if (first) { first = false; await sleep(1000) } // the gateway's buffers fill, the upstream is paused
    n += (chunk as Buffer).length
  }
  t.equal(n, size, 'the whole body arrived')
})

t.test('the headers timeout still answers 504 before any byte', async t => {
  const { get } = await rawGateway(t, () => {}, { headersTimeout: '300ms', upstreamIdleTimeout: '60s' })
  await (await get('/healthz')).body.text()
  const res = await get('/never', { method: 'POST', body: 'x' })
  t.equal(res.statusCode, 504)
  t.equal(res.headers['x-wakegate-error'], 'WAKEGATE_UPSTREAM_TIMEOUT')
  await res.body.text()
})
