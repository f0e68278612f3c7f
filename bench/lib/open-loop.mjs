// An open-loop load generator: requests are due at a fixed rate whatever the server does,
// and each one's latency counts from when it was due (a request waiting for a free
// connection waits on the clock, so a slow server cannot hide its queue: no coordinated
// omission). wrk has no fixed-rate mode, wrk2 is not packaged, and autocannon -R sends in
// bursts and reports whole milliseconds.
//   node open-loop.mjs '<json>'   { url, host, headers?, rate, duration, connections } → JSON on stdout
// Speaks only what the benchmarks need: GET, keep-alive, Content-Length responses.
import { connect } from 'node:net'

const o = JSON.parse(process.argv[2])
const url = new URL(o.url)
const extra = Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('')
const request = Buffer.from(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${o.host ?? url.host}\r\n${extra}\r\n`, 'latin1')
const CRLF2 = Buffer.from('\r\n\r\n')

const latencies = []
let errors = 0
let non2xx = 0
let measuring = false
/** Due times of requests that found every connection busy. */
const waiting = []
const idle = []

function open () {
  const c = { sock: connect({ host: url.hostname, port: Number(url.port) }), due: 0, buf: null, need: -1, last: false }
  c.sock.setNoDelay(true)
  c.sock.on('connect', () => { idle.push(c); drain() })
  c.sock.on('data', d => onData(c, d))
  c.sock.on('error', () => {})
  c.sock.on('close', () => {
    if (c.due) errors++
    const i = idle.indexOf(c)
    if (i !== -1) idle.splice(i, 1)
    if (!stopped) setTimeout(open, 10)
  })
}

function onData (c, d) {
  c.buf = c.buf ? Buffer.concat([c.buf, d]) : d
  if (c.need === -1) {
    const end = c.buf.indexOf(CRLF2)
    if (end === -1) return
    const head = c.buf.toString('latin1', 0, end)
    const status = Number(head.slice(9, 12))
    if (status < 200 || status >= 300) non2xx++
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head)
    c.need = end + 4 + (m ? Number(m[1]) : 0)
    // nginx closes a keep-alive connection after keepalive_requests (1,000) responses.
    c.last = /\r\nconnection:\s*close/i.test(head)
  }
  if (c.buf.length < c.need) return
  const now = performance.now()
  if (measuring) latencies.push(now - c.due)
  c.buf = c.buf.length > c.need ? c.buf.subarray(c.need) : null
  c.need = -1
  c.due = 0
  if (c.last) { c.sock.destroy(); return } // reopened on close
  const next = waiting.shift()
  if (next !== undefined) send(c, next)
  else idle.push(c)
}

function send (c, due) {
  c.due = due
  c.sock.write(request)
}

function drain () {
  while (waiting.length > 0 && idle.length > 0) send(idle.pop(), waiting.shift())
}

let stopped = false
for (let i = 0; i < o.connections; i++) open()
await new Promise(resolve => setTimeout(resolve, 200))

// Requests fall due every 1/rate s; a 1 ms tick sends those whose time has come.
const interval = 1000 / o.rate
const warmup = 1000
const start = performance.now()
let sent = 0
const tick = setInterval(() => {
  const now = performance.now()
  measuring = now - start >= warmup
  while (start + sent * interval <= now) {
    const due = start + sent * interval
    sent++
    const c = idle.pop()
    if (c !== undefined) send(c, due)
    else waiting.push(due)
  }
}, 1)

await new Promise(resolve => setTimeout(resolve, warmup + o.duration * 1000))
clearInterval(tick)
stopped = true
const measured = latencies.length
latencies.sort((a, b) => a - b)
const pct = p => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : NaN
process.stdout.write(JSON.stringify({ rps: measured / o.duration, p50: pct(0.5), p99: pct(0.99), requests: measured, errors, non2xx, backlog: waiting.length }) + '\n')
process.exit(0)
