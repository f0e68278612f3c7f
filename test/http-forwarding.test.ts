import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { startGateway, testConfig, rawHttp } from './support/harness.js'

t.test('headers are forwarded faithfully; hop-by-hop dropped; X-Forwarded-* and Forwarded set; Host kept', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  await h.get('pr-1.review.test', '/info')
  const res = await rawHttp(h.port, [
    'GET /info?q=1 HTTP/1.1', 'Host: pr-1.review.test:8443', 'X-Custom: Value With Spaces', 'Keep-Alive: timeout=5',
    'Proxy-Authorization: Basic secret', 'TE: trailers', 'X-Forwarded-For: 6.6.6.6', 'Connection: close, x-drop-me',
    'X-Drop-Me: gone', 'Cookie: a=1; b=2', 'Upgrade: h2c', '', ''
  ].join('\r\n'))
  t.equal(res.status, 200)
  t.equal(res.headers['x-robots-tag'], 'noindex, nofollow')
  const { headers, url } = JSON.parse(res.body)
  t.equal(url, '/info?q=1', 'path and query unchanged')
  t.equal(headers.host, 'pr-1.review.test:8443', 'Host preserved')
  t.equal(headers['x-custom'], 'Value With Spaces')
  t.equal(headers.cookie, 'a=1; b=2')
  t.equal(headers['keep-alive'], undefined)
  t.equal(headers['proxy-authorization'], undefined)
  t.equal(headers.te, undefined)
  t.equal(headers['x-drop-me'], undefined, 'headers named in Connection are dropped')
  t.equal(headers.upgrade, undefined, 'Upgrade on a plain request is dropped')
  t.equal(headers['x-forwarded-for'], '127.0.0.1', 'a client cannot spoof X-Forwarded-For in replace mode')
  t.equal(headers['x-forwarded-proto'], 'http')
  t.equal(headers['x-forwarded-host'], 'pr-1.review.test:8443')
  t.equal(headers.forwarded, 'for=127.0.0.1;host="pr-1.review.test:8443";proto=http')
})

t.test('append mode keeps the incoming X-Forwarded-For chain', async t => {
  const h = await startGateway(testConfig({ proxy: { xForwarded: 'append' } }))
  t.teardown(() => h.close())
  const res = await h.get('pr-1.review.test', '/info', { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' })
  const { headers } = JSON.parse(res.body)
  t.equal(headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1')
  t.equal(headers['x-forwarded-proto'], 'https')
})

t.test('request and response bodies stream both ways intact', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  await h.get('pr-1.review.test', '/info')
  // 8 MiB upload in chunks, echoed back: compare checksums.
  const chunks = Array.from({ length: 128 }, () => randomBytes(64 * 1024))
  const sent = createHash('sha256')
  for (const c of chunks) sent.update(c)
  const res = await request(`${h.url}/echo`, { method: 'POST', headers: { host: 'pr-1.review.test' }, body: Readable.from(chunks) })
  const got = createHash('sha256')
  let bytes = 0
  for await (const c of res.body) { got.update(c as Buffer); bytes += (c as Buffer).length }
  t.equal(res.statusCode, 200)
  t.equal(bytes, 8 * 1024 * 1024)
  t.equal(got.digest('hex'), sent.digest('hex'), 'echoed body matches')

  const down = await request(`${h.url}/bytes?n=20000000`, { headers: { host: 'pr-1.review.test' } })
  let n = 0
  for await (const c of down.body) n += (c as Buffer).length
  t.equal(down.headers['content-length'], '20000000')
  t.equal(n, 20_000_000, '20 MB download complete')
})

t.test('a slow upstream past headersTimeout maps to 504', async t => {
  const h = await startGateway(testConfig({ proxy: { headersTimeout: '300ms' } }))
  t.teardown(() => h.close())
  await h.get('pr-1.review.test', '/info')
  const res = await h.get('pr-1.review.test', '/slow?ms=2000')
  t.equal(res.status, 504)
  t.equal(JSON.parse(res.body).error, 'WAKEGATE_UPSTREAM_TIMEOUT')
})
