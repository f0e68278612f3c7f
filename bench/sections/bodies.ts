// 2. Large bodies: 1 MiB downloads and uploads through wakegate vs direct, and the gateway's
// memory while they stream (it must not grow with body size: nothing is buffered).
//
// With the servers pinned to one core, a proxied byte costs that core three kernel copies
// (upstream write, proxy read, proxy write) where a direct one costs one; so two references
// run beside wakegate: a Node TCP relay piping bytes without parsing HTTP (the ceiling for a
// proxy in Node here) and nginx (a proxy in C).
import { join } from 'node:path'
import { startNode, type Server } from '../lib/proc.js'
import { startNginx } from '../lib/nginx.js'
import { interleaved, ratio, startUpstreamAndGateway, type ThroughputRow } from './throughput.js'
import { summarize, table, fmtInt, fmtMiB, round, MiB, type Summary } from '../lib/stats.js'
import { SERVERS, type Context, type SectionResult } from '../lib/context.js'

const SIZE = MiB

export async function bodies (ctx: Context): Promise<SectionResult> {
  const servers: Server[] = []
  try {
    const { upstream, wakegate } = await startUpstreamAndGateway(servers)
    const relay = await startNode('tcp-relay', join(SERVERS, 'tcp-relay.mjs'), [String(upstream.port)])
    servers.push(relay)
    const targets = [{ name: 'direct', server: upstream }, { name: 'wakegate', server: wakegate }, { name: 'tcp relay', server: relay }]
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
    // Streaming means memory does not depend on body size: the same load with 16× larger bodies.
    ctx.log('  16 MiB downloads and uploads (memory only)')
    const big = { ...ctx, rounds: 1, duration: Math.min(ctx.duration, 4) }
    const bigDown = await interleaved(big, [targets[1]], { path: `/bytes?n=${16 * SIZE}` })
    const bigUp = await interleaved(big, [targets[1]], { path: '/upload', uploadBytes: 16 * SIZE })
    const mbs = (r: ThroughputRow): Summary => summarize(r.rps.runs.map(x => x * SIZE / MiB))
    const rows = [
      ['download', down[0], down[1], ratio(down[1], down[0])!, down[2], down[3]],
      ['upload', up[0], up[1], ratio(up[1], up[0])!, up[2], up[3]]
    ] as const
    const rssSmall = small[0].peakRss
    const rss1 = Math.max(down[1].peakRss, up[1].peakRss)
    const rss16 = Math.max(bigDown[0].peakRss, bigUp[0].peakRss)
    // Buffering whole bodies would add ~15 MiB per connection going from 1 to 16 MiB bodies.
    const growth = rss16 - rss1
    const streaming = growth < 64 * MiB
    const text = [
      table([
        ['1 MiB bodies, -c' + ctx.connections, 'direct MiB/s', 'wakegate MiB/s', 'wakegate/direct', 'target ≥ 0.8', 'tcp relay/direct', 'wakegate/relay', 'nginx/direct'],
        ...rows.map(([name, d, w, r, t, n]) => {
          const tr = ratio(t, d)!
          const nr = n ? ratio(n, d)! : undefined
          return [name, fmtInt(mbs(d).median), fmtInt(mbs(w).median), `${r.median.toFixed(2)} (${r.min.toFixed(2)}–${r.max.toFixed(2)})`, r.median >= 0.8 ? 'ok' : 'BELOW TARGET', tr.median.toFixed(2), ratio(w, t)!.median.toFixed(2), nr ? nr.median.toFixed(2) : '–']
        })
      ]),
      'tcp relay: a Node process piping bytes between sockets without parsing HTTP, the ceiling for a Node proxy',
      'when proxy and upstream share one core; uploads through any Node HTTP server also pay for its parser copying',
      'each body chunk into a new buffer, and for collecting those buffers.',
      '',
      `wakegate peak RSS: ${fmtMiB(rssSmall)} with 200-byte responses; ${fmtMiB(down[1].peakRss)} / ${fmtMiB(up[1].peakRss)} during 1 MiB downloads / uploads; ${fmtMiB(bigDown[0].peakRss)} / ${fmtMiB(bigUp[0].peakRss)} with 16 MiB bodies`,
      `1 MiB → 16 MiB bodies: ${growth >= 0 ? '+' : ''}${fmtMiB(growth)} (buffering ${ctx.connections} bodies would add ~${fmtMiB(ctx.connections * 15 * SIZE)}): ${streaming ? 'memory independent of body size (streaming)' : 'GROWS WITH BODY SIZE'}`
    ].join('\n')
    return {
      id: 'bodies',
      title: '2. Large bodies (1 MiB) through wakegate vs direct',
      text,
      data: {
        download: { directMiBps: mbs(down[0]), wakegateMiBps: mbs(down[1]), ratio: round(rows[0][3].median, 3), ratioRange: rows[0][3], relayMiBps: mbs(down[2]), nginxMiBps: down[3] && mbs(down[3]) },
        upload: { directMiBps: mbs(up[0]), wakegateMiBps: mbs(up[1]), ratio: round(rows[1][3].median, 3), ratioRange: rows[1][3], relayMiBps: mbs(up[2]), nginxMiBps: up[3] && mbs(up[3]) },
        rss: { small: rssSmall, download1MiB: down[1].peakRss, upload1MiB: up[1].peakRss, download16MiB: bigDown[0].peakRss, upload16MiB: bigUp[0].peakRss, growth1to16: growth, streaming },
        errors: { download: down.map(r => r.errors + r.non2xx), upload: up.map(r => r.errors + r.non2xx) }
      }
    }
  } finally {
    for (const s of servers.reverse()) await s.stop()
  }
}
