// 10. TLS termination on the hot path (`listen.tls`), env running, one upstream for all:
// - keep-alive throughput, interleaved in rounds (each round starting one server later):
//   (a) wakegate over plain HTTP, (b) wakegate with `listen.tls`, (c) nginx terminating TLS with
//   the same certificate and proxying to the same upstream over its keepalive pool, (d) nginx
//   over plain HTTP. (b)/(c) is the headline; (b)/(a) and (c)/(d) are what TLS costs each.
//   A handshake happens once per keep-alive connection, so this is mostly record encryption.
// - new connections per second over TLS, (b) against (c): each a full handshake (no session
//   offered) and one request with `Connection: close` (bench/lib/handshakes.mjs; wrk resumes).
//   A full handshake costs the client about what it costs the server, so the server's CPU per
//   connection is compared too: the rate may be the client's limit.
// - certificate rotation under load: a wakegate with `reloadInterval: 200ms` under wrk's
//   keep-alive load plus a stream of new verified connections, its files replaced by the
//   other of two leaves of one CA every so often (as renewal tools do: each file renamed into
//   place), against runs without swaps. Counted: failed requests and handshakes (both must be
//   0), swaps a new connection saw (the new serial), files the gateway refused as no usable
//   pair (the new certificate read before its key was in place), and req/s with swaps over without.
// The certificate is an ECDSA P-256 leaf for *.bench.test (and localhost, 127.0.0.1) of a CA
// made at run time with the openssl CLI (test/support/tls-certs.ts, as the tests make theirs).
// Target (reported, not asserted): (b)/(c) ≥ 0.78. Section 1 holds plain HTTP to wakegate/nginx
// ≥ 0.5 (aim 0.6), so (a)/(d) is printed beside it.
import { join } from 'node:path'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { connect } from 'node:tls'
import { makeCa, makeLeaf, writePair, type Leaf, type TestCa } from '../../test/support/tls-certs.js'
import { cpuMs, sleep, startNode, type Server } from '../lib/proc.js'
import { startNginx } from '../lib/nginx.js'
import { runHandshakes, runLoad, type HandshakeResult, type LoadResult } from '../lib/load.js'
import { undisturbed } from '../lib/quiet.js'
import { interleaved, ratio, rowsTable, type Target, type ThroughputRow } from './throughput.js'
import { summarize, round, fmtInt, fmtMs, fmtRange, table, type Summary } from '../lib/stats.js'
import { SERVERS, HOST, type Context, type SectionResult } from '../lib/context.js'

const TARGET = 0.78
const NAMES = ['*.bench.test', 'localhost']
/** The stream of new connections beside the keep-alive load while certificates rotate. */
const STREAM_RATE = 100
const STREAM_INFLIGHT = 20
const RELOAD_INTERVAL = '200ms'
/** How long a new connection may keep getting the old certificate after a swap. */
const SEEN_WITHIN = 5000

interface Probe { status: number, serial: string, protocol: string, cipher: string, group: string }

/**
 * One new connection as a browser makes it (SNI and Host are HOST, only the test CA trusted):
 * what it negotiated and the serial served; with `get`, the status of a GET on it too.
 */
