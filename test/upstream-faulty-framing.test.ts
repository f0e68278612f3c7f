// Upstream framing that must never be passed off as content (RFC 9112 §6.1, §7.1, §2.2):
// Transfer-Encoding in HTTP/1.0 and codings other than chunked answer 502; bare-LF heads,
// leading zeros in chunk sizes and large chunk extensions/trailers are relayed; the head size
// limit does not depend on how TCP split the bytes; a failure before the head is a 502 page.
import t from 'tap'
import type { Socket } from 'node:net'
import { Agent } from 'undici'
import { rawGateway } from './support/raw-upstream.js'

/** undici refuses response heads over 16 KiB by default; these tests send bigger ones. */
const bigHeads = new Agent({ maxHeaderSize: 256 * 1024 })
t.teardown(() => bigHeads.close())

/** Writes `bytes` in pieces of `size` bytes, one per event-loop turn. */
function writeInPieces (sock: Socket, bytes: Buffer, size: number): void {
  let off = 0
  const next = () => {
    if (off >= bytes.length || sock.destroyed) return
    sock.write(bytes.subarray(off, off + size))
    off += size
    setImmediate(next)
  }
  next()
}

t.test('HTTP/1.0 with Transfer-Encoding is faulty framing: 502, and the connection is not reused', async t => {
  const { get, up } = await rawGateway(t, (req, sock) => {
    if (req.path === '/te10') sock.end('HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
    else sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
  })
  const res = await get('/te10')
  t.equal(res.statusCode, 502)
  t.equal(res.headers['x-wakegate-error'], 'WAKEGATE_UPSTREAM_BAD_RESPONSE')
  const body = await res.body.text()
  t.notMatch(body, /5\r\nhello/, 'the chunk framing never reaches the client as content')
  const before = up.connections()
  t.equal(await (await get('/next')).body.text(), 'ok')
  t.equal(up.connections(), before + 1, 'the next request went on a new connection')
})

t.test('a transfer coding other than chunked is refused rather than relabelled', async t => {
  const answers: Record<string, string> = {
    '/gzip-chunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\n\x1f\x8b\x08\r\n0\r\n\r\n',
    '/two-headers': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n\x1f\x8b\x08\r\n0\r\n\r\n',
    '/gzip-only': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b\x08',
    '/chunked-twice': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n'
  }
  const { get } = await rawGateway(t, (req, sock) => { sock.end(Buffer.from(answers[req.path], 'latin1')) })
  for (const path of Object.keys(answers)) {
    const res = await get(path, { method: 'POST', body: 'x' }) // POST: not retried after the failure
    t.equal(res.statusCode, 502, `${path} → 502`)
    t.equal(res.headers['x-wakegate-error'], 'WAKEGATE_UPSTREAM_BAD_RESPONSE', path)
    t.match(await res.body.text(), /Transfer-Encoding/, `${path}: the reason names the header`)
  }
})

t.test('a bare-LF response head is accepted (RFC 9112 §2.2), at once', async t => {
  const { get } = await rawGateway(t, (req, sock) => {
    if (req.path === '/bare') sock.write('HTTP/1.1 200 OK\nContent-Length: 2\nX-Style: bare\n\nok')
    else if (req.path === '/mixed') sock.write('HTTP/1.1 201 Created\r\nX-A: 1\nContent-Length: 3\r\n\nabc')
    else sock.write(Buffer.from('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nhi\n0\n\n'))
  }, { headersTimeout: '30s' })
  const bare = await get('/bare', { signal: AbortSignal.timeout(5000) })
  t.equal(bare.statusCode, 200)
  t.equal(bare.headers['x-style'], 'bare')
  t.equal(await bare.body.text(), 'ok')
  const mixed = await get('/mixed', { signal: AbortSignal.timeout(5000) })
  t.equal(mixed.statusCode, 201)
  t.equal(mixed.headers['x-a'], '1')
  t.equal(await mixed.body.text(), 'abc')
  const chunked = await get('/chunked', { signal: AbortSignal.timeout(5000) })
  t.equal(await chunked.body.text(), 'hi', 'bare-LF chunk lines too')
})

t.test('bare-LF head split across reads at every byte', async t => {
  const { get } = await rawGateway(t, (_req, sock) => { writeInPieces(sock, Buffer.from('HTTP/1.1 200 OK\nContent-Length: 5\n\nsplit'), 1) })
  const res = await get('/')
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'split')
})

