// 9. Access policy on the hot path: requests to a running env through the same gateway build
// with (a) no policy, (b) an address policy (`ip: ['127.0.0.0/8']`, every request matched)
// and (c) a session-cookie policy (a bypass secret's cookie, sent with an app cookie that the
// gate strips out before the request goes on), on the same upstream, interleaved in rounds
// (each round starting one config later). Two more runs take (c) apart and size the noise:
// (a+) is (a) sent (c)'s Cookie header, so (c)/(a+) is the gate's own cost on identical
// requests and (a+)/(a) the header's; (a′) is a second no-policy process, so (a′)/(a) is what
// two identical gateways differ by in the same run.
// Target (the access-control issue): throughput with a policy within 5 % of none (≥ 0.95).
import { join } from 'node:path'
import { request } from 'undici'
import { startNode, runNodeOnce, sleep, type Server } from '../lib/proc.js'
import { waitQuiet } from '../lib/quiet.js'
import { interleaved, ratio, rowsTable, type Target, type ThroughputRow } from './throughput.js'
import { summarize, round, fmtInt, table, type Summary } from '../lib/stats.js'
import { SERVERS, HOST, type Context, type SectionResult } from '../lib/context.js'

const TARGET = 0.95
const SECRET = 'bench-secret-0123456789'
/** A fixed key (32 bytes as hex): the cookie only has to open in this run. */
const SESSION_KEY = '5eed'.repeat(16)
const APP_COOKIE = 'theme=dark'

interface GateStats { requests?: number, gated?: boolean, gate?: { allowed: number, refused: number } }

async function get (port: number, path: string, headers: Record<string, string> = {}) {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host: HOST, accept: 'application/json', ...headers } })
  const body = await res.body.text()
  return { status: res.statusCode, headers: res.headers, body }
}

/** The bypass cookie as the gate sets it: `?wakegate-bypass=SECRET` → 302 + Set-Cookie. */
async function bypassCookie (wg: Server): Promise<string> {
  for (let i = 0; ; i++) {
    const r = await get(wg.port, `/?wakegate-bypass=${SECRET}`)
    const set = r.headers['set-cookie']
    const first = Array.isArray(set) ? set[0] : set
    if (r.status === 302 && first) return first.split(';')[0].trim()
    // The session sealer opens asynchronously after start: until then no cookie is set.
    if (i >= 50) throw new Error(`?wakegate-bypass answered ${r.status} without a cookie: ${r.body.slice(0, 200)}`)
    await sleep(100)
  }
}

