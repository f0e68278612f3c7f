// The upstream connection pool parses responses itself: framing (Content-Length, chunked,
// close-delimited), 1xx, HEAD/204, hop-by-hop headers, connection reuse and the keep-alive
// race, and malformed answers, against a raw TCP upstream that writes exact bytes.
import t from 'tap'
import { rawHttp, sleep } from './support/harness.js'
import { rawGateway } from './support/raw-upstream.js'

t.test('chunked responses, split anywhere, arrive whole; trailers and chunk extensions are read, not forwarded', async t => {
  const { get } = await rawGateway(t, (_req, sock) => {
    const bytes = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\nContent-Type: text/plain\r\n\r\n' +
      '5;ext=1\r\nhello\r\n1\r\n \r\nA\r\nwakegate!!\r\n0\r\nx-sum: 42\r\n\r\n', 'latin1')
    // One byte per write, so every parser state sees a split.
    let i = 0
    const next = () => { if (i < bytes.length) { sock.write(bytes.subarray(i, ++i)); setImmediate(next) } }
    next()
  })
  const res = await get('/')
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'hello wakegate!!')
  t.equal(res.headers.trailer, undefined, 'Trailer header not forwarded')
  t.equal(res.headers['content-type'], 'text/plain')
})

t.test('keep-alive connections are reused; Connection: close ones are not', async t => {
  let closeNext = false
  const { get, up } = await rawGateway(t, (_req, sock) => {
    sock.write(`HTTP/1.1 200 OK\r\ncontent-length: 2\r\n${closeNext ? 'connection: close\r\n' : ''}\r\nok`)
    if (closeNext) sock.end()
  })
  for (let i = 0; i < 10; i++) t.equal(await (await get('/')).body.text(), 'ok')
  t.equal(up.connections(), 2, 'one probe connection + one pooled connection for 10 requests')
  closeNext = true
  await (await get('/')).body.text()
  await (await get('/')).body.text()
  t.equal(up.connections(), 3, 'after Connection: close a new connection is opened')
})

