// Two Host header fields: 400 WAKEGATE_BAD_HOST (RFC 9112 §3.2), whether or not one of them
// names an env, for requests and upgrades; nothing reaches an app.
import t, { type Test } from 'tap'
import { startGateway, testConfig } from './support/harness.js'
import { rawClient, within, parseResponses } from './support/raw-client.js'

const CASES = [
  ['pr-1.review.test', 'pr-1.review.test'],
  ['pr-1.review.test', 'elsewhere.example'],
  ['elsewhere.example', 'pr-2.review.test']
]

async function refused (t: Test, extraHeaders: string) {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  for (const [a, b] of CASES) {
    const c = await rawClient(h.port)
    c.sock.write(`GET /info HTTP/1.1\r\nHost: ${a}\r\nHost: ${b}\r\n${extraHeaders}\r\n`)
    await within(c.closed, 5000, 'answered and closed')
    const [res] = parseResponses(c.text())
    t.equal(res?.status, 400, `Host ${a} and ${b}: 400`)
    t.equal(res?.headers['x-wakegate-error'], 'WAKEGATE_BAD_HOST', `Host ${a} and ${b}: WAKEGATE_BAD_HOST`)
  }
  t.equal(h.backends.get('example')!.total, 0, 'no env was woken')
}

t.test('a request with two Host headers gets 400 WAKEGATE_BAD_HOST', t => refused(t, 'Connection: close\r\n'))

t.test('an upgrade with two Host headers gets 400 WAKEGATE_BAD_HOST', t =>
  refused(t, 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'))
