// The benchmarks' open-loop generator (bench/lib/open-loop.mjs), against real servers: it
// offers the rate it is asked for, and a server slower than that rate shows as growing
// latency rather than as fewer requests sent (no coordinated omission).
import t from 'tap'
import { createServer, type Server } from 'node:http'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { AddressInfo } from 'node:net'

const SCRIPT = fileURLToPath(new URL('../bench/lib/open-loop.mjs', import.meta.url))

interface Result { rps: number, p50: number, p99: number, requests: number, errors: number, non2xx: number, backlog: number }

function openLoop (port: number, rate: number, connections: number): Promise<Result> {
  const spec = { url: `http://127.0.0.1:${port}/`, host: 'pr-1.bench.test', rate, duration: 1, connections }
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SCRIPT, JSON.stringify(spec)], { timeout: 30_000 }, (err, out) => {
      if (err) reject(err)
      else resolve(JSON.parse(out) as Result)
    })
  })
}

async function serve (delayMs: number, opts: { closeEvery?: number } = {}): Promise<{ server: Server, port: number, hosts: Set<string> }> {
  const hosts = new Set<string>()
  let n = 0
  const server = createServer((req, res) => {
    hosts.add(req.headers.host ?? '')
    const close = opts.closeEvery !== undefined && ++n % opts.closeEvery === 0
    const answer = () => {
      res.writeHead(200, { 'content-length': '5', ...(close ? { connection: 'close' } : {}) })
      res.end('hello')
    }
    if (delayMs > 0) setTimeout(answer, delayMs)
    else answer()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port, hosts }
}

t.test('a fast server gets the offered rate, with the Host asked for', async t => {
  const { server, port, hosts } = await serve(0)
  t.teardown(() => { server.close() })
  const r = await openLoop(port, 500, 10)
  t.ok(r.rps > 450 && r.rps < 550, `about 500 req/s answered (${r.rps})`)
  t.equal(r.errors, 0)
  t.equal(r.non2xx, 0)
  t.ok(r.p50 < 50, `p50 ${r.p50} ms`)
  t.same([...hosts], ['pr-1.bench.test'])
})

t.test('a server slower than the rate: latency grows from when requests were due', async t => {
  // 2 connections × 50 ms per response = 40 req/s of capacity for 200 req/s offered.
  const { server, port } = await serve(50)
  t.teardown(() => { server.close() })
  const r = await openLoop(port, 200, 2)
  t.ok(r.rps < 60, `answered what the server could (${r.rps} req/s)`)
  t.ok(r.backlog > 100, `requests kept falling due while it was busy (backlog ${r.backlog})`)
  t.ok(r.p99 > 500, `p99 counts the wait for a connection (${r.p99} ms), not just the 50 ms service time`)
})

t.test('connections the server closes after a response are replaced, not counted as errors', async t => {
  const { server, port } = await serve(0, { closeEvery: 25 })
  t.teardown(() => { server.close() })
  const r = await openLoop(port, 300, 5)
  t.equal(r.errors, 0)
  t.ok(r.requests > 250, `kept going across reconnects (${r.requests} requests)`)
})
