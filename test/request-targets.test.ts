// Request-targets other than origin-form (RFC 9112 §3.2): absolute-form is routed by its
// authority and reaches the app in origin-form with that authority as Host, for requests
// and upgrades alike; `OPTIONS *` is answered by the gateway; malformed targets get 400.
import t from 'tap'
import { startGateway, testConfig } from './support/harness.js'
import { rawClient, within, parseResponses } from './support/raw-client.js'
import { recordingGateway } from './support/recording-upstream.js'

async function exchange (port: number, head: string) {
  const c = await rawClient(port)
  c.sock.write(head)
  await within(c.closed, 20_000, 'answered and closed')
  return parseResponses(c.text())
}

t.test('absolute-form: routed by the authority, sent upstream in origin-form with that Host', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  // Host names PR 1, the target PR 2: the target wins (§3.2.2).
  const [res] = await exchange(h.port, 'GET http://pr-2.review.test/info?x=1 HTTP/1.1\r\nHost: pr-1.review.test\r\nConnection: close\r\n\r\n')
  t.equal(res?.status, 200)
  const info = JSON.parse(res!.body)
  t.equal(info.pr, '2', 'PR 2 answered')
  t.equal(info.url, '/info?x=1', 'origin-form upstream')
  t.equal(info.headers.host, 'pr-2.review.test', 'Host is the authority')
  t.equal(info.headers['x-forwarded-host'], 'pr-2.review.test')
  t.equal(h.backends.get('example')!.calls.start, 1, 'only PR 2 woke')

  // Scheme and host are case-insensitive; an empty path is "/".
  const [bare] = await exchange(h.port, 'GET HTTP://PR-2.review.test:80?q HTTP/1.1\r\nHost: pr-2.review.test\r\nConnection: close\r\n\r\n')
  t.equal(bare?.status, 200)
  t.match(bare!.body, /Review app for PR #2/, 'the app served "/?q"')
})

t.test('absolute-form upgrade: the handshake goes upstream in origin-form with the authority as Host', async t => {
  const { h, up } = await recordingGateway(t, (conn, chunk) => {
    if (chunk.startsWith('GET ')) conn.sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
  })
  const c = await rawClient(h.port)
  c.sock.write('GET http://pr-1.review.test/ws HTTP/1.1\r\nHost: elsewhere.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
  await c.until(s => s.includes('\r\n\r\n'))
  t.match(c.text(), /^HTTP\/1\.1 101 /, 'upgraded')
  const [conn] = up.connections()
  t.match(conn?.data, /^GET \/ws HTTP\/1\.1\r\n/, 'origin-form request line')
  t.match(conn?.data, /\r\nHost: pr-1\.review\.test\r\n/, 'Host is the authority')
  t.notMatch(conn?.data, /elsewhere/, 'the client\'s Host is not forwarded')
  c.sock.destroy()
})

t.test('OPTIONS * is answered by the gateway without waking anything; bad targets get 400', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  const [opt] = await exchange(h.port, 'OPTIONS * HTTP/1.1\r\nHost: pr-1.review.test\r\nConnection: close\r\n\r\n')
  t.equal(opt?.status, 200)
  t.match(opt?.headers.allow, /GET/)
  t.equal(opt?.headers['content-length'], '0')
  // The same through absolute-form with an empty path (§3.2.4).
  const [opt2] = await exchange(h.port, 'OPTIONS http://pr-1.review.test HTTP/1.1\r\nHost: pr-1.review.test\r\nConnection: close\r\n\r\n')
  t.equal(opt2?.status, 200)
  t.match(opt2?.headers.allow, /GET/)

  for (const [target, code] of [
    ['*', 'WAKEGATE_BAD_TARGET'],
    ['ftp://pr-1.review.test/x', 'WAKEGATE_BAD_TARGET'],
    ['http://user@pr-1.review.test/x', 'WAKEGATE_BAD_TARGET'],
    ['http:///x', 'WAKEGATE_BAD_HOST'],
    ['http://pr-1.review.test%2f/x', 'WAKEGATE_BAD_HOST']
  ]) {
    const [res] = await exchange(h.port, `GET ${target} HTTP/1.1\r\nHost: pr-1.review.test\r\nConnection: close\r\n\r\n`)
    t.equal(res?.status, 400, `GET ${target}: 400`)
    t.equal(res?.headers['x-wakegate-error'], code, `GET ${target}: ${code}`)
  }
  t.equal(h.backends.get('example')!.total, 0, 'no backend call')
})