function probe (port: number, ca: string, get = true): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, servername: HOST, ca, ALPNProtocols: ['http/1.1'] })
    const timer = setTimeout(() => sock.destroy(new Error('probe timed out')), 5000)
    let info: Omit<Probe, 'status'> | undefined
    let head = ''
    sock.once('secureConnect', () => {
      const key = sock.getEphemeralKeyInfo() as { name?: string, type?: string }
      info = { serial: sock.getPeerCertificate().serialNumber, protocol: sock.getProtocol() ?? '?', cipher: sock.getCipher().standardName, group: key.name ?? key.type ?? '?' }
      if (!get) { clearTimeout(timer); sock.destroy(); resolve({ ...info, status: 0 }); return }
      sock.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`)
    })
    sock.on('data', d => {
      head += d.toString('latin1')
      if (head.includes('\r\n') && info) { clearTimeout(timer); sock.destroy(); resolve({ ...info, status: Number(head.slice(9, 12)) }) }
    })
    sock.once('error', err => { clearTimeout(timer); reject(err) })
    sock.once('close', () => { clearTimeout(timer); reject(new Error('closed before an answer')) })
  })
}

const fmtR = (s: Summary, d = 2) => `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`
const perRound = (xs: number[], ys: number[]): Summary => summarize(xs.map((x, i) => x / ys[i]))

interface HandshakeRow {
  name: string
  rps: Summary
  p50: Summary
  p99: Summary
  /** Server CPU per completed connection (µs), upstream excluded. */
  cpuUs: Summary
  /** The client's CPU time over the run's wall time (1 = the whole load core). */
  clientCpu: Summary
  failures: number
  resumed: number
  versions: Record<string, number>
}

/** New connections per second, full handshakes, `connections` in flight, interleaved in rounds. */
async function handshakeRounds (ctx: Context, targets: Target[]): Promise<HandshakeRow[]> {
  const runs = new Map<string, HandshakeResult[]>(targets.map(t => [t.name, []]))
  const cpu = new Map<string, number[]>(targets.map(t => [t.name, []]))
  const client = new Map<string, number[]>(targets.map(t => [t.name, []]))
  for (const t of targets) await runHandshakes({ port: t.server.port, host: HOST, connections: ctx.connections, duration: ctx.quick ? 1 : 2 })
  for (let r = 1; r <= ctx.rounds; r++) {
    const shift = (r - 1) % targets.length
    for (const t of [...targets.slice(shift), ...targets.slice(0, shift)]) {
      let used = 0
      let wall = 1
      const res = await undisturbed(ctx.duration, async () => {
        const before = cpuMs(t.server.pid)
        const t0 = Date.now()
        const x = await runHandshakes({ port: t.server.port, host: HOST, connections: ctx.connections, duration: ctx.duration })
        wall = Date.now() - t0
        used = cpuMs(t.server.pid) - before
        return x
      }, ctx.log)
      runs.get(t.name)!.push(res)
      cpu.get(t.name)!.push(1000 * used / Math.max(1, res.total))
      client.get(t.name)!.push(res.loaderCpuMs / wall)
      const failed = res.errors + res.handshakeErrors + res.non2xx
      ctx.log(`  round ${r}/${ctx.rounds} ${t.name.padEnd(24)} ${fmtInt(res.rps).padStart(6)} new conn/s  p50 ${fmtMs(res.p50)}  p99 ${fmtMs(res.p99)}  client ${(100 * res.loaderCpuMs / wall).toFixed(0)}% CPU${failed ? `  failures ${failed} ${JSON.stringify(res.codes)}` : ''}${res.resumed ? `  resumed ${res.resumed}` : ''}  (others ${(res.noise * 100).toFixed(0)}% CPU)`)
    }
  }
  return targets.map(t => {
    const rs = runs.get(t.name)!
    const versions: Record<string, number> = {}
    for (const x of rs) for (const [v, n] of Object.entries(x.versions)) versions[v] = (versions[v] ?? 0) + n
    return {
      name: t.name,
      rps: summarize(rs.map(x => x.rps)),
      p50: summarize(rs.map(x => x.p50)),
      p99: summarize(rs.map(x => x.p99)),
      cpuUs: summarize(cpu.get(t.name)!),
      clientCpu: summarize(client.get(t.name)!),
      failures: rs.reduce((a, x) => a + x.errors + x.handshakeErrors + x.non2xx, 0),
      resumed: rs.reduce((a, x) => a + x.resumed, 0),
      versions
    }
  })
}

interface SwapResult { serial: string, seenMs: number, probeFailures: number }
interface RotationRun { load: LoadResult, stream: HandshakeResult, swaps: SwapResult[] }

/** Certificate rotation under load: runs with swaps against runs without, alternating. */
async function rotation (ctx: Context, ca: TestCa, leaves: [Leaf, Leaf], upstream: Server, servers: Server[], dir: string) {
  writePair(dir, leaves[0])
  const spec = { backend: 'fixed', routes: { 1: upstream.port }, prs: [1], wake: [1], tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), reloadInterval: RELOAD_INTERVAL } }
  const gw = await startNode(`wakegate https, reloadInterval ${RELOAD_INTERVAL}`, join(SERVERS, 'wakegate.mjs'), [JSON.stringify(spec)])
  servers.push(gw)
  const first = await probe(gw.port, ca.ca)
  if (first.status !== 200 || first.serial !== leaves[0].serial) throw new Error(`rotation gateway: answered ${first.status} with serial ${first.serial}, expected 200 with ${leaves[0].serial}`)
  let inUse = 0
  // Every swap and every failure counts, in runs the noise guard repeats too.
  const swaps: SwapResult[] = []
  const failures = { requests: 0, handshakes: 0, probes: 0 }
  const served = new Set<string>()
  const swap = async (): Promise<SwapResult> => {
    const leaf = leaves[1 - inUse]
    const written = performance.now()
    writePair(dir, leaf)
    inUse = 1 - inUse
    // New connections until one gets the new certificate.
    let seenMs = NaN
    let probeFailures = 0
    while (performance.now() - written < SEEN_WITHIN) {
      try {
        if ((await probe(gw.port, ca.ca, false)).serial === leaf.serial) { seenMs = performance.now() - written; break }
      } catch { probeFailures++ }
      await sleep(20)
    }
    return { serial: leaf.serial, seenMs, probeFailures }
  }
  const totalSwaps = ctx.quick ? 4 : 20
  const perRun = Math.ceil(totalSwaps / ctx.rounds)
  const spacing = ctx.duration * 1000 / (perRun + 1)
  const run = (label: string, n: number) => undisturbed(ctx.duration, async (): Promise<RotationRun & { loaderCpuMs: number }> => {
    const loadP = runLoad(ctx.tools, { url: `https://127.0.0.1:${gw.port}/`, host: HOST, connections: ctx.connections, duration: ctx.duration })
    const streamP = runHandshakes({ port: gw.port, host: HOST, connections: STREAM_INFLIGHT, rate: STREAM_RATE, duration: ctx.duration, ca: ca.ca })
    const done: SwapResult[] = []
    const t0 = Date.now()
    for (let i = 1; i <= n; i++) {
      await sleep(Math.max(0, t0 + i * spacing - Date.now()))
      done.push(await swap())
    }
    const [load, stream] = await Promise.all([loadP, streamP])
    swaps.push(...done)
    failures.requests += load.errors + load.non2xx + stream.errors + stream.non2xx
    failures.handshakes += stream.handshakeErrors
    failures.probes += done.reduce((a, s) => a + s.probeFailures, 0)
    for (const s of Object.keys(stream.serials)) served.add(s)
    const failed = load.errors + load.non2xx + stream.errors + stream.non2xx + stream.handshakeErrors
    ctx.log(`  ${label.padEnd(28)} ${fmtInt(load.rps).padStart(7)} req/s keep-alive, ${fmtInt(stream.rps)} new conn/s${n ? `, ${n} swaps seen after ${done.map(s => Number.isFinite(s.seenMs) ? Math.round(s.seenMs) : '–').join('/')} ms` : ''}${failed ? `  FAILURES ${failed} ${JSON.stringify(stream.codes)}` : ''}`)
    return { load, stream, swaps: done, loaderCpuMs: load.loaderCpuMs + stream.loaderCpuMs }
  }, ctx.log)
  // The same warm-up as the other servers got (its JIT, the pool to the upstream), and a first
  // stream of verified connections.
  await Promise.all([
    runLoad(ctx.tools, { url: `https://127.0.0.1:${gw.port}/`, host: HOST, connections: ctx.connections, duration: ctx.quick ? 1 : 2 }),
    runHandshakes({ port: gw.port, host: HOST, connections: STREAM_INFLIGHT, rate: STREAM_RATE, duration: ctx.quick ? 1 : 2, ca: ca.ca })
  ])
  const before = await gw.call<{ certsApplied?: number, certsRefused?: number }>('stats')
  const steady: RotationRun[] = []
  const rotating: RotationRun[] = []
  for (let r = 1; r <= ctx.rounds; r++) {
    // Alternate which goes first, so neither always meets a fresher machine.
    const order = r % 2 ? ['steady', 'rotating'] : ['rotating', 'steady']
    for (const kind of order) {
      if (kind === 'steady') steady.push(await run(`round ${r}/${ctx.rounds} no swaps`, 0))
      else rotating.push(await run(`round ${r}/${ctx.rounds} ${perRun} swaps`, perRun))
    }
  }
  const after = await gw.call<{ certsApplied?: number, certsRefused?: number, certSerial?: string }>('stats')
  const applied = (after.certsApplied ?? 0) - (before.certsApplied ?? 0)
  const refused = (after.certsRefused ?? 0) - (before.certsRefused ?? 0)
  const seen = swaps.filter(s => Number.isFinite(s.seenMs))
  const seenMs = summarize(seen.map(s => s.seenMs))
  const rps = perRound(rotating.map(x => x.load.rps), steady.map(x => x.load.rps))
  const streamRps = perRound(rotating.map(x => x.stream.rps), steady.map(x => x.stream.rps))
  return {
    swapsWritten: swaps.length,
    swapsSeen: seen.length,
    applied,
    refused,
    finalSerialOk: after.certSerial === leaves[inUse].serial,
    seenMs,
    failures,
    servedSerials: served.size,
    rps,
    streamRps,
    spacing,
    perRun,
    steadyRps: summarize(steady.map(x => x.load.rps)),
    rotatingRps: summarize(rotating.map(x => x.load.rps)),
    streamCompleted: summarize([...steady, ...rotating].map(x => x.stream.requests))
  }
}

