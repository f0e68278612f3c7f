// Cluster mode (--workers N), N = 2 here: throughput against the single-process gateway
// with the section-1 pinning (all servers on one CPU) and with the gateway's processes free
// to use both CPUs; and a cold storm spread over the workers (still one start).
import { join } from 'node:path'
import { startNode, type Server } from '../lib/proc.js'
import { interleaved, ratio, rowsTable } from './throughput.js'
import { coldStorm } from './storm.js'
import { TIMED_APP_COMMAND, NO_WAKE_LIMIT } from './wake.js'
import { table, fmtMs, round } from '../lib/stats.js'
import { SERVERS, type Context, type SectionResult } from '../lib/context.js'

const N = 2

async function pair (ctx: Context, unpinned: boolean) {
  const servers: Server[] = []
  try {
    const upstream = await startNode('upstream', join(SERVERS, 'upstream.mjs'))
    servers.push(upstream)
    const spec = (workers?: number) => JSON.stringify({ backend: 'fixed', routes: { 1: upstream.port }, prs: [1], wake: [1], workers })
    const one = await startNode('wakegate', join(SERVERS, 'wakegate.mjs'), [spec()], { unpinned })
    servers.push(one)
    const many = await startNode(`wakegate --workers ${N}`, join(SERVERS, 'wakegate.mjs'), [spec(N)], { unpinned })
    servers.push(many)
    return await interleaved(ctx, [{ name: 'wakegate (1 process)', server: one }, { name: `wakegate --workers ${N}`, server: many }])
  } finally {
    for (const s of servers.reverse()) await s.stop()
  }
}

export async function clusterSection (ctx: Context): Promise<SectionResult> {
  ctx.log('  pinned like section 1 (gateway processes and upstream share one CPU)')
  const pinnedRows = await pair(ctx, false)
  let freeRows: Awaited<ReturnType<typeof pair>> | undefined
  if (ctx.pinning.enabled) {
    ctx.log('  gateway processes free to use every CPU (load generator still pinned)')
    freeRows = await pair(ctx, true)
  }
  ctx.log(`  cold storm over ${N} workers`)
  const servers: Server[] = []
  let storms
  try {
    const wg = await startNode(`wakegate --workers ${N}`, join(SERVERS, 'wakegate.mjs'), [JSON.stringify({
      backend: 'local', command: TIMED_APP_COMMAND, env: { READY_AFTER_MS: '500' }, prs: [1], workers: N, limits: NO_WAKE_LIMIT
    })])
    servers.push(wg)
    storms = [await coldStorm(wg, 1000), ...(ctx.quick ? [] : [await coldStorm(wg, 1000)])]
  } finally {
    for (const s of servers.reverse()) await s.stop()
  }
  const r1 = ratio(pinnedRows[1], pinnedRows[0])!
  const r2 = freeRows ? ratio(freeRows[1], freeRows[0])! : undefined
  const lines = [
    'pinned (gateway processes + upstream on one CPU, as in section 1):',
    rowsTable(pinnedRows),
    `workers ${N} / 1 process: ${r1.median.toFixed(2)} (${r1.min.toFixed(2)}–${r1.max.toFixed(2)})`
  ]
  if (freeRows && r2) {
    lines.push('', 'gateway processes unpinned (may use the load generator\'s CPU too):', rowsTable(freeRows),
      `workers ${N} / 1 process: ${r2.median.toFixed(2)} (${r2.min.toFixed(2)}–${r2.max.toFixed(2)})`)
  }
  lines.push('', table([
    [`1,000 cold requests over ${N} workers`, ...storms.map((_, i) => `storm ${i + 1}`)],
    ['task starts', ...storms.map(s => String(s.starts))],
    ['errors', ...storms.map(s => String(s.errors))],
    ['last response', ...storms.map(s => fmtMs(s.lastMs))]
  ]), '', `starts per storm ${storms.map(s => s.starts).join(', ')} (target 1): ${storms.every(s => s.starts === 1 && s.errors === 0) ? 'ok' : 'MISSED'}`)
  return {
    id: 'cluster',
    title: `7. Cluster mode: --workers ${N}`,
    text: lines.join('\n'),
    data: { workers: N, pinned: pinnedRows, unpinned: freeRows, ratioPinned: round(r1.median, 3), ratioUnpinned: r2 && round(r2.median, 3), storms }
  }
}
