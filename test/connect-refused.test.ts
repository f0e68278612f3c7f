// CONNECT on the public listener: wakegate is a reverse proxy, not a forward one. The answer
// is 405 with Allow and Connection: close, then the connection closes — never silence — in
// the single-process gateway and in worker processes alike.
import t, { type Test } from 'tap'
import { startGateway, testConfig } from './support/harness.js'
import { rawClient, within, parseResponses } from './support/raw-client.js'
import { startCluster } from '../src/cluster/primary.js'

async function refused (t: Test, port: number) {
  for (const authority of ['pr-1.review.test:443', 'example.com:443']) {
    const c = await rawClient(port)
    c.sock.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`)
    await within(c.closed, 5000, 'closed')
    const [res, ...more] = parseResponses(c.text())
    t.equal(res?.status, 405, `CONNECT ${authority}: 405`)
    t.equal(res?.headers['x-wakegate-error'], 'WAKEGATE_METHOD_NOT_ALLOWED')
    t.match(res?.headers.allow, /\bGET\b/)
    t.notMatch(res?.headers.allow, /CONNECT/)
    t.equal(res?.headers.connection, 'close')
    t.same(more, [])
  }
}

t.test('CONNECT gets 405 with Allow and a close', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  await refused(t, h.port)
  t.equal(h.backends.get('example')!.total, 0, 'nothing woken')
})

t.test('CONNECT to a worker process gets the same', async t => {
  const c = await startCluster(testConfig(), { workers: 1 })
  t.teardown(() => c.close())
  await refused(t, Number(new URL(c.url).port))
})
