// proxy.keepAliveTimeout: an idle client connection stays open for the next request while
// idle for less than this, and is closed once it was idle for longer.
import t from 'tap'
import { startGateway, testConfig, sleep } from './support/harness.js'
import { rawClient, within, parseResponses } from './support/raw-client.js'

t.test('a keep-alive connection survives a short idle and is closed after keepAliveTimeout', async t => {
  const h = await startGateway(testConfig({ proxy: { keepAliveTimeout: '1s' } }))
  t.teardown(() => h.close())
  const c = await rawClient(h.port)
  // robots.txt is answered by the gateway itself: no env has to wake.
  const get = 'GET /robots.txt HTTP/1.1\r\nHost: pr-1.review.test\r\n\r\n'
  c.sock.write(get)
  await c.until(s => parseResponses(s).length === 1)
  await sleep(500)
  t.notOk(c.isClosed(), 'open after 500 ms idle')
  c.sock.write(get)
  await c.until(s => parseResponses(s).length === 2)
  t.same(parseResponses(c.text()).map(r => r.status), [200, 200], 'both requests served on one connection')
  await within(c.closed, 4000, 'closed once idle for keepAliveTimeout')
  t.equal(parseResponses(c.text()).length, 2, 'closed without another response')
})
