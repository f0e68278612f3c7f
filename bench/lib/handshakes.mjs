// New TLS connections, each a full handshake: a GET with `Connection: close` on a fresh
// connection that offers no session (tls.connect without `session`, so none is resumed), as
// fast as the server takes them with `connections` in flight, or at a fixed `rate` (new
// connections per second, at most `connections` in flight) beside other load.
// wrk cannot measure this: with `Connection: close` it reconnects through SSL_clear, which keeps
// the TLS session, so many of its new connections resume (no certificate, no signature; half
// of them against a Node https server in a check).
//   node handshakes.mjs '<json>'
//     { port, host, path?, connections, duration, rate?, ca? }  → JSON on stdout
// The first half second is not measured; `total` counts it too.
// host is the SNI name and the Host header. With `ca` (PEM) the certificate is verified for
// host as a browser would (a failure counts as a handshake error), and the serials served are
// counted. Speaks only what the benchmarks need: Content-Length responses.
import { connect, createSecureContext } from 'node:tls'

const o = JSON.parse(process.argv[2])
const request = Buffer.from(`GET ${o.path ?? '/'} HTTP/1.1\r\nHost: ${o.host}\r\nConnection: close\r\n\r\n`, 'latin1')
const CRLF2 = Buffer.from('\r\n\r\n')
const TIMEOUT = 10_000
// One context for every connection: without it tls.connect builds one each time, which costs
// this client more than the handshake (OpenSSL 3). Sharing it resumes nothing: a client
// resumes only the session it is handed, and none is.
const secureContext = createSecureContext(o.ca ? { ca: o.ca } : {})

const latencies = []
let ok = 0
/** Completed, warm-up included (what the server's CPU time is divided by). */
let total = 0
/** Connections that failed after the handshake (reset, closed before a whole response, timed out). */
let errors = 0
/** Connections whose handshake failed (refused, reset, certificate not trusted). */
let handshakeErrors = 0
let non2xx = 0
let resumed = 0
let inflight = 0
let started = 0
let measuring = false
let stopped = false
const serials = {}
const codes = {}
const versions = {}

function fail (handshake, err) {
  if (handshake) handshakeErrors++
  else errors++
  const code = err?.code ?? err?.message ?? 'closed'
  codes[code] = (codes[code] ?? 0) + 1
}

function one () {
  inflight++
  started++
  const t0 = performance.now()
  const counted = measuring
  let handshook = false
  let done = false
  let buf = null
  let need = -1
  const sock = connect({
    host: '127.0.0.1',
    port: o.port,
    servername: o.host,
    ALPNProtocols: ['http/1.1'],
    secureContext,
    rejectUnauthorized: Boolean(o.ca)
  })
  const finish = (err, handshake) => {
    if (done) return
    done = true
    clearTimeout(timer)
    inflight--
    // Failures count from the first connection on, warm-up included: none is expected.
    if (err !== undefined) fail(handshake, err)
    sock.destroy()
    next()
  }
  const timer = setTimeout(() => finish(new Error('timeout'), !handshook), TIMEOUT)
  sock.setNoDelay(true)
  sock.once('secureConnect', () => {
    handshook = true
    if (counted) {
      if (sock.isSessionReused()) resumed++
      const v = sock.getProtocol()
      versions[v] = (versions[v] ?? 0) + 1
      if (o.ca) {
        const s = sock.getPeerCertificate().serialNumber
        serials[s] = (serials[s] ?? 0) + 1
      }
    }
    sock.write(request)
  })
  sock.on('data', d => {
    buf = buf ? Buffer.concat([buf, d]) : d
    if (need === -1) {
      const end = buf.indexOf(CRLF2)
      if (end === -1) return
      const head = buf.toString('latin1', 0, end)
      const status = Number(head.slice(9, 12))
      if (status < 200 || status >= 300) non2xx++
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head)
      need = end + 4 + (m ? Number(m[1]) : 0)
    }
    if (buf.length < need) return
    total++
    if (counted) { ok++; latencies.push(performance.now() - t0) }
    finish()
  })
  sock.on('error', err => finish(err, !handshook))
  sock.on('close', () => finish(new Error('closed before the response'), !handshook))
}

let t0 = 0
function next () {
  if (stopped) return
  if (o.rate === undefined) { while (inflight < o.connections) one(); return }
  // Fixed rate: connections fall due every 1/rate s; one the in-flight bound holds back is dropped.
  const due = Math.floor((performance.now() - t0) * o.rate / 1000)
  while (started < due && inflight < o.connections) one()
  if (started < due) started = due
}

// Half a second unmeasured: the first connections meet a cold server (its JIT, the pool to the upstream).
const warmup = 500
t0 = performance.now()
const tick = o.rate === undefined ? undefined : setInterval(next, 1)
next()
await new Promise(resolve => setTimeout(resolve, warmup))
measuring = true
const from = performance.now()
await new Promise(resolve => setTimeout(resolve, o.duration * 1000))
const elapsed = (performance.now() - from) / 1000
measuring = false
stopped = true
clearInterval(tick)
latencies.sort((a, b) => a - b)
const pct = p => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : NaN
process.stdout.write(JSON.stringify({ rps: ok / elapsed, p50: pct(0.5), p99: pct(0.99), requests: ok, total, errors, handshakeErrors, non2xx, resumed, serials, codes, versions }) + '\n')
process.exit(0)
