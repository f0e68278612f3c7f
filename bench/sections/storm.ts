// 5. Cold storm: 1,000 concurrent requests to an asleep env, each on its own connection.
// Exactly one task start, no errors; how long until the last response.
import { join } from 'node:path'
import { request, Agent } from 'undici'
import { startNode, type Server } from '../lib/proc.js'
import { summarize, table, fmtMs, round } from '../lib/stats.js'
import { SERVERS, type Context, type SectionResult } from '../lib/context.js'
import { TIMED_APP_COMMAND, NO_WAKE_LIMIT } from './wake.js'

export interface StormResult {
  starts: number
  ok: number
  errors: number
  statuses: Record<string, number>
  /** ms from the first request sent to the first / last response received */
  firstMs: number
  lastMs: number
  /** ms from the env turning ready (gateway clock) to the last response */
  readyToLastMs: number
}

/** Fires `n` concurrent requests at an asleep env of the gateway `wg` and counts what happened. */
export async function coldStorm (wg: Server, n: number): Promise<StormResult> {
  await wg.call('sleep', { pr: 1 })
  const before = await wg.call<{ starts: number, backendStarts: number }>('stats')
  const agent = new Agent({ connections: n, pipelining: 0 })
  const statuses: Record<string, number> = {}
  const epoch0 = Date.now()
  const t0 = performance.now()
  let first = Infinity
  let last = 0
  await Promise.all(Array.from({ length: n }, (_, i) =>
    request(`http://127.0.0.1:${wg.port}/storm?i=${i}`, { headers: { host: 'pr-1.bench.test', accept: 'application/json' }, dispatcher: agent })
      .then(async res => {
        await res.body.text()
        const t = performance.now() - t0
        first = Math.min(first, t)
        last = Math.max(last, t)
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
      }, (err: Error & { code?: string }) => {
        last = Math.max(last, performance.now() - t0)
        statuses[err.code ?? 'error'] = (statuses[err.code ?? 'error'] ?? 0) + 1
      })))
  await agent.close()
  const after = await wg.call<{ starts: number, backendStarts: number, readyAt: number }>('stats', { pr: 1 })
  const ok = statuses['200'] ?? 0
  return { starts: after.backendStarts - before.backendStarts, ok, errors: n - ok, statuses, lastMs: last, firstMs: first, readyToLastMs: epoch0 + last - after.readyAt }
}

export async function storm (ctx: Context): Promise<SectionResult> {
  const n = 1000
  const storms = ctx.quick ? 1 : 3
  const servers: Server[] = []
  try {
    const wg = await startNode('wakegate', join(SERVERS, 'wakegate.mjs'), [JSON.stringify({
      backend: 'local', command: TIMED_APP_COMMAND, env: { READY_AFTER_MS: '500' }, prs: [1], limits: NO_WAKE_LIMIT
    })])
    servers.push(wg)
    const results: StormResult[] = []
    for (let i = 0; i < storms; i++) {
      const r = await coldStorm(wg, n)
      results.push(r)
      ctx.log(`  storm ${i + 1}/${storms}: ${r.starts} start(s), ${r.ok} ok, ${r.errors} errors, last response after ${fmtMs(r.lastMs)}`)
    }
    const starts = results.map(r => r.starts)
    const errors = results.reduce((a, r) => a + r.errors, 0)
    const lastMs = summarize(results.map(r => r.lastMs))
    const text = [
      table([
        [`${n} concurrent cold requests`, ...results.map((_, i) => `storm ${i + 1}`)],
        ['task starts', ...results.map(r => String(r.starts))],
        ['200 responses', ...results.map(r => String(r.ok))],
        ['errors', ...results.map(r => String(r.errors))],
        ['first response', ...results.map(r => fmtMs(r.firstMs))],
        ['last response', ...results.map(r => fmtMs(r.lastMs))],
        ['env ready → last response', ...results.map(r => fmtMs(r.readyToLastMs))]
      ]),
      '',
      `starts per storm ${starts.join(', ')} (target 1), errors ${errors} (target 0): ${starts.every(s => s === 1) && errors === 0 ? 'ok' : 'MISSED'}; app healthy 500 ms after start`
    ].join('\n')
    return {
      id: 'storm',
      title: '5. Cold storm: 1,000 concurrent requests to an asleep env',
      text,
      data: { requests: n, storms: results, startsPerStorm: starts, errors, lastResponseMs: lastMs, medianLastMs: round(lastMs.median) }
    }
  } finally {
    for (const s of servers.reverse()) await s.stop()
  }
}