export async function tlsSection (ctx: Context): Promise<SectionResult> {
  const servers: Server[] = []
  const dirs: string[] = []
  try {
    const ca = makeCa()
    dirs.push(ca.dir)
    const leaf = makeLeaf(ca, { names: NAMES })
    const other = makeLeaf(ca, { names: NAMES })
    const pairDir = mkdtempSync(join(tmpdir(), 'wakegate-bench-tls-'))
    const rotDir = mkdtempSync(join(tmpdir(), 'wakegate-bench-rot-'))
    dirs.push(pairDir, rotDir)
    const files = writePair(pairDir, leaf)

    const upstream = await startNode('upstream', join(SERVERS, 'upstream.mjs'))
    servers.push(upstream)
    const base = { backend: 'fixed', routes: { 1: upstream.port }, prs: [1], wake: [1] }
    const plain = await startNode('wakegate http', join(SERVERS, 'wakegate.mjs'), [JSON.stringify(base)])
    servers.push(plain)
    // listen.tls as a deployment would have it: reloadInterval left at its default (10 s).
    const tls = await startNode('wakegate https', join(SERVERS, 'wakegate.mjs'), [JSON.stringify({ ...base, tls: files })])
    servers.push(tls)
    const targets: Target[] = [
      { name: '(a) wakegate http', server: plain },
      { name: '(b) wakegate https', server: tls, scheme: 'https' }
    ]
    if (ctx.tools.nginx) {
      const nginxTls = await startNginx(ctx.tools.nginx, upstream.port, { tls: files })
      servers.push(nginxTls)
      const nginxPlain = await startNginx(ctx.tools.nginx, upstream.port)
      servers.push(nginxPlain)
      targets.push({ name: '(c) nginx https', server: nginxTls, scheme: 'https' }, { name: '(d) nginx http', server: nginxPlain })
    }

    // Before measuring: both TLS servers present the leaf and answer through the upstream.
    const negotiated: string[] = []
    for (const t of targets.filter(x => x.scheme === 'https')) {
      const p = await probe(t.server.port, ca.ca)
      if (p.status !== 200 || p.serial !== leaf.serial) throw new Error(`${t.name}: answered ${p.status} with serial ${p.serial}, expected 200 with ${leaf.serial}`)
      negotiated.push(`${t.name.slice(4)}: ${p.protocol} ${p.cipher} ${p.group}`)
    }
    ctx.log(`  negotiated (a new connection with SNI ${HOST}): ${negotiated.join('; ')}`)

    const rows = await interleaved(ctx, targets, { rotate: true })
    const by = (id: string) => rows.find(r => r.name.startsWith(`(${id})`))
    const cpuRatio = (x: ThroughputRow, y: ThroughputRow): Summary => perRound(x.cpuUs.runs, y.cpuUs.runs)
    const pairs = [
      { id: 'wakegateTlsOverNginxTls', label: '(b)/(c) wakegate https / nginx https', x: by('b'), y: by('c'), target: true },
      { id: 'tlsCostWakegate', label: '(b)/(a) wakegate: https / http', x: by('b'), y: by('a'), target: false },
      { id: 'tlsCostNginx', label: '(c)/(d) nginx: https / http', x: by('c'), y: by('d'), target: false },
      { id: 'plainWakegateOverNginx', label: '(a)/(d) wakegate http / nginx http', x: by('a'), y: by('d'), target: false }
    ].filter((p): p is typeof p & { x: ThroughputRow, y: ThroughputRow } => p.x !== undefined && p.y !== undefined)
      .map(p => ({ ...p, rps: ratio(p.x, p.y)!, cpu: cpuRatio(p.x, p.y) }))

    const hsTargets = targets.filter(t => t.scheme === 'https')
    const hsRows = await handshakeRounds(ctx, hsTargets)
    const hsRatio = hsRows.length === 2 ? perRound(hsRows[0].rps.runs, hsRows[1].rps.runs) : undefined
    const hsCpuRatio = hsRows.length === 2 ? perRound(hsRows[1].cpuUs.runs, hsRows[0].cpuUs.runs) : undefined

    const rot = await rotation(ctx, ca, [leaf, other], upstream, servers, rotDir)

    const lines = [
      `keep-alive, -c${ctx.connections}, 200-byte responses; ${negotiated.join('; ')}:`,
      rowsTable(rows),
      '',
      table([
        ['per-round ratio', 'req/s median (range)', 'CPU µs/req median (range)', `target req/s ≥ ${TARGET}`],
        ...pairs.map(p => [p.label, fmtR(p.rps), fmtR(p.cpu), p.target ? (p.rps.median >= TARGET ? 'ok' : 'BELOW TARGET') : ''])
      ]),
      '',
      `new TLS connections, full handshakes (no session offered), one GET with Connection: close each, ${ctx.connections} in flight:`,
      table([
        ['', 'new conn/s median (range)', 'p50', 'p99 median (range)', 'server CPU µs/conn', 'client CPU', 'failures', 'resumed'],
        ...hsRows.map(r => [r.name, fmtRange(r.rps, fmtInt), fmtMs(r.p50.median), fmtRange(r.p99, fmtMs), r.cpuUs.median.toFixed(0), `${(100 * r.clientCpu.median).toFixed(0)} %`, String(r.failures), String(r.resumed)])
      ])
    ]
    if (hsRatio && hsCpuRatio) {
      lines.push('', `(b)/(c) wakegate https / nginx https, new conn/s:                       ${fmtR(hsRatio)}`)
      lines.push(`(b)/(c) new connections per second of server CPU (1 / CPU µs per conn): ${fmtR(hsCpuRatio)}`)
      const bound = hsRows.filter(r => r.clientCpu.median >= 0.9)
      // A full handshake costs the client about as much as the server (OpenSSL 3 parsing the
      // certificate, key shares): one load core may not keep a server busy.
      if (bound.length) lines.push(`the client used ≥ 90 % of its core against ${bound.map(r => r.name).join(' and ')}: there the rate is the client's limit, so the rate ratio says little and the CPU one is the comparison`)
    }
    const f = rot.failures
    lines.push(
      '',
      `certificate rotation (reloadInterval ${RELOAD_INTERVAL}): wrk -c${ctx.connections} keep-alive + ${STREAM_RATE} new verified connections/s, ${rot.perRun} swaps a ${ctx.duration} s run (one every ${(rot.spacing / 1000).toFixed(1)} s) against runs without, ${ctx.rounds} rounds:`,
      `swaps written ${rot.swapsWritten}, seen by a new connection ${rot.swapsSeen} (after ${fmtRange(rot.seenMs, fmtMs)}), applied by the gateway ${rot.applied} (files refused as no usable pair: ${rot.refused}); serials served to the stream ${rot.servedSerials}; in use at the end the last one written: ${rot.finalSerialOk ? 'yes' : 'NO'}`,
      ...(rot.refused ? ['(a refused read saw the files between two renames, e.g. the new certificate with the old key, as the gateway\'s warning says; it kept the certificate in use and applied the pair at a later look)'] : []),
      `failed requests ${f.requests}, failed handshakes ${f.handshakes} (+ ${f.probes} of the probes)  (must be 0: ${f.requests + f.handshakes + f.probes === 0 && rot.swapsSeen === rot.swapsWritten ? 'ok' : 'FAILED'})`,
      `keep-alive req/s with swaps / without: ${fmtR(rot.rps)} (${fmtInt(rot.rotatingRps.median)} / ${fmtInt(rot.steadyRps.median)}); new conn/s ${fmtR(rot.streamRps)}`
    )
    return {
      id: 'tls',
      title: '10. TLS termination on the hot path (listen.tls)',
      text: lines.join('\n'),
      data: {
        negotiated,
        rows,
        target: TARGET,
        ratios: Object.fromEntries(pairs.map(p => [p.id, { rps: round(p.rps.median, 3), cpuUs: round(p.cpu.median, 3) }])),
        ratioRanges: Object.fromEntries(pairs.map(p => [p.id, { rps: p.rps, cpuUs: p.cpu }])),
        newConnections: { rows: hsRows, wakegateOverNginx: hsRatio, wakegateOverNginxPerCpu: hsCpuRatio },
        rotation: { reloadInterval: RELOAD_INTERVAL, streamRate: STREAM_RATE, ...rot }
      }
    }
  } finally {
    for (const s of servers.reverse()) await s.stop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }
}