t.test('chunk sizes with many leading zeros, and 16 KiB of chunk extensions and trailers, are relayed', async t => {
  const ext = ';name=' + 'e'.repeat(16 * 1024)
  const trailer = 'x-checksum: ' + 'c'.repeat(16 * 1024) + '\r\n'
  const { get } = await rawGateway(t, (req, sock) => {
    if (req.path === '/zeros') sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' + '0'.repeat(40) + '5\r\nhello\r\n00000000000000000000\r\n\r\n')
    else if (req.path === '/ext') writeInPieces(sock, Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5${ext}\r\nhello\r\n0${ext}\r\n\r\n`), 4096)
    else writeInPieces(sock, Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n5\r\nhello\r\n0\r\n${trailer}${trailer}\r\n`), 4096)
  })
  for (const path of ['/zeros', '/ext', '/trailers']) {
    const res = await get(path)
    t.equal(res.statusCode, 200, path)
    t.equal(await res.body.text(), 'hello', `${path}: body relayed whole`)
  }
})

t.test('an oversized chunk line or trailer section is cut, not buffered without bound', async t => {
  const { get } = await rawGateway(t, (req, sock) => {
    const big = 'z'.repeat(70 * 1024)
    if (req.path === '/ext') writeInPieces(sock, Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;${big}\r\nhello\r\n0\r\n\r\n`), 4096)
    else writeInPieces(sock, Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-big: ${big}\r\n\r\n`), 4096)
  })
  const ext = await get('/ext', { method: 'POST', body: 'x' })
  t.equal(ext.statusCode, 502, 'no body byte had gone out: a 502 answer')
  t.equal(ext.headers['x-wakegate-error'], 'WAKEGATE_UPSTREAM_BAD_RESPONSE')
  await ext.body.text()
  const trailers = await get('/trailers')
  t.equal(trailers.statusCode, 200, 'the body had begun')
  await t.rejects(trailers.body.text(), 'the response is cut, so it cannot look complete')
})

t.test('the response head limit is the same however TCP splits the bytes', async t => {
  const head = (kb: number) => Buffer.from(`HTTP/1.1 200 OK\r\n${Array.from({ length: kb }, (_, i) => `x-h${i}: ${'v'.repeat(1000)}\r\n`).join('')}content-length: 2\r\n\r\nok`)
  const { get } = await rawGateway(t, (req, sock) => {
    const [, size, kb] = req.path.split('/')
    const bytes = head(Number(kb))
    if (size === 'one') sock.write(bytes)
    else writeInPieces(sock, bytes, 4096)
  })
  for (const size of ['one', 'pieces']) {
    const small = await get(`/${size}/50`, { method: 'POST', body: 'x', dispatcher: bigHeads })
    t.equal(small.statusCode, 200, `a 50 KB head in ${size} write(s) → 200`)
    t.equal(await small.body.text(), 'ok')
    const big = await get(`/${size}/70`, { method: 'POST', body: 'x', dispatcher: bigHeads })
    t.equal(big.statusCode, 502, `a 70 KB head in ${size} write(s) → 502`)
    t.equal(big.headers['x-wakegate-error'], 'WAKEGATE_UPSTREAM_BAD_RESPONSE')
    await big.body.text()
  }
})

t.test('a failure before the response head is always a 502 answer, never a bare close', async t => {
  const answers: Record<string, string> = {
    '/partial-head': 'HTTP/1.1 200 OK\r\nContent-Le',
    '/garbage': 'SSH-2.0-OpenSSH_9.2\r\n\r\n',
    '/http2': 'HTTP/2 200\r\ncontent-length: 0\r\n\r\n',
    '/bad-status': 'HTTP/1.1 20 OK\r\ncontent-length: 0\r\n\r\n',
    '/nul-in-header': 'HTTP/1.1 200 OK\r\nx-a: a\x00b\r\ncontent-length: 0\r\n\r\n',
    '/empty': ''
  }
  const { get } = await rawGateway(t, (req, sock) => { sock.end(Buffer.from(answers[req.path], 'latin1')) })
  await (await get('/healthz')).body.text() // wake the env: a navigation to an asleep one gets the waking page
  for (const path of Object.keys(answers)) {
    for (const method of ['GET', 'POST']) {
      const res = await get(path, { method, ...(method === 'POST' ? { body: 'x' } : {}), headers: { accept: 'text/html' } })
      t.equal(res.statusCode, 502, `${method} ${path} → 502`)
      t.match(res.headers['content-type'], /text\/html/, `${method} ${path}: an error page`)
      await res.body.text()
    }
  }
})
