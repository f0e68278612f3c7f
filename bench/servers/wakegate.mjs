// Runs the compiled gateway (dist/) for the benchmarks, in its own process.
//   node wakegate.mjs '<json spec>'
// spec: {
//   backend: 'fixed' | 'local',
//   routes?: { [pr]: port }        fixed: every task of PR n is the server already on that port
//   command?: string, env?: {}     local: the app each task runs
//   prs: number[], wake?: number[], workers?: number
//   redis?: { url, keyPrefix }     a replica on the redis store; it leads when it is the first
//   access?: {}, appAccess?: {}    the top-level access section and the app's policy
//   public?: {}, limits?: {}       the public and limits sections (e.g. limits: { wakesPerMinute: 0 })
//   tls?: {}                       listen.tls (certFile, keyFile, reloadInterval, …): the public listener over HTTPS
// }
// Sections absent from the spec are left out of the config, so a build from before they
// existed (--baseline) still accepts it.
// Talks to the runner over IPC: { cmd: 'stats' | 'sleep' | 'wake', pr? } → reply with { id, … };
// under tls, stats also gives the serial of the certificate in use and how many were applied
// and refused.
// With workers > 1 this process is the cluster primary; the workers run dist/cluster/worker-main.js.
import { fileURLToPath } from 'node:url'
import { request } from 'node:http'
import { dirname, join } from 'node:path'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
// WAKEGATE_BENCH_DIST: another build (npm run bench -- --baseline REV).
const DIST = process.env.WAKEGATE_BENCH_DIST ?? join(ROOT, 'dist')
const dist = p => import(join(DIST, p))

/** Every task of a PR is the server already listening on routes[pr]: no process to start. */
class FixedBackend {
  kind = 'fixed'
  seq = 0
  starts = 0
  constructor (routes) { this.routes = routes }
  async start (spec) {
    this.starts++
    return { id: `fixed-${++this.seq}`, app: spec.app, pr: spec.pr, sha: spec.sha, generation: spec.generation }
  }

  async describe (refs) {
    return refs.map(ref => ({ ref, phase: 'running', endpoint: { host: '127.0.0.1', port: Number(this.routes[ref.pr]) } }))
  }

  async stop () {}
  async list () { return [] }
  async close () {}
}

/** Counts starts of a real backend (the local one). */
class Counting {
  starts = 0
  constructor (inner) { this.inner = inner; this.kind = inner.kind }
  start (spec) { this.starts++; return this.inner.start(spec) }
  describe (refs) { return this.inner.describe(refs) }
  stop (ref, reason) { return this.inner.stop(ref, reason) }
  list () { return this.inner.list() }
  close () { return this.inner.close() }
}

