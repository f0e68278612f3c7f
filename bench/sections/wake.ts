// 4. Wake overhead: a local-backend app whose /healthz turns healthy at a moment it reports
// (x-healthy-at); the time from that moment to the first proxied byte at the client is what
// wakegate adds to a wake (probe schedule, hand-off to held requests, first forward). Then
// the same per phase, on the local backend and on the ECS fake (wake-phases.ts).
import { join } from 'node:path'
import { request, Agent } from 'undici'
import { startNode, type Server } from '../lib/proc.js'
import { summarize, percentile, table, fmtMs, round } from '../lib/stats.js'
import { ROOT, SERVERS, type Context, type SectionResult } from '../lib/context.js'
import { wakePhases } from './wake-phases.js'

const APP = join(ROOT, 'bench', 'apps', 'timed-app.mjs')
export const TIMED_APP_COMMAND = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(APP)}`
/**
 * The wake rate limit per client address (limits.wakesPerMinute, default 10 at once then 30 a
 * minute) off: these sections wake envs over and over from 127.0.0.1.
 */
export const NO_WAKE_LIMIT = { wakesPerMinute: 0 }

const now = () => performance.timeOrigin + performance.now()

export async function wake (ctx: Context): Promise<SectionResult> {
  const wakes = ctx.quick ? 5 : 20
  const servers: Server[] = []
  const agent = new Agent({ connections: 4 })
  try {
    const wg = await startNode('wakegate', join(SERVERS, 'wakegate.mjs'), [JSON.stringify({
      backend: 'local', command: TIMED_APP_COMMAND, env: { READY_AFTER_MS: '300-1300' }, prs: [1], limits: NO_WAKE_LIMIT
    })])
    servers.push(wg)
    const overhead: number[] = []
    const total: number[] = []
    const reported: number[] = []
    for (let i = 0; i < wakes; i++) {
      await wg.call('sleep', { pr: 1 })
      const t0 = now()
      // Not a navigation (no text/html): held until ready, then proxied.
      const res = await request(`http://127.0.0.1:${wg.port}/first`, { headers: { host: 'pr-1.bench.test', accept: 'application/json' }, dispatcher: agent })
      const firstByte = now()
      await res.body.text()
      const healthyAt = Number(res.headers['x-healthy-at'])
      if (res.statusCode !== 200 || !healthyAt) throw new Error(`wake ${i + 1}: status ${res.statusCode}`)
      overhead.push(firstByte - healthyAt)
      total.push(firstByte - t0)
      reported.push(Number(res.headers['x-wakegate-cold-start']))
      ctx.log(`  wake ${i + 1}/${wakes}: healthy → first byte ${fmtMs(firstByte - healthyAt)}, request → first byte ${fmtMs(firstByte - t0)}`)
    }
    const o = summarize(overhead)
    await wg.stop()
    servers.pop()
    const phases = await wakePhases(ctx).catch(err => ({ skipped: `failed: ${(err as Error).stack ?? err}` }))
    const text = [
      table([
        [`${wakes} wakes, local backend`, 'median', 'p90', 'max'],
        ['task healthy → first proxied byte', fmtMs(o.median), fmtMs(percentile(overhead, 90)), fmtMs(o.max)],
        ['request → first byte (whole wake)', fmtMs(summarize(total).median), fmtMs(percentile(total, 90)), fmtMs(Math.max(...total))],
        ['x-wakegate-cold-start (gateway view)', fmtMs(summarize(reported).median), fmtMs(percentile(reported, 90)), fmtMs(Math.max(...reported))]
      ]),
      '',
      `wake overhead median ${fmtMs(o.median)}: target ≤ 60 ms ${o.median <= 60 ? 'ok' : 'ABOVE TARGET'} (app healthy 300–1300 ms after start, at random)`,
      '',
      'skipped' in phases ? `wake overhead per phase: skipped (${phases.skipped})` : phases.text
    ].join('\n')
    return {
      id: 'wake',
      title: '4. Wake overhead: task healthy → first proxied byte',
      text,
      data: { wakes, overheadMs: o, overheadP90: round(percentile(overhead, 90)), wholeWakeMs: summarize(total), reportedColdStartMs: summarize(reported), phases: 'skipped' in phases ? phases : phases.runs }
    }
  } finally {
    await agent.close()
    for (const s of servers.reverse()) await s.stop()
  }
}
