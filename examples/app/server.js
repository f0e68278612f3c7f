// A tiny review app for the quick start and the tests: a page showing the PR it serves,
// a WebSocket echo, a health endpoint, and a few knobs driven by environment variables.
//   PORT          port to listen on (set by the backend)
//   PR_NUMBER, BRANCH, GIT_SHA   what this task serves (set by the backend)
//   READY_AFTER_MS   answer /healthz with 503 until this long after start (default 0)
//   EXIT_AFTER_MS    exit with code 3 this long after start (simulates a crash)
import { createServer } from 'node:http'
import { createHash } from 'node:crypto'

const port = Number(process.env.PORT || 3000)
const started = Date.now()
const readyAfter = Number(process.env.READY_AFTER_MS || 0)
const info = {
  pr: process.env.PR_NUMBER || '?',
  branch: process.env.BRANCH || '?',
  sha: process.env.GIT_SHA || '?',
  pid: process.pid,
  port
}

function page () {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Review app · PR #${info.pr}</title></head>
<body style="font:16px system-ui;margin:3rem">
<h1 id="title">Review app for PR #${info.pr}</h1>
<p>Branch <code id="branch">${info.branch}</code> at <code id="sha">${info.sha}</code></p>
<p>WebSocket: <span id="ws">connecting…</span></p>
<script>
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws')
ws.onopen = () => ws.send('hello')
ws.onmessage = (e) => { document.getElementById('ws').textContent = 'echo: ' + e.data }
ws.onerror = () => { document.getElementById('ws').textContent = 'error' }
</script></body></html>`
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x')
  if (url.pathname === '/healthz') {
    const ok = Date.now() - started >= readyAfter
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' })
    return res.end(ok ? 'ok' : 'starting')
  }
  if (url.pathname === '/info') {
    res.writeHead(200, { 'content-type': 'application/json' })
    return res.end(JSON.stringify({ ...info, headers: req.headers, url: req.url }))
  }
  if (url.pathname === '/echo') {
    // Streams the request body back as it arrives, with its checksum as a trailer.
    const hash = createHash('sha256')
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-pr': info.pr, trailer: 'x-sha256' })
    req.on('data', (c) => { hash.update(c); res.write(c) })
    req.on('end', () => { res.addTrailers({ 'x-sha256': hash.digest('hex') }); res.end() })
    return
  }
  if (url.pathname === '/bytes') {
    // /bytes?n=1048576 — n bytes of a repeating pattern, streamed.
    const n = Number(url.searchParams.get('n') || 1024)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) })
    const chunk = Buffer.alloc(64 * 1024, 'wakegate-')
    let left = n
    const pump = () => {
      while (left > 0) {
        const part = left >= chunk.length ? chunk : chunk.subarray(0, left)
        left -= part.length
        if (!res.write(part)) return res.once('drain', pump)
      }
      res.end()
    }
    return pump()
  }
  if (url.pathname === '/events') {
    // Server-sent events: the task's SHA every 100 ms, until the client goes.
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    const timer = setInterval(() => res.write(`data: ${info.sha}\n\n`), 100)
    res.write(`data: ${info.sha}\n\n`)
    req.on('close', () => clearInterval(timer))
    return
  }
  if (url.pathname === '/slow') {
    const ms = Number(url.searchParams.get('ms') || 1000)
    setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`slept ${ms}\n`) }, ms)
    return
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-pr': info.pr, 'x-sha': info.sha })
  res.end(page())
})

// Minimal RFC 6455 echo server, so the example has no dependencies.
server.on('upgrade', (req, socket) => {
  const key = req.headers['sec-websocket-key']
  if (!key || (req.headers.upgrade || '').toLowerCase() !== 'websocket') return socket.destroy()
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`)
  socket.setNoDelay(true)
  let buf = Buffer.alloc(0)
  socket.on('data', (data) => {
    buf = Buffer.concat([buf, data])
    for (;;) {
      if (buf.length < 2) return
      const op = buf[0] & 0x0f
      const masked = (buf[1] & 0x80) !== 0
      let len = buf[1] & 0x7f
      let off = 2
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4 } else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10 }
      const maskOff = off
      if (masked) off += 4
      if (buf.length < off + len) return
      const payload = Buffer.from(buf.subarray(off, off + len))
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskOff + (i % 4)]
      buf = buf.subarray(off + len)
      if (op === 0x8) { socket.end(frame(0x8, payload)); return }
      if (op === 0x9) { socket.write(frame(0xA, payload)); continue }
      if (op === 0x1 || op === 0x2) socket.write(frame(op, payload))
    }
  })
  socket.on('error', () => socket.destroy())
})

function frame (op, payload) {
  const len = payload.length
  const head = len < 126 ? Buffer.from([0x80 | op, len]) : len < 65536 ? Buffer.from([0x80 | op, 126, len >> 8, len & 255]) : Buffer.concat([Buffer.from([0x80 | op, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b })()])
  return Buffer.concat([head, payload])
}

if (process.env.EXIT_AFTER_MS) {
  setTimeout(() => { console.error('example app: exiting as asked (EXIT_AFTER_MS)'); process.exit(3) }, Number(process.env.EXIT_AFTER_MS))
}
process.on('SIGTERM', () => server.close(() => process.exit(0)))
server.listen(port, process.env.HOST || '127.0.0.1', () => {
  console.log(`example app for PR #${info.pr} (${info.branch}@${info.sha}) listening on ${port}`)
})
