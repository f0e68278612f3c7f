// 1. Throughput and latency: direct, wakegate (env running), @fastify/http-proxy with a fixed
// upstream and nginx (1 worker, upstream keepalive), on the same upstream, interleaved.
import { join } from 'node:path'
import { cpuMs, sampleRss, startNode, type Server } from '../lib/proc.js'
import { startNginx } from '../lib/nginx.js'
import { runLoad, type LoadResult } from '../lib/load.js'
import { undisturbed } from '../lib/quiet.js'
import { summarize, table, fmtInt, fmtMs, fmtRange, median, round, type Summary } from '../lib/stats.js'
import { SERVERS, HOST, type Context, type SectionResult } from '../lib/context.js'

export interface Target {
  name: string
  server: Server
  path?: string
  /** More request headers the load generator sends to this target (a cookie, say). */
  headers?: Record<string, string>
  /** https: the target terminates TLS (the load generator does not verify its certificate). */
  scheme?: 'http' | 'https'
}

export interface ThroughputRow {
  name: string
  rps: Summary
  p50: Summary
  p99: Summary
  /** CPU time the server under test spent per request (µs), upstream excluded: less noisy than req/s on a shared machine. */
  cpuUs: Summary
  /** Peak RSS of the server under test during its runs (bytes). */
  peakRss: number
  /** Response bytes per second as the load tool counted them. */
  bytesPerSec: Summary
  errors: number
  non2xx: number
}

export interface RunOptions {
  path?: string
  /** POST a body of this many bytes with every request. */
  uploadBytes?: number
  /** Offer this many requests/s (open-loop generator) instead of as many as the server takes. */
  rate?: number
  /** Start each round one target later (round 2: b, c, a), so no target always runs first. */
  rotate?: boolean
  /** Seconds of load on each target before the first round (default 2, 1 with --quick). */
  warmup?: number
}

/** Runs every target once per round, interleaved, after a short warm-up each. */
export async function interleaved (ctx: Context, targets: Target[], opts: RunOptions = {}): Promise<ThroughputRow[]> {
  const path = opts.path ?? '/'
  const runs = new Map<string, LoadResult[]>(targets.map(t => [t.name, []]))
  const cpu = new Map<string, number[]>(targets.map(t => [t.name, []]))
  const rss = new Map<string, number>(targets.map(t => [t.name, 0]))
  for (const t of targets) {
    await runLoad(ctx.tools, { url: `${t.scheme ?? 'http'}://127.0.0.1:${t.server.port}${t.path ?? path}`, host: HOST, headers: t.headers, connections: ctx.connections, duration: opts.warmup ?? (ctx.quick ? 1 : 2), uploadBytes: opts.uploadBytes, rate: opts.rate })
  }
  for (let r = 1; r <= ctx.rounds; r++) {
    const shift = opts.rotate ? (r - 1) % targets.length : 0
    for (const t of [...targets.slice(shift), ...targets.slice(0, shift)]) {
      let used = 0
      let peak = 0
      const res = await undisturbed(ctx.duration, async () => {
        const before = cpuMs(t.server.pid)
        const sampler = sampleRss(t.server.pid)
        const r = await runLoad(ctx.tools, { url: `${t.scheme ?? 'http'}://127.0.0.1:${t.server.port}${t.path ?? path}`, host: HOST, headers: t.headers, connections: ctx.connections, duration: ctx.duration, uploadBytes: opts.uploadBytes, rate: opts.rate })
        peak = sampler.stop()
        used = cpuMs(t.server.pid) - before
        return r
      }, ctx.log)
      rss.set(t.name, Math.max(rss.get(t.name)!, peak))
      runs.get(t.name)!.push(res)
      cpu.get(t.name)!.push(1000 * used / Math.max(1, res.requests))
      ctx.log(`  round ${r}/${ctx.rounds} ${t.name.padEnd(24)} ${fmtInt(res.rps).padStart(7)} req/s  p50 ${fmtMs(res.p50)}  p99 ${fmtMs(res.p99)}${res.errors + res.non2xx ? `  errors ${res.errors} non-2xx ${res.non2xx}` : ''}  (others ${(res.noise * 100).toFixed(0)}% CPU)`)
    }
  }
  return targets.map(t => {
    const rs = runs.get(t.name)!
    return {
      name: t.name,
      rps: summarize(rs.map(r => r.rps)),
      p50: summarize(rs.map(r => r.p50)),
      p99: summarize(rs.map(r => r.p99)),
      cpuUs: summarize(cpu.get(t.name)!),
      peakRss: rss.get(t.name)!,
      bytesPerSec: summarize(rs.map(r => r.bytesPerSec)),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      non2xx: rs.reduce((a, r) => a + r.non2xx, 0)
    }
  })
}

export function rowsTable (rows: ThroughputRow[]): string {
  return table([
    ['', 'req/s median (range)', 'p50', 'p99 median (range)', 'CPU µs/req', 'errors'],
    ...rows.map(r => [r.name, fmtRange(r.rps, fmtInt), fmtMs(r.p50.median), fmtRange(r.p99, fmtMs), r.cpuUs.median.toFixed(1), String(r.errors + r.non2xx)])
  ])
}

/** Median of per-round ratios a/b, and its range. */
export function ratio (a: ThroughputRow | undefined, b: ThroughputRow | undefined): Summary | undefined {
  if (!a || !b) return undefined
  return summarize(a.rps.runs.map((x, i) => x / b.rps.runs[i]))
}