t.test('a close-delimited body is read to the end and its connection dropped', async t => {
  const { get } = await rawGateway(t, (_req, sock) => { sock.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end') })
  const res = await get('/')
  t.equal(await res.body.text(), 'until the end')
  t.equal(await (await get('/')).body.text(), 'until the end', 'next request on a new connection')
})

t.test('Content-Length and Transfer-Encoding together: chunked wins and the connection is not reused', async t => {
  const { get, up } = await rawGateway(t, (_req, sock) => {
    sock.write('HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n')
  })
  const res = await get('/')
  t.equal(await res.body.text(), 'abcd')
  t.equal(res.headers['content-length'], undefined)
  await (await get('/')).body.text()
  t.equal(up.connections(), 3, 'probe + one connection per request')
})

t.test('malformed answers map to 502 without crashing', async t => {
  const answers: Record<string, string> = {
    '/status': 'HTTP/1.1 2x0 OK\r\n\r\n',
    '/version': 'HTTZ/1.1 200 OK\r\ncontent-length: 0\r\n\r\n',
    '/cl': 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc',
    '/fold': 'HTTP/1.1 200 OK\r\nx-a: 1\r\n  folded\r\ncontent-length: 0\r\n\r\n',
    '/space': 'HTTP/1.1 200 OK\r\nx-a : 1\r\ncontent-length: 0\r\n\r\n',
    '/chunk': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'
  }
  const { get } = await rawGateway(t, (req, sock) => { sock.write(answers[req.path]) })
  for (const path of Object.keys(answers)) {
    // /chunk: the broken chunk size comes before any body byte went out, so the stored head is
    // taken back and the client gets a 502 rather than a cut response.
    const res = await get(path).catch(err => ({ statusCode: 0, error: err as Error, body: null }))
    t.equal(res.statusCode, 502, `${path} → 502`)
    if (res.body) await res.body.text()
  }
})

t.test('a broken chunk after body bytes went out cuts the response', async t => {
  const { get } = await rawGateway(t, (_req, sock) => {
    sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n')
    setTimeout(() => sock.write('zz\r\n'), 50)
  })
  const res = await get('/')
  t.equal(res.statusCode, 200)
  await t.rejects(res.body.text(), 'the client sees the truncation')
})

t.test('1xx answers are skipped; HEAD and 204 have no body and keep the connection', async t => {
  const { get, up } = await rawGateway(t, (req, sock) => {
    if (req.path === '/continue') sock.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\ndone')
    else if (req.path === '/nocontent') sock.write('HTTP/1.1 204 No Content\r\n\r\n')
    else sock.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n') // HEAD: length announced, no body
  })
  const a = await get('/continue')
  t.equal(a.statusCode, 201)
  t.equal(await a.body.text(), 'done')
  const b = await get('/head', { method: 'HEAD' })
  t.equal(b.statusCode, 200)
  t.equal(b.headers['content-length'], '1000')
  await b.body.text()
  const c = await get('/nocontent')
  t.equal(c.statusCode, 204)
  await c.body.text()
  t.equal(up.connections(), 2, 'probe + one reused connection')
})

t.test('bytes after a complete response drop the connection (no desync)', async t => {
  const { get, up } = await rawGateway(t, (req, sock) => {
    sock.write(`HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n${req.path === '/extra' ? 'okHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nevil!' : 'ok'}`)
  })
  t.equal(await (await get('/extra')).body.text(), 'ok')
  t.equal(await (await get('/next')).body.text(), 'ok', 'the smuggled answer is never served')
  t.equal(up.connections(), 3)
})

t.test('hop-by-hop response headers, and those Connection names, are dropped', async t => {
  const { get } = await rawGateway(t, (_req, sock) => {
    sock.write('HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nKeep-Alive: timeout=5\r\nX-Private: secret\r\nProxy-Authenticate: Basic\r\nX-Kept: yes\r\ncontent-length: 0\r\n\r\n')
  })
  const res = await get('/')
  await res.body.text()
  t.equal(res.headers['x-private'], undefined)
  t.equal(res.headers['proxy-authenticate'], undefined)
  t.equal(res.headers['x-kept'], 'yes')
  t.equal(res.headers['x-robots-tag'], 'noindex, nofollow')
})

t.test('keep-alive race: a GET on a connection the upstream just closed is sent again; a POST is not', async t => {
  const { get } = await rawGateway(t, (req, sock) => {
    // Every connection answers once, then drops the next request unanswered.
    if (req.nth > 1) { sock.destroy(); return }
    sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${req.body.length || 2}\r\n\r\n${req.body.length ? req.body : 'ok'}`)
  })
  t.equal(await (await get('/')).body.text(), 'ok')
  const again = await get('/')
  t.equal(again.statusCode, 200, 'GET replayed on a fresh connection')
  await again.body.text()
  const post = await get('/', { method: 'POST', body: 'data' })
  t.equal(post.statusCode, 502, 'POST with a body is not replayed')
  await post.body.text()
})

t.test('a body cut short by the upstream cuts the client response', async t => {
  const { get } = await rawGateway(t, (_req, sock) => { sock.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly a part') })
  const res = await get('/')
  t.equal(res.statusCode, 200)
  await t.rejects(res.body.text(), 'client sees the truncation')
})

t.test('chunked uploads are re-chunked; Content-Length uploads stream as they are', async t => {
  const { h } = await rawGateway(t, (req, sock) => {
    const info = JSON.stringify({ te: req.headers['transfer-encoding'] ?? null, cl: req.headers['content-length'] ?? null, body: req.body.toString() })
    sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(info)}\r\n\r\n${info}`)
  })
  const chunked = await rawHttp(h.port, 'POST /up HTTP/1.1\r\nHost: pr-1.review.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n')
  t.same(JSON.parse(chunked.body), { te: 'chunked', cl: null, body: 'abcdefg' })
  const fixed = await rawHttp(h.port, 'POST /up HTTP/1.1\r\nHost: pr-1.review.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello')
  t.same(JSON.parse(fixed.body), { te: null, cl: '5', body: 'hello' })
})

t.test('a client that leaves mid-body closes its upstream connection', async t => {
  let upstreamClosed = false
  const { get } = await rawGateway(t, (_req, sock) => {
    sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n')
    const timer = setInterval(() => sock.write('4\r\ntick\r\n'), 10)
    sock.on('close', () => { clearInterval(timer); upstreamClosed = true })
  })
  const ac = new AbortController()
  const res = await get('/', { signal: ac.signal })
  t.equal(res.statusCode, 200)
  await sleep(50)
  ac.abort()
  await res.body.text().catch(() => {})
  for (let i = 0; i < 40 && !upstreamClosed; i++) await sleep(25)
  t.ok(upstreamClosed, 'upstream connection closed')
})

t.test('concurrent large bodies share the read buffer without mixing bytes; a slow reader gets backpressure', async t => {
  const { createHash, randomBytes } = await import('node:crypto')
  const bodies = Array.from({ length: 6 }, () => randomBytes(3 * 1024 * 1024 + 123))
  const { get } = await rawGateway(t, (req, sock) => {
    const body = bodies[Number(req.path.slice(1))]
    sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`)
    // Written in uneven pieces so reads of different connections interleave.
    let off = 0
    const next = () => {
      while (off < body.length) {
        const n = Math.min(body.length - off, 1000 + Math.floor(Math.random() * 200_000))
        const ok = sock.write(body.subarray(off, off + n))
        off += n
        if (!ok) { sock.once('drain', next); return }
      }
    }
    next()
  })
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
  const results = await Promise.all(bodies.map(async (_, i) => {
    const res = await get(`/${i}`)
    const hash = createHash('sha256')
    let n = 0
    for await (const c of res.body) {
      hash.update(c as Buffer)
      n += (c as Buffer).length
      if (i === 0) await sleep(2) // a slow reader: its upstream must wait, not pile up
    }
    return { n, hex: hash.digest('hex') }
  }))
  for (let i = 0; i < bodies.length; i++) {
    t.equal(results[i].n, bodies[i].length, `body ${i} length`)
    t.equal(results[i].hex, sha(bodies[i]), `body ${i} intact`)
  }
})
