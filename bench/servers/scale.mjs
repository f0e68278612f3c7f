// Scale benchmark, in its own process (run with --expose-gc): memory of 10,000 registered
// asleep envs and of 200 running ones with warm connection pools, the cost of a route
// lookup, and of an idle-reaper tick with and without the asleep envs.
//   node --expose-gc scale.mjs '{"envs":10000,"ports":[…]}'   → result over IPC
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const dist = p => import(join(ROOT, 'dist', p))
const spec = JSON.parse(process.argv[2])

class FixedBackend {
  kind = 'fixed'
  async start () { throw new Error('the scale benchmark starts nothing') }
  async describe (refs) { return refs.map(ref => ({ ref, phase: 'running', endpoint: { host: '127.0.0.1', port: spec.ports[ref.pr - 1] } })) }
  async stop () {}
  async list () { return [] }
  async close () {}
}

function settle () {
  for (let i = 0; i < 4; i++) globalThis.gc()
  return process.memoryUsage()
}

function get (url, host) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, res => { res.resume(); res.on('end', () => resolve(res.statusCode)) })
    req.on('error', reject)
    req.end()
  })
}

/** ns per call of fn(i) over `iterations` calls, best of `runs`. */
function timeNs (fn, iterations, runs = 5) {
  let best = Infinity
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) fn(i)
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / iterations)
  }
  return best
}

async function main () {
  const { validateConfig } = await dist('config/load.js')
  const { createWakegate } = await dist('server.js')
  const { EnvManager } = await dist('lifecycle/manager.js')
  const { MemoryStore } = await dist('stores/memory.js')
  const { HostRouter } = await dist('routing/router.js')
  const config = validateConfig({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { enabled: false },
    log: { level: 'warn' },
    apps: [{ name: 'scale', host: 'pr-{pr}.scale.test', idleTimeout: '1h', backend: { kind: 'local', command: 'true' } }]
  }, {}, ROOT)
  const backends = new Map([['scale', new FixedBackend()]])
  const wg = await createWakegate(config, { backends })
  await wg.listen()
  const { manager, gateway } = wg
  const running = spec.ports.length
  const out = {}

  const m0 = settle()
  for (let pr = 1; pr <= spec.envs; pr++) manager.register('scale', pr, { source: 'bench' })
  await new Promise(resolve => setTimeout(resolve, 100))
  const m1 = settle()
  for (let pr = 1; pr <= running; pr++) {
    const env = manager.envs.get(`scale/${pr}`)
    manager.adopt(env, { id: `t${pr}`, app: 'scale', pr, sha: '0000000', generation: 1 }, { host: '127.0.0.1', port: spec.ports[pr - 1] })
  }
  // One request each through the gateway, so every running env has a warm pool connection.
  for (let pr = 1; pr <= running; pr += 20) {
    await Promise.all(Array.from({ length: Math.min(20, running - pr + 1) }, (_, k) => get(wg.url + '/', `pr-${pr + k}.scale.test`)))
  }
  const m2 = settle()
  out.memory = {
    base: { rss: m0.rss, heapUsed: m0.heapUsed },
    asleep: { rss: m1.rss, heapUsed: m1.heapUsed, addedRss: m1.rss - m0.rss, addedHeap: m1.heapUsed - m0.heapUsed },
    running: { rss: m2.rss, heapUsed: m2.heapUsed, addedRss: m2.rss - m1.rss, addedHeap: m2.heapUsed - m1.heapUsed }
  }

  // Route lookup: Host header → env, as the hot path does it (cached parse + env map).
  const hosts = Array.from({ length: spec.envs }, (_, i) => `pr-${i + 1}.scale.test`)
  const router = gateway.router
  let sink = 0
  const lookup = i => {
    const m = router.match(hosts[i % hosts.length])
    const env = m === null ? undefined : manager.envs.get(m.key)
    if (env !== undefined) sink++
  }
  timeNs(lookup, 200_000, 2)
  out.lookupNs = timeNs(lookup, 2_000_000)
  // First sight of a host (the parse the cache saves): a fresh router per pass.
  let fresh = new HostRouter(config.apps)
  out.lookupUncachedNs = timeNs(i => {
    if (i === 0) fresh = new HostRouter(config.apps)
    const m = fresh.match(hosts[i])
    if (m !== null) sink++
  }, hosts.length)

  // Idle-reaper tick: this manager (10,000 asleep + 200 running) vs one with the same 200
  // running and no asleep env. Both reap only what has a task.
  const small = new EnvManager({ config, backends, store: new MemoryStore(), log: wg.log, reapInterval: 3_600_000 })
  for (let pr = 1; pr <= running; pr++) {
    const env = small.register('scale', pr, { source: 'bench' })
    small.adopt(env, { id: `s${pr}`, app: 'scale', pr, sha: '0000000', generation: 1 }, { host: '127.0.0.1', port: spec.ports[pr - 1] })
  }
  const now = Date.now()
  const tick = mgr => () => mgr.reap(now)
  const a = []
  const b = []
  for (let r = 0; r < 5; r++) {
    a.push(timeNs(tick(manager), 20_000, 1))
    b.push(timeNs(tick(small), 20_000, 1))
  }
  const med = xs => xs.sort((x, y) => x - y)[xs.length >> 1]
  out.reapNs = { withAsleep: med(a), withoutAsleep: med(b), asleep: spec.envs - running, running }
  out.sink = sink
  out.states = { running: [...manager.envs.values()].filter(e => e.state === 'running').length, envs: manager.envs.size }
  await small.close()
  await wg.close()
  process.send(out)
}

main().catch(err => { console.error(err); process.exit(1) })
