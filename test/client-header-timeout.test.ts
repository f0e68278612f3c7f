// proxy.clientHeaderTimeout: a client has that long to send a whole request head. A partial
// head gets 408 and a close; a connection that sends nothing is closed without an answer.
// The same server options apply in worker processes (--workers).
import t, { type Test } from 'tap'
import { startGateway, testConfig } from './support/harness.js'
import { rawClient, within, parseResponses } from './support/raw-client.js'
import { startCluster } from '../src/cluster/primary.js'
import type { ResolvedConfig } from '../src/config/load.js'

const config = (): ResolvedConfig => testConfig({ proxy: { clientHeaderTimeout: '1s' } })
const HEAD = 'GET /info HTTP/1.1\r\nHost: pr-1.review.test\r\n\r\n'

/** Sends `text` one byte every 200 ms until done or the connection closes; returns bytes sent. */
async function trickle (port: number) {
  const c = await rawClient(port)
  let sent = 0
  const timer = setInterval(() => { if (sent < HEAD.length && !c.isClosed()) c.sock.write(HEAD[sent++]) }, 200)
  await within(c.closed, 5000, 'closed')
  clearInterval(timer)
  return { c, sent }
}

async function headTimeouts (t: Test, port: number) {
  const silent = await rawClient(port)
  const { c, sent } = await trickle(port)
  t.ok(sent < HEAD.length, `closed after ${sent} of ${HEAD.length} bytes, before the head was complete`)
  const [res, ...more] = parseResponses(c.text())
  t.equal(res?.status, 408)
  t.equal(res?.headers['x-wakegate-error'], 'WAKEGATE_REQUEST_TIMEOUT')
  t.equal(res?.headers.connection, 'close')
  t.same(more, [], 'one response')

  await within(silent.closed, 5000, 'silent connection closed')
  t.equal(silent.text(), '', 'nothing was asked, nothing answered')
}

t.test('a head sent one byte every 200 ms gets 408 and a close; a silent connection is closed', async t => {
  const h = await startGateway(config())
  t.teardown(() => h.close())
  await headTimeouts(t, h.port)
  t.equal(h.backends.get('example')!.total, 0, 'no env was woken')
  // A connection sending its head in time is served.
  const ok = await rawClient(h.port)
  ok.sock.write('GET /robots.txt HTTP/1.1\r\nHost: pr-1.review.test\r\nConnection: close\r\n\r\n')
  await within(ok.closed, 5000, 'answered')
  t.equal(parseResponses(ok.text())[0]?.status, 200)
})

t.test('worker processes time heads out the same way', async t => {
  const c = await startCluster(config(), { workers: 1 })
  t.teardown(() => c.close())
  await headTimeouts(t, Number(new URL(c.url).port))
})