async function main () {
  const spec = JSON.parse(process.argv[2])
  const { validateConfig } = await dist('config/load.js')
  const { createBackend } = await dist('backends/index.js')
  const config = validateConfig({
    listen: { host: '127.0.0.1', port: spec.port ?? 0, ...(spec.tls ? { tls: spec.tls } : {}) },
    admin: { enabled: false },
    log: { level: process.env.WAKEGATE_BENCH_LOG ?? 'warn' },
    ...(spec.workers ? { workers: spec.workers } : {}),
    ...(spec.redis ? { store: { kind: 'redis', url: spec.redis.url, keyPrefix: spec.redis.keyPrefix, leaseTtl: '1s' } } : {}),
    ...(spec.access ? { access: spec.access } : {}),
    ...(spec.public ? { public: spec.public } : {}),
    ...(spec.limits ? { limits: spec.limits } : {}),
    apps: [{
      name: 'bench',
      host: 'pr-{pr}.bench.test',
      port: 3000,
      health: { path: '/healthz' },
      idleTimeout: '1h',
      holdTimeout: '60s',
      startTimeout: '30s',
      env: spec.env ?? {},
      ...(spec.appAccess ? { access: spec.appAccess } : {}),
      prs: spec.prs.map(n => ({ number: n })),
      backend: spec.backend === 'local'
        ? { kind: 'local', command: spec.command, stopGrace: '1s' }
        : { kind: 'local', command: 'true' } // replaced by the fixed backend below
    }]
  }, {}, ROOT)
  const backend = spec.backend === 'local'
    ? new Counting(await createBackend(config.apps[0], (await dist('log.js')).createLogger('warn')))
    : new FixedBackend(spec.routes)
  const backends = new Map([['bench', backend]])

  let manager, url, close, gateway, certs
  if (spec.redis) {
    // A replica: the hot path reads its mirror; the leader (this one, or the first) wakes.
    const { startReplica } = await dist('replicas/replica.js')
    const r = await startReplica(config, { backends })
    if (spec.lead) while (!r.isLeader()) await new Promise(resolve => setTimeout(resolve, 20))
    manager = r.leader?.manager
    url = r.url
    close = () => r.close()
  } else if (spec.workers && spec.workers > 1) {
    const { startCluster } = await dist('cluster/primary.js')
    const c = await startCluster(config, { backends, workers: spec.workers })
    manager = c.manager
    url = c.url
    close = () => c.close()
  } else {
    const { createWakegate } = await dist('server.js')
    const wg = await createWakegate(config, { backends })
    await wg.listen()
    manager = wg.manager
    gateway = wg.gateway
    certs = wg.listener?.certs
    url = wg.url
    close = () => wg.close()
  }
  const envOf = pr => manager.envs.get(`bench/${pr}`)
  for (const pr of spec.wake ?? []) await manager.wake(envOf(pr), 'bench')
  // A follower replica serves what the leader woke once its mirror has the route.
  for (const pr of spec.waitFor ?? []) {
    const status = () => new Promise(resolve => {
      const req = request(`${url}/`, { headers: { host: `pr-${pr}.bench.test` } }, res => { res.resume(); res.once('end', () => resolve(res.statusCode)) })
      req.once('error', () => resolve(0))
      req.end()
    })
    while (await status() !== 200) await new Promise(resolve => setTimeout(resolve, 50))
  }

  // Certificates taken into use after the first (a swap of listen.tls's files applied), and
  // changed files refused as no usable pair (read between the certificate's rename and the
  // key's, say; the watcher's notApplied, wrapped where a build has it).
  let certsApplied = 0
  let certsRefused = 0
  if (certs) {
    const next = certs.onApplied
    certs.onApplied = pair => { certsApplied++; next?.(pair) }
    if (typeof certs.notApplied === 'function') {
      const refuse = certs.notApplied.bind(certs)
      certs.notApplied = err => { certsRefused++; refuse(err) }
    }
  }

  const handlers = {
    stats: ({ pr }) => !manager ? { rss: process.memoryUsage().rss } : ({ starts: manager.counters.starts, backendStarts: backend.starts, rss: process.memoryUsage().rss, readyAt: pr ? envOf(pr)?.readyAt : undefined, requests: gateway?.counters.requests, gated: gateway?.gated, gate: gateway?.access?.gate.counters, ...(certs ? { certSerial: certs.pair.cert.serialNumber, certsApplied, certsRefused } : {}) }),
    wake: async ({ pr }) => { await manager.wake(envOf(pr), 'bench'); return {} },
    sleep: async ({ pr }) => {
      const env = envOf(pr)
      manager.sleep(env, 'bench')
      const until = Date.now() + 10_000
      while (env.state !== 'asleep' && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 5))
      return { state: env.state }
    }
  }
  process.on('message', msg => {
    Promise.resolve(handlers[msg.cmd](msg)).then(r => process.send({ id: msg.id, ...r }), err => process.send({ id: msg.id, error: String(err) }))
  })
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    close().finally(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('disconnect', stop)
  process.send({ ready: true, port: Number(new URL(url).port), pid: process.pid })
}

main().catch(err => { console.error(err); process.exit(1) })
