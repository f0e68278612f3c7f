// 2. Large bodies: 1 MiB downloads and uploads through wakegate vs direct, and the gateway's
// memory while they stream (it must not grow with body size: nothing is buffered).
import { join } from 'node:path'
import { startNode, type Server } from '../lib/proc.js'
import { startNginx } from '../lib/nginx.js'
import { interleaved, ratio, type ThroughputRow } from './throughput.js'
import { summarize, table, fmtInt, fmtMiB, round, MiB, type Summary } from '../lib/stats.js'
import { SERVERS, type Context, type SectionResult } from '../lib/context.js'

const SIZE = MiB

export async function bodies (ctx: Context): Promise<SectionResult> {
  const servers: Server[] = []
  try {
    const upstream = await startNode('upstream', join(SERVERS, 'upstream.mjs'))
    servers.push(upstream)
    const wakegate = await startNode('wakegate', join(SERVERS, 'wakegate.mjs'), [JSON.stringify({ backend: 'fixed', routes: { 1: upstream.port }, prs: [1], wake: [1] })])
    servers.push(wakegate)
    const targets = [{ name: 'direct', server: upstream }, { name: 'wakegate', server: wakegate }]
    if (ctx.tools.nginx) {
      // For reference: what a proxy in C gets through the same loopback and CPU.
      const nginx = await startNginx(ctx.tools.nginx, upstream.port)
      servers.push(nginx)
      targets.push({ name: 'nginx', server: nginx })
    }
    const short = { ...ctx, rounds: 1, duration: Math.min(ctx.duration, 4) }
    ctx.log('  small responses (memory baseline)')
    const small = await interleaved(short, [targets[1]])
    ctx.log('  1 MiB downloads')
    const down = await interleaved(ctx, targets, { path: `/bytes?n=${SIZE}` })
    ctx.log('  1 MiB uploads')
    const up = await interleaved(ctx, targets, { path: '/upload', uploadBytes: SIZE })
    const mbs = (r: ThroughputRow): Summary => summarize(r.rps.runs.map(x => x * SIZE / MiB))
    const rows = [
      ['download', down[0], down[1], ratio(down[1], down[0])!, down[2]],
      ['upload', up[0], up[1], ratio(up[1], up[0])!, up[2]]
    ] as const
    const rssSmall = small[0].peakRss
    const rssLarge = Math.max(down[1].peakRss, up[1].peakRss)
    const growth = rssLarge - rssSmall
    // 50 connections each buffering a 1 MiB body would need ≥ 50 MiB more.
    const buffered = ctx.connections * SIZE
    const text = [
      table([
        ['1 MiB bodies, -c' + ctx.connections, 'direct MiB/s', 'wakegate MiB/s', 'wakegate/direct', 'target ≥ 0.8', 'nginx MiB/s', 'nginx/direct'],
        ...rows.map(([name, d, w, r, n]) => {
          const nr = n ? ratio(n, d)! : undefined
          return [name, fmtInt(mbs(d).median), fmtInt(mbs(w).median), `${r.median.toFixed(2)} (${r.min.toFixed(2)}–${r.max.toFixed(2)})`, r.median >= 0.8 ? 'ok' : 'BELOW TARGET', n ? fmtInt(mbs(n).median) : '–', nr ? nr.median.toFixed(2) : '–']
        })
      ]),
      '',
      `wakegate peak RSS: ${fmtMiB(rssSmall)} with 200-byte responses, ${fmtMiB(down[1].peakRss)} during downloads, ${fmtMiB(up[1].peakRss)} during uploads`,
      `growth ${fmtMiB(growth)} vs ${fmtMiB(buffered)} if ${ctx.connections} bodies were buffered: ${growth < buffered / 2 ? 'streaming (ok)' : 'GROWS WITH BODY SIZE'}`
    ].join('\n')
    return {
      id: 'bodies',
      title: '2. Large bodies (1 MiB) through wakegate vs direct',
      text,
      data: {
        download: { directMiBps: mbs(down[0]), wakegateMiBps: mbs(down[1]), ratio: round(rows[0][3].median, 3), ratioRange: rows[0][3], nginxMiBps: down[2] && mbs(down[2]) },
        upload: { directMiBps: mbs(up[0]), wakegateMiBps: mbs(up[1]), ratio: round(rows[1][3].median, 3), ratioRange: rows[1][3], nginxMiBps: up[2] && mbs(up[2]) },
        rss: { small: rssSmall, download: down[1].peakRss, upload: up[1].peakRss, growth },
        errors: { download: down.map(r => r.errors + r.non2xx), upload: up.map(r => r.errors + r.non2xx) }
      }
    }
  } finally {
    for (const s of servers.reverse()) await s.stop()
  }
}
