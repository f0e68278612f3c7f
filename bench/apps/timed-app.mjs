// Review app for the wake benchmarks: /healthz turns healthy READY_AFTER_MS after the
// process started, and every answer carries that exact moment (x-healthy-at, epoch ms),
// so the runner can measure "task healthy → first proxied byte".
//   READY_AFTER_MS=500        healthy 500 ms after start
//   READY_AFTER_MS=300-1300   a random moment in that range (so wakes sample every phase
//                             of the readiness probe's schedule)
import { createServer } from 'node:http'

const started = performance.timeOrigin
const [lo, hi] = String(process.env.READY_AFTER_MS || '0').split('-').map(Number)
const readyAfter = hi === undefined ? lo : lo + Math.random() * (hi - lo)
let healthyAt = started + readyAfter
const server = createServer((req, res) => {
  const now = performance.timeOrigin + performance.now()
  if (req.url === '/healthz') {
    const ok = now >= healthyAt
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' })
    res.end(ok ? 'ok' : 'starting')
    return
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'x-healthy-at': healthyAt.toFixed(3) })
  res.end('ok\n')
})
server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  // Not healthy before it can answer at all.
  healthyAt = Math.max(healthyAt, performance.timeOrigin + performance.now())
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
