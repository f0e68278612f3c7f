import t from 'tap'
import { connect } from 'node:net'
import { startGateway, testConfig } from './support/harness.js'

/** Sends raw bytes and returns the status line's code (0 when the connection closed without one). */
function raw (port: number, request: string): Promise<number> {
  return new Promise(resolve => {
    const sock = connect(port, '127.0.0.1')
    let data = ''
    sock.setEncoding('latin1')
    sock.on('data', d => { data += d; if (data.includes('\r\n')) sock.destroy() })
    sock.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)))
    sock.on('error', () => {})
    sock.write(request)
  })
}

t.test('unknown host and unknown PR get 404 and no backend call', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  const unknownHost = await h.get('example.com', '/')
  t.equal(unknownHost.status, 404)
  t.equal(unknownHost.headers['x-wakegate-error'], 'WAKEGATE_UNKNOWN_HOST')
  const unknownPr = await h.get('pr-42.review.test', '/', { accept: 'text/html' })
  t.equal(unknownPr.status, 404)
  t.equal(unknownPr.headers['x-wakegate-error'], 'WAKEGATE_UNKNOWN_PR')
  t.match(unknownPr.body, /no review environment/)
  t.equal(h.backends.get('example')!.total, 0, 'zero backend calls')
})

t.test('malformed Host headers never start a task or crash the process', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  const hosts = [
    '', ' ', '.', '..', 'pr-', 'pr-.review.test', 'pr-0.review.test', 'pr--1.review.test', 'pr-01.review.test',
    'pr-99999999999999999999.review.test', 'pr-2147483648.review.test', 'pr-1e3.review.test', 'pr-0x1.review.test',
    'pr-1.5.review.test', 'pr- 1.review.test', 'pr-１.review.test', 'pr-1.revіew.test', 'ПР-1.review.test',
    'pr-1.review.test.evil.com', 'evil.com.pr-1.review.test', 'xpr-1.review.test', 'pr-1.review.testx',
    '127.0.0.1', '127.0.0.1:8080', '[::1]', '[::1]:80', '0.0.0.0', 'localhost', 'pr-1..review.test',
    'pr-1.review.test:', 'pr-1.review.test:abc', 'pr-1.review.test:99999', 'a'.repeat(300), `pr-${'1'.repeat(400)}.review.test`,
    'pr-1.review.test/evil', 'pr-1.review.test\\evil', 'pr-1.review.test@evil', 'pr-1.review.test#x', 'pr-1.review.test?x',
    'pr-%31.review.test', 'pr-1%2ereview.test', 'pr-{pr}.review.test', 'pr-*.review.test', 'pr-1 .review.test',
    '-pr-1.review.test', 'PR-1.REVIEW.TEST.COM', 'pr-+1.review.test', 'pr-٣.review.test', 'pr-1\t.review.test', 'pr-\u00001.review.test'
  ]
  t.ok(hosts.length >= 50, `${hosts.length} malformed hosts`)
  const codes: number[] = []
  for (const host of hosts) {
    codes.push(await raw(h.port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`))
  }
  codes.push(await raw(h.port, 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n'))
  codes.push(await raw(h.port, 'GET / HTTP/1.1\r\nHost: pr-1.review.test\r\nHost: pr-2.review.test\r\nConnection: close\r\n\r\n'))
  for (const [i, c] of codes.entries()) t.ok(c === 0 || c === 400 || c === 404, `host #${i} (${JSON.stringify(hosts[i] ?? 'special')}) → ${c}`)
  t.equal(h.backends.get('example')!.calls.start, 0, 'no task started')
  const ok = await h.get('pr-1.review.test', '/info')
  t.equal(ok.status, 200, 'the gateway still serves afterwards')
  const upper = await h.get('PR-1.Review.Test.:443', '/info')
  t.equal(upper.status, 200, 'case, port and trailing dot are tolerated')
})

t.test('known-PR gate: a PR the resolver rejects is a 404, a failed lookup is a 503 to retry; neither starts a task', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  let down = false
  h.wg.manager.prResolver = async (_app, pr) => {
    if (down) throw new Error('GitHub API unreachable')
    return pr === 7 ? { branch: 'open-pr', sha: 'abc7', source: 'test' } : null
  }
  t.equal((await h.get('pr-8.review.test', '/info')).status, 404, 'not an open PR')
  down = true
  const failed = await h.get('pr-9.review.test', '/info')
  t.equal(failed.status, 503)
  t.equal(JSON.parse(failed.body).error, 'WAKEGATE_PR_LOOKUP_FAILED')
  t.ok(failed.headers['retry-after'])
  t.equal(h.backends.get('example')!.calls.start, 0, 'nothing started')
  down = false
  const ok = await h.get('pr-7.review.test', '/info')
  t.equal(ok.status, 200, 'an open PR found through the resolver wakes')
  t.equal(JSON.parse(ok.body).branch, 'open-pr')
})
