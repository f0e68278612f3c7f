// An upgrade request is a tunnel only once the app answers 101. Any other answer is relayed
// as an ordinary response (framed as the app framed it) with Connection: close, and the
// client connection is closed: what the client sends after it never reaches the app. An
// answer that never comes is bounded by upstreamIdleTimeout; an open tunnel is not.
import t from 'tap'
import { recordingGateway, type RecordedConnection } from './support/recording-upstream.js'
import { rawClient, within, parseResponses } from './support/raw-client.js'
import { sleep } from './support/harness.js'

const UPGRADE = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'

/** Answers by the path of the connection's first request; after a 101, echoes bytes back. */
function answer () {
  const upgraded = new WeakSet<RecordedConnection>()
  const answered = new WeakSet<RecordedConnection>()
  return (conn: RecordedConnection, chunk: string) => {
    if (upgraded.has(conn)) { conn.sock.write(chunk); return }
    if (answered.has(conn) || !conn.data.includes('\r\n\r\n')) return
    answered.add(conn)
    const path = conn.data.split(' ')[1]
    if (path === '/refused') conn.sock.write('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\nUpgrade: websocket\r\nX-App: yes\r\n\r\nno')
    else if (path === '/chunked') conn.sock.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
    else if (path === '/lf' || path === '/ws') {
      upgraded.add(conn)
      const eol = path === '/lf' ? '\n' : '\r\n'
      conn.sock.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', '', ''].join(eol))
    }
    // '/silent': no answer at all
  }
}

t.test('a 426 answer is relayed with Connection: close; the next request on the connection never reaches the app', async t => {
  const { h, up } = await recordingGateway(t, answer())
  const c = await rawClient(h.port)
  // The second request is pipelined right behind the handshake.
  const second = 'GET /second HTTP/1.1\r\nHost: pr-2.review.test\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n'
  c.sock.write(`GET /refused HTTP/1.1\r\nHost: pr-1.review.test\r\n${UPGRADE}\r\n${second}`)
  await c.until(s => parseResponses(s).length === 1)
  // …and once more after the answer.
  c.sock.write(second)
  await within(c.closed, 5000, 'client connection closed')
  const [res, ...more] = parseResponses(c.text())
  t.equal(res?.status, 426)
  t.equal(res?.body, 'no')
  t.equal(res?.headers['content-length'], '2')
  t.equal(res?.headers['x-app'], 'yes', 'end-to-end headers kept')
  t.equal(res?.headers.upgrade, undefined, 'hop-by-hop headers dropped')
  t.equal(res?.headers.connection, 'close')
  t.same(more, [], 'nothing else came back')
  await sleep(200)
  const conns = up.connections()
  t.equal(conns.length, 1, 'one upstream connection')
  t.equal(conns[0].data.match(/ HTTP\/1\.1\r\n/g)?.length, 1, 'the app got exactly one request')
  t.notMatch(conns[0].data, /second|6\.6\.6\.6/, 'the next request did not reach it')
})

t.test('a chunked non-101 answer after a 100 Continue is relayed decoded, then the connection closes', async t => {
  const { h, up } = await recordingGateway(t, answer())
  const c = await rawClient(h.port)
  c.sock.write(`GET /chunked HTTP/1.1\r\nHost: pr-1.review.test\r\n${UPGRADE}\r\n`)
  // The app keeps its connection open: the end of the chunked body ends the answer.
  await within(c.closed, 5000, 'client connection closed')
  const [res, ...more] = parseResponses(c.text())
  t.equal(res?.status, 400)
  t.equal(res?.body, 'hello')
  t.equal(res?.headers['transfer-encoding'], undefined, 'delimited by the close instead')
  t.equal(res?.headers.connection, 'close')
  t.same(more, [], 'the 100 was not forwarded, nothing else came back')
  t.ok(up.connections()[0].closed, 'upstream connection closed')
})

t.test('a 101 with bare-LF lines opens the tunnel', async t => {
  const { h, up } = await recordingGateway(t, answer())
  const c = await rawClient(h.port)
  c.sock.write(`GET /lf HTTP/1.1\r\nHost: pr-1.review.test\r\n${UPGRADE}\r\n`)
  await c.until(s => s.includes('\n\n'))
  t.equal(c.text(), 'HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n\n', 'the 101 as the app sent it')
  c.sock.write('ping')
  await c.until(s => s.endsWith('ping'))
  t.match(up.connections()[0].data, /\r\n\r\nping$/, 'bytes after the 101 reach the app')
  c.sock.destroy()
})

t.test('an unanswered upgrade gets 504 after upstreamIdleTimeout; an open tunnel is never timed out', async t => {
  const { h } = await recordingGateway(t, answer(), { upstreamIdleTimeout: '500ms' })
  const silent = await rawClient(h.port)
  silent.sock.write(`GET /silent HTTP/1.1\r\nHost: pr-1.review.test\r\n${UPGRADE}\r\n`)
  const ws = await rawClient(h.port)
  ws.sock.write(`GET /ws HTTP/1.1\r\nHost: pr-1.review.test\r\n${UPGRADE}\r\n`)
  await ws.until(s => s.includes('\r\n\r\n'))
  await within(silent.closed, 5000, 'unanswered upgrade closed')
  const [res] = parseResponses(silent.text())
  t.equal(res?.status, 504)
  t.equal(res?.headers['x-wakegate-error'], 'WAKEGATE_UPSTREAM_TIMEOUT')
  await sleep(1000) // twice the idle timeout, with no bytes either way
  t.notOk(ws.isClosed(), 'the idle tunnel is still open')
  ws.sock.write('still here')
  await ws.until(s => s.endsWith('still here'))
  t.pass('bytes still flow through it')
  ws.sock.destroy()
})

t.test('a handshake still unanswered when the shutdown grace ends gets 503, and shutdown does not wait for it', async t => {
  const { h } = await recordingGateway(t, answer(), { upstreamIdleTimeout: '60s', shutdownGrace: '300ms' })
  const c = await rawClient(h.port)
  c.sock.write(`GET /silent HTTP/1.1\r\nHost: pr-1.review.test\r\n${UPGRADE}\r\n`)
  await sleep(200)
  await within(h.wg.close(), 5000, 'gateway closed')
  await within(c.closed, 1000, 'client connection closed')
  const [res] = parseResponses(c.text())
  t.equal(res?.status, 503)
  t.equal(res?.headers['x-wakegate-error'], 'WAKEGATE_SHUTTING_DOWN')
})
