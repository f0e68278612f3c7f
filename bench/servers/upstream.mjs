// The upstream every HTTP benchmark shares: a minimal node HTTP server (keep-alive, a
// 200-byte answer), plus /bytes?n= for large downloads, a body sink for uploads and
// /echo-headers (the request headers as JSON, for checks before a run).
//   node upstream.mjs [port]   → reports { ready, port } over IPC (or prints it)
import { createServer } from 'node:http'

const SMALL = Buffer.from('wakegate-bench-'.repeat(14).slice(0, 200))
const CHUNK = Buffer.alloc(64 * 1024, 'wakegate-')

const server = createServer((req, res) => {
  const url = req.url
  if (req.method === 'POST' || req.method === 'PUT') {
    // Upload: count the body, answer with its length once it ended.
    let n = 0
    req.on('data', c => { n += c.length })
    req.on('end', () => {
      const body = `${n}\n`
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) })
      res.end(body)
    })
    return
  }
  if (url.startsWith('/bytes')) {
    const n = Number(url.slice(url.indexOf('n=') + 2)) || 1024
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) })
    let left = n
    const pump = () => {
      while (left > 0) {
        const part = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left)
        left -= part.length
        if (!res.write(part)) { res.once('drain', pump); return }
      }
      res.end()
    }
    pump()
    return
  }
  if (url === '/echo-headers') {
    const body = JSON.stringify(req.headers)
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) })
    res.end(body)
    return
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '200' })
  res.end(SMALL)
})
server.keepAliveTimeout = 65_000
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  const msg = { ready: true, port: server.address().port, pid: process.pid }
  if (process.send) process.send(msg)
  else console.log(JSON.stringify(msg))
})
process.on('SIGTERM', () => process.exit(0))
process.on('disconnect', () => process.exit(0))