export async function access (ctx: Context): Promise<SectionResult> {
  const servers: Server[] = []
  try {
    const upstream = await startNode('upstream', join(SERVERS, 'upstream.mjs'))
    servers.push(upstream)
    const base = { backend: 'fixed', routes: { 1: upstream.port }, prs: [1], wake: [1] }
    const start = async (name: string, extra: Record<string, unknown>) => {
      const s = await startNode(name, join(SERVERS, 'wakegate.mjs'), [JSON.stringify({ ...base, ...extra })])
      servers.push(s)
      return s
    }
    const open = await start('no policy', {})
    const control = await start('no policy (control)', {})
    const ip = await start('ip 127.0.0.0/8', { appAccess: { ip: ['127.0.0.0/8'] } })
    const session = await start('session cookie', { access: { sessionKey: SESSION_KEY }, appAccess: { bypass: { secrets: [SECRET] } } })

    // Before measuring: each config does what it is meant to.
    for (const s of [open, control, ip]) {
      const r = await get(s.port, '/')
      if (r.status !== 200) throw new Error(`${s.name}: GET / answered ${r.status}`)
    }
    const refused = await get(session.port, '/')
    if (refused.status === 200) throw new Error('session cookie: GET / without the cookie was let in; the policy is not on')
    const wakegateCookie = await bypassCookie(session)
    const cookie = `${wakegateCookie}; ${APP_COOKIE}`
    const echoed = await get(session.port, '/echo-headers', { cookie })
    if (echoed.status !== 200) throw new Error(`session cookie: GET with the cookie answered ${echoed.status}`)
    const seen = (JSON.parse(echoed.body) as Record<string, string>).cookie
    if (seen !== APP_COOKIE) throw new Error(`session cookie: the upstream got cookie ${JSON.stringify(seen)}, expected only ${JSON.stringify(APP_COOKIE)}`)
    const gated = await Promise.all([open, ip, session].map(s => s.call<GateStats>('stats')))
    if (gated[0].gated !== false || gated[1].gated !== true || gated[2].gated !== true) throw new Error(`gated: ${gated.map(g => g.gated).join(', ')}; expected false, true, true`)
    ctx.log(`  session cookie: ${wakegateCookie.split('=')[0]}=… (${wakegateCookie.length} bytes) + ${APP_COOKIE}; the upstream sees only ${APP_COOKIE}`)

    // (a) also runs with the same Cookie header as (c): what the header's bytes cost a gateway
    // that only forwards them, so (c)/(a+) is the gate's own work on identical requests.
    const targets: Target[] = [
      { name: '(a) no policy', server: open },
      { name: '(a+) no policy, (c)\'s cookie', server: open, headers: { cookie } },
      { name: '(b) ip 127.0.0.0/8', server: ip },
      { name: '(c) session cookie', server: session, headers: { cookie } },
      { name: '(a′) no policy, again', server: control }
    ]
    const gatedTargets = [2, 3]
    const before = await Promise.all(targets.map(t => t.server.call<GateStats>('stats')))
    // A longer warm-up than section 1's: a gateway still tiering up its JIT code in round 1
    // would show as a few percent, the size of what is measured here.
    const rows = await interleaved(ctx, targets, { rotate: true, warmup: ctx.quick ? 1 : 5 })
    const after = await Promise.all(targets.map(t => t.server.call<GateStats>('stats')))

    // Every request of (b) and (c) passed the gate and was let in.
    const gate = gatedTargets.map(i => {
      const requests = (after[i].requests ?? 0) - (before[i].requests ?? 0)
      const allowed = (after[i].gate?.allowed ?? 0) - (before[i].gate?.allowed ?? 0)
      const refusedN = (after[i].gate?.refused ?? 0) - (before[i].gate?.refused ?? 0)
      return { name: targets[i].name, requests, allowed, refused: refusedN }
    })
    for (const g of gate) {
      if (g.refused > 0 || g.allowed < g.requests) throw new Error(`${g.name}: the gate let in ${g.allowed} of ${g.requests} requests (${g.refused} refused)`)
    }
    const [a, aCookie, b, c, a2] = rows
    const cpuRatio = (x: ThroughputRow, y: ThroughputRow): Summary => summarize(x.cpuUs.runs.map((v, i) => v / y.cpuUs.runs[i]))
    const pairs = [
      { id: 'ipOverNone', label: '(b) ip / (a)', x: b, y: a, target: true },
      { id: 'sessionOverNone', label: '(c) session cookie / (a)', x: c, y: a, target: true },
      { id: 'sessionOverSameBytes', label: '(c) / (a+): the gate alone, same request', x: c, y: aCookie, target: false },
      { id: 'cookieBytes', label: '(a+) / (a): the Cookie header\'s bytes', x: aCookie, y: a, target: false },
      { id: 'controlOverNone', label: '(a′) / (a): noise floor, identical gateways', x: a2, y: a, target: false }
    ].map(p => ({ ...p, rps: ratio(p.x, p.y)!, cpu: cpuRatio(p.x, p.y) }))
    const fmtR = (s: Summary) => `${s.median.toFixed(3)} (${s.min.toFixed(3)}–${s.max.toFixed(3)})`

    // The gate's own work, without sockets (steadier than req/s here), against (a)'s CPU per request.
    await waitQuiet()
    const micro = await runNodeOnce<{ ipNs: number, cookieNs: number, cookieForwardNs: number }>('gate micro', join(SERVERS, 'gate-micro.mjs'))
    const perReqUs = a.cpuUs.median
    const share = (ns: number) => ns / 1000 / perReqUs
    const expect = (ns: number) => 1 / (1 + share(ns))
    const us = (ns: number) => `${(ns / 1000).toFixed(2)} µs`
    const lines = [
      rowsTable(rows),
      '',
      `gate: (b) let in ${fmtInt(gate[0].allowed)} of ${fmtInt(gate[0].requests)} requests, (c) ${fmtInt(gate[1].allowed)} of ${fmtInt(gate[1].requests)}; (c) and (a+) send \`cookie: ${wakegateCookie.split('=')[0]}=…; ${APP_COOKIE}\` (${cookie.length} bytes), behind (c) the upstream gets \`${APP_COOKIE}\``,
      '',
      table([
        ['per-round ratio', 'req/s median (range)', 'CPU µs/req median (range)', `target req/s ≥ ${TARGET}`],
        ...pairs.map(p => [p.label, fmtR(p.rps), fmtR(p.cpu), p.target ? (p.rps.median >= TARGET ? 'ok' : 'BELOW TARGET') : ''])
      ]),
      '',
      `AccessGate.check alone (no sockets, best of 7 × 100,000, on the servers' CPU): ip ${us(micro.ipNs)}, session cookie ${us(micro.cookieNs)} (${us(micro.cookieForwardNs)} with forwardCredentials, i.e. without taking the cookie out);`,
      `against (a)'s ${perReqUs.toFixed(1)} µs of gateway CPU per request that is ${(100 * share(micro.ipNs)).toFixed(1)} % and ${(100 * share(micro.cookieNs)).toFixed(1)} %: req/s ratios of about ${expect(micro.ipNs).toFixed(3)} (b) and ${expect(micro.cookieNs).toFixed(3)} (c) if nothing else differs`
    ]
    return {
      id: 'access',
      title: '9. Access policy on the hot path (env running)',
      text: lines.join('\n'),
      data: {
        rows,
        gate,
        target: TARGET,
        gateCheckNs: micro,
        expectedFromGateCost: { ip: round(expect(micro.ipNs), 3), session: round(expect(micro.cookieNs), 3) },
        ratios: Object.fromEntries(pairs.map(p => [p.id, { rps: round(p.rps.median, 3), cpuUs: round(p.cpu.median, 3) }])),
        ratioRanges: Object.fromEntries(pairs.map(p => [p.id, { rps: p.rps, cpuUs: p.cpu }]))
      }
    }
  } finally {
    for (const s of servers.reverse()) await s.stop()
  }
}
