// Several replicas on the redis store: the hot path of a replica that does not lead (it
// proxies from its mirror of the leader's envs) against the single gateway on the memory
// store, in the same run. Target: within 3 % (ratio ≥ 0.97).
import { join } from 'node:path'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { startNode, startCommand, freePort, commandExists, type Server } from '../lib/proc.js'
import { interleaved, ratio, rowsTable } from './throughput.js'
import { round } from '../lib/stats.js'
import { SERVERS, type Context, type SectionResult } from '../lib/context.js'

const TARGET = 0.97

export async function replicas (ctx: Context): Promise<SectionResult> {
  if (!commandExists('redis-server')) throw new Error('redis-server is not installed (apt-get install -y redis-server)')
  const servers: Server[] = []
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-bench-redis-'))
  try {
    const port = await freePort()
    servers.push(await startCommand('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], port))
    const upstream = await startNode('upstream', join(SERVERS, 'upstream.mjs'))
    servers.push(upstream)
    const base = { backend: 'fixed', routes: { 1: upstream.port }, prs: [1] }
    const redis = { url: `redis://127.0.0.1:${port}`, keyPrefix: 'bench:' }
    const memory = await startNode('wakegate (memory store)', join(SERVERS, 'wakegate.mjs'), [JSON.stringify({ ...base, wake: [1] })])
    servers.push(memory)
    const leader = await startNode('replica (leader)', join(SERVERS, 'wakegate.mjs'), [JSON.stringify({ ...base, redis, lead: true, wake: [1] })])
    servers.push(leader)
    const follower = await startNode('replica (follower)', join(SERVERS, 'wakegate.mjs'), [JSON.stringify({ ...base, redis, waitFor: [1] })])
    servers.push(follower)
    const rows = await interleaved(ctx, [{ name: 'wakegate (memory store)', server: memory }, { name: 'replica on redis (follower)', server: follower }])
    const r = ratio(rows[1], rows[0])!
    const lines = [
      rowsTable(rows),
      `replica on redis / memory store: ${r.median.toFixed(3)} (${r.min.toFixed(3)}–${r.max.toFixed(3)}), target ≥ ${TARGET}: ${r.median >= TARGET ? 'ok' : 'MISSED'}`
    ]
    return { id: 'replicas', title: '8. Replicas: a replica\'s hot path on the redis store', text: lines.join('\n'), data: { rows, ratio: round(r.median, 3), target: TARGET } }
  } finally {
    for (const s of servers.reverse()) await s.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
