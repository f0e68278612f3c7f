// The access gate's own cost per request, in one process without sockets: AccessGate.check on
// request objects shaped like wrk's (section 9's configs (b) and (c)), best of 7 passes.
//   node gate-micro.mjs   → sends { ipNs, cookieNs, cookieForwardNs } over IPC (or prints it)
// Load is too noisy on a shared machine to resolve a few percent; this is the part the gate adds.
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const dist = p => import(join(ROOT, 'dist', p))
const { validateConfig } = await dist('config/load.js')
const { createAccess } = await dist('access/index.js')
const { ClientClassifier } = await dist('proxy/clients.js')
const { createLogger } = await dist('log.js')

const SECRET = 'bench-secret-0123456789'
const log = createLogger('warn')
const config = (access, appAccess) => validateConfig({
  listen: { host: '127.0.0.1', port: 0 },
  admin: { enabled: false },
  log: { level: 'warn' },
  ...(access ? { access } : {}),
  apps: [{ name: 'bench', host: 'pr-{pr}.bench.test', port: 3000, prs: [{ number: 1 }], access: appAccess, backend: { kind: 'local', command: 'true' } }]
}, {}, ROOT)

/** What the HTTP parser hands the gate for a wrk request (fresh strings each time, as parsed). */
function request (cookie) {
  const rawHeaders = ['Host', 'pr-1.bench.test']
  const headers = { host: 'pr-1.bench.test' }
  if (cookie !== undefined) {
    const c = (' ' + cookie).slice(1)
    rawHeaders.push('cookie', c)
    headers.cookie = c
  }
  return { url: '/', method: 'GET', headers, rawHeaders, socket: { remoteAddress: '127.0.0.1' } }
}

async function measure (access, appAccess, withCookie) {
  const cfg = config(access, appAccess)
  const a = createAccess(cfg, log, new ClientClassifier(cfg.proxy.previewBots))
  await a.ready
  const policy = a.gate.policy('bench')
  if (policy === undefined) throw new Error('no policy')
  let cookie
  if (withCookie) cookie = `${a.cookieName}=${a.gate.sealer.seal({ via: 'bypass', host: 'bench/1', exp: Date.now() + 3_600_000 })}; theme=dark`
  const n = 100_000
  let best = Infinity
  for (let pass = 0; pass < 7; pass++) {
    const reqs = Array.from({ length: n }, () => request(cookie))
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) if (a.gate.check(reqs[i], policy, 'bench/1') !== true) throw new Error('refused')
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n)
    if (withCookie && reqs[0].headers.cookie !== 'theme=dark' && !appAccess.forwardCredentials) throw new Error(`cookie not stripped: ${reqs[0].headers.cookie}`)
  }
  await a.close()
  return best
}

const key = { sessionKey: '5eed'.repeat(16) }
const out = {
  ipNs: await measure(undefined, { ip: ['127.0.0.0/8'] }, false),
  cookieNs: await measure(key, { bypass: { secrets: [SECRET] } }, true),
  cookieForwardNs: await measure(key, { bypass: { secrets: [SECRET] }, forwardCredentials: true }, true)
}
if (process.send) process.send(out)
else console.log(JSON.stringify(out))
process.exit(0)
