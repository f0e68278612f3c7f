// proxy.clientBodyTimeout: a request body that sends nothing for that long is given up —
// 408 and a close when no response began, else the connection is closed — and its upstream
// exchange is aborted rather than left waiting for the rest. Waiting the gateway does itself
// (a held request) is not the client's silence.
import t from 'tap'
import { recordingGateway } from './support/recording-upstream.js'
import { rawClient, within, parseResponses } from './support/raw-client.js'
import { startGateway, testConfig, exampleApp, waitFor } from './support/harness.js'

const HEAD = 'POST /upload HTTP/1.1\r\nHost: pr-1.review.test\r\nContent-Length: 10\r\n\r\n'

t.test('a body that stops before any answer: 408 with Connection: close, upstream exchange aborted', async t => {
  const { h, up } = await recordingGateway(t, () => {}, { clientBodyTimeout: '500ms' })
  const c = await rawClient(h.port)
  c.sock.write(HEAD + 'abc')
  await within(c.closed, 5000, 'client connection closed')
  const [res, ...more] = parseResponses(c.text())
  t.equal(res?.status, 408)
  t.equal(res?.headers['x-wakegate-error'], 'WAKEGATE_REQUEST_TIMEOUT')
  t.equal(res?.headers.connection, 'close')
  t.same(more, [])
  const [conn] = up.connections()
  t.match(conn?.data, /^POST \/upload HTTP\/1\.1\r\n[^]*\r\n\r\nabc$/, 'the upstream got the head and the 3 bytes sent')
  await waitFor(() => conn.closed, 3000, 'upstream connection closed')
  t.ok(conn.closed, 'the upstream exchange was aborted')
  const env = h.wg.manager.envs.get('example/1')!
  t.equal(env.inflight, 0, 'no request left in flight')
})

t.test('a body that stops after the response began: the connection is closed, no 408', async t => {
  const { h, up } = await recordingGateway(t, (conn, chunk) => {
    if (chunk.startsWith('POST ')) conn.sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n')
  }, { clientBodyTimeout: '500ms' })
  const c = await rawClient(h.port)
  c.sock.write(HEAD + 'abc')
  await c.until(s => s.includes('\r\n\r\n'))
  await within(c.closed, 5000, 'client connection closed')
  t.match(c.text(), /^HTTP\/1\.1 200 OK\r\n/, 'the response that began')
  t.notMatch(c.text(), /408/, 'no second status')
  t.notMatch(c.text(), /\r\n0\r\n\r\n$/, 'not ended as if complete')
  const [conn] = up.connections()
  await waitFor(() => conn.closed, 3000, 'upstream connection closed')
  t.ok(conn.closed, 'the upstream exchange was aborted')
})

t.test('a stalled gateway is not a silent client: bytes sent during the stall keep the body alive', async t => {
  const { h, up } = await recordingGateway(t, (conn) => {
    if (conn.data.endsWith('\r\n\r\nabcdefghij')) conn.sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
  }, { clientBodyTimeout: '300ms' })
  const c = await rawClient(h.port)
  c.sock.write(HEAD + 'abc')
  await waitFor(() => up.connections()[0]?.data.endsWith('abc'), 3000, 'upstream got the first bytes')
  c.sock.write('defg')
  // Block this process (gateway and client alike) past the body timeout: the timer is due
  // before the loop gets to read "defg".
  const until = Date.now() + 600
  while (Date.now() < until) { /* stall */ }
  await new Promise(resolve => setTimeout(resolve, 150))
  c.sock.write('hij')
  await c.until(s => s.includes('\r\n\r\nok'))
  const [res] = parseResponses(c.text())
  t.equal(res?.status, 200, 'answered by the app, not 408')
  t.match(up.connections()[0]?.data, /\r\n\r\nabcdefghij$/, 'the whole body reached the upstream')
})

t.test('bodies held while the env wakes are not timed out', async t => {
  // The app turns ready after 1.5 s: three body timeouts of holding.
  const h = await startGateway(testConfig({ proxy: { clientBodyTimeout: '500ms' } }, [exampleApp({ env: { READY_AFTER_MS: '1500' } })]))
  t.teardown(() => h.close())
  // A whole small body, and one too large to be buffered (the gateway stops reading it).
  const big = 'x'.repeat(1 << 20)
  const clients = await Promise.all(['hello', big].map(async body => {
    const c = await rawClient(h.port)
    c.sock.write(`POST /echo HTTP/1.1\r\nHost: pr-1.review.test\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
    return c
  }))
  for (const [i, c] of clients.entries()) {
    await within(c.closed, 10_000, 'answered')
    const [res] = parseResponses(c.text())
    t.equal(res?.status, 200, `body ${i + 1}: 200`)
    t.equal(res?.body.length, i === 0 ? 5 : big.length, `body ${i + 1} reached the app once it was ready`)
  }
})