/** The shared upstream, and wakegate with PR 1 running on it (both added to `servers`). */
export async function startUpstreamAndGateway (servers: Server[]): Promise<{ upstream: Server, wakegate: Server }> {
  const upstream = await startNode('upstream', join(SERVERS, 'upstream.mjs'))
  servers.push(upstream)
  const wakegate = await startFixedGateway('wakegate', upstream.port)
  servers.push(wakegate)
  return { upstream, wakegate }
}

/** A gateway (this build, or `dist` of another) with PR 1 running on the upstream at `port`. */
function startFixedGateway (name: string, port: number, dist?: string): Promise<Server> {
  return startNode(name, join(SERVERS, 'wakegate.mjs'), [JSON.stringify({ backend: 'fixed', routes: { 1: port }, prs: [1], wake: [1] })], dist ? { env: { WAKEGATE_BENCH_DIST: dist } } : {})
}

export async function throughput (ctx: Context): Promise<SectionResult> {
  const servers: Server[] = []
  try {
    const { upstream, wakegate } = await startUpstreamAndGateway(servers)
    const fastify = await startNode('@fastify/http-proxy', join(SERVERS, 'fastify-proxy.mjs'), [String(upstream.port)])
    servers.push(fastify)
    const targets: Target[] = [
      { name: 'direct', server: upstream },
      { name: 'wakegate', server: wakegate },
      { name: '@fastify/http-proxy', server: fastify }
    ]
    if (ctx.baseline) {
      const base = await startFixedGateway(`wakegate @${ctx.baseline.rev}`, upstream.port, ctx.baseline.dist)
      servers.push(base)
      targets.push({ name: `wakegate @${ctx.baseline.rev}`, server: base })
    }
    if (ctx.tools.nginx) {
      const nginx = await startNginx(ctx.tools.nginx, upstream.port)
      servers.push(nginx)
      targets.push({ name: 'nginx (1 worker)', server: nginx })
    }
    const rows = await interleaved(ctx, targets)
    const by = (n: string) => rows.find(r => r.name.startsWith(n))
    const wg = rows[1]
    const vsNginx = ratio(wg, by('nginx'))
    const vsFastify = ratio(wg, by('@fastify'))!
    const nginxRow = by('nginx')
    const p99sat = nginxRow ? wg.p99.median / nginxRow.p99.median : NaN
    const lines = [rowsTable(rows), '']
    const fmtR = (s: Summary) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`
    if (vsNginx) lines.push(`wakegate/nginx               ${fmtR(vsNginx)}   target ≥ 0.5, aim 0.6  ${vsNginx.median >= 0.5 ? 'ok' : 'BELOW TARGET'}`)
    lines.push(`wakegate/@fastify/http-proxy ${fmtR(vsFastify)}   target ≥ 1.8  ${vsFastify.median >= 1.8 ? 'ok' : 'BELOW TARGET'}`)
    const baseRow = ctx.baseline ? by('wakegate @') : undefined
    const vsBase = ratio(wg, baseRow)
    if (vsBase && baseRow) {
      const baseOverNginx = ratio(baseRow, by('nginx'))
      lines.push(`wakegate/${baseRow.name.slice(9)}`.padEnd(29) + fmtR(vsBase) + `   target ≥ 0.97  ${vsBase.median >= 0.97 ? 'ok' : 'BELOW TARGET'}` +
        (baseOverNginx && vsNginx ? `  (per nginx: ${vsNginx.median.toFixed(2)} now, ${baseOverNginx.median.toFixed(2)} at ${ctx.baseline!.rev})` : ''))
    }
    let fixed: { rate: number, rows: ThroughputRow[], p99x: number } | undefined
    if (nginxRow) {
      lines.push(`wakegate p99 / nginx p99     ${p99sat.toFixed(2)} at saturation: each at its own rate, so by Little's law latency there follows 1/throughput`)
      // Latency at the same load: the same offered rate, a quarter of what the slower of the two
      // takes flat out (at half, a proxy batching fewer requests per read already needs ~70%
      // of the CPU it shares with the upstream).
      const rate = Math.max(1000, Math.floor(Math.min(wg.rps.median, nginxRow.rps.median) / 4000) * 1000)
      ctx.log(`  fixed rate: ${rate} req/s offered (open loop)`)
      const fixedRows = await interleaved(ctx, [targets[0], targets[1], targets[targets.length - 1]], { rate })
      const fw = fixedRows[1]
      const fn = fixedRows[2]
      const p99x = fw.p99.median / fn.p99.median
      fixed = { rate, rows: fixedRows, p99x }
      lines.push('', `at the same load, ${fmtInt(rate)} req/s offered to each (open loop: latency from when each request was due; -c${ctx.connections}):`, rowsTable(fixedRows), '')
      lines.push(`wakegate p99 / nginx p99     ${p99x.toFixed(2)}   target ≤ 2  ${p99x <= 2 ? 'ok' : 'ABOVE TARGET'}`)
    }
    return {
      id: 'throughput',
      title: '1. Throughput and latency (200-byte responses, keep-alive)',
      text: lines.join('\n'),
      data: {
        rows,
        ratios: { wakegateOverBaseline: vsBase && round(vsBase.median, 3), wakegateOverNginx: vsNginx && round(vsNginx.median, 3), wakegateOverFastifyProxy: round(vsFastify.median, 3), p99OverNginxSaturated: round(p99sat, 3), p99OverNginx: fixed && round(fixed.p99x, 3) },
        fixedRate: fixed,
        ratioRanges: { wakegateOverNginx: vsNginx, wakegateOverFastifyProxy: vsFastify },
        medianRps: Object.fromEntries(rows.map(r => [r.name, round(median(r.rps.runs), 0)]))
      }
    }
  } finally {
    for (const s of servers.reverse()) await s.stop()
  }
}
