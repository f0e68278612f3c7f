// 6. Scale: 10,000 registered envs (asleep) and 200 running ones — memory, route lookup
// cost, idle-reaper tick cost with and without the asleep envs — and, with the ECS fake
// (test/support/fake-aws), AWS calls per wake.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { runNodeOnce, startNode, type Server } from '../lib/proc.js'
import { table, fmtMiB, round, MiB } from '../lib/stats.js'
import { ROOT, SERVERS, type Context, type SectionResult } from '../lib/context.js'

interface ScaleOut {
  memory: { base: { rss: number }, asleep: { rss: number, addedRss: number, addedHeap: number }, running: { rss: number, addedRss: number, addedHeap: number } }
  lookupNs: number
  lookupUncachedNs: number
  reapNs: { withAsleep: number, withoutAsleep: number, asleep: number, running: number }
  states: { running: number, envs: number }
}

export async function scale (ctx: Context): Promise<SectionResult> {
  const envs = 10_000
  const running = 200
  const servers: Server[] = []
  let out: ScaleOut
  try {
    const many = await startNode('200 upstreams', join(SERVERS, 'many-upstreams.mjs'), [String(running)])
    servers.push(many)
    const ports = many.info.ports as number[]
    out = await runNodeOnce<ScaleOut>('scale', join(SERVERS, 'scale.mjs'), [JSON.stringify({ envs, ports })], ['--expose-gc'])
  } finally {
    for (const s of servers.reverse()) await s.stop()
  }
  const aws = await awsCallsPerWake(ctx).catch(err => ({ skipped: `ECS fake failed: ${(err as Error).message}` }))
  const m = out.memory
  const reapRatio = out.reapNs.withAsleep / out.reapNs.withoutAsleep
  const lines = [
    table([
      ['', 'RSS', 'added', 'heap added', 'target'],
      ['gateway, no envs', fmtMiB(m.base.rss), '', '', ''],
      [`+ ${envs.toLocaleString('en-US')} asleep envs`, fmtMiB(m.asleep.rss), fmtMiB(m.asleep.addedRss), fmtMiB(m.asleep.addedHeap), `≤ 64 MiB ${m.asleep.addedRss <= 64 * MiB ? 'ok' : 'MISSED'}`],
      [`+ ${running} running (warm pools)`, fmtMiB(m.running.rss), fmtMiB(m.running.addedRss), fmtMiB(m.running.addedHeap), '']
    ]),
    '',
    `route lookup (Host → env, ${envs.toLocaleString('en-US')} envs): ${out.lookupNs.toFixed(0)} ns/op cached, ${out.lookupUncachedNs.toFixed(0)} ns/op on first sight of a host`,
    `idle-reaper tick, ${running} running: ${(out.reapNs.withAsleep / 1000).toFixed(2)} µs with ${out.reapNs.asleep.toLocaleString('en-US')} asleep envs, ${(out.reapNs.withoutAsleep / 1000).toFixed(2)} µs with none (×${reapRatio.toFixed(2)}): ${reapRatio < 1.5 ? 'independent of asleep envs (ok)' : 'GROWS WITH ASLEEP ENVS'}`
  ]
  if ('skipped' in aws) lines.push(`AWS calls per wake: skipped (${aws.skipped})`)
  else {
    lines.push('', table([
      ['AWS calls (ECS fake)', ...aws.actions, 'total', 'per wake'],
      ...aws.rows.map(r => [r.label, ...aws.actions.map(a => String(r.calls[a] ?? 0)), String(r.total), (r.total / r.wakes).toFixed(1)])
    ]))
  }
  return {
    id: 'scale',
    title: '6. Scale: 10,000 asleep envs, 200 running',
    text: lines.join('\n'),
    data: {
      envs,
      running,
      memory: out.memory,
      addedRssMiB: round(m.asleep.addedRss / MiB, 1),
      lookupNs: round(out.lookupNs, 1),
      lookupUncachedNs: round(out.lookupUncachedNs, 1),
      reapNs: out.reapNs,
      reapRatio: round(reapRatio, 2),
      aws
    }
  }
}

interface AwsRow { label: string, wakes: number, calls: Record<string, number>, total: number }

/** With the ECS fake: the AWS calls one wake costs, alone and with 10 envs waking at once. */
async function awsCallsPerWake (ctx: Context): Promise<{ actions: string[], rows: AwsRow[] } | { skipped: string }> {
  const dir = join(ROOT, 'test', 'support', 'fake-aws')
  if (!existsSync(join(dir, 'index.ts'))) return { skipped: 'test/support/fake-aws not present' }
  const fakeMod = await import(join(dir, 'index.ts'))
  const appMod = await import(join(dir, 'app.ts'))
  const harness = await import(join(ROOT, 'test', 'support', 'harness.ts'))
  fakeMod.useFakeAwsEnvironment()
  const fake = await fakeMod.FakeAws.start()
  const rows: AwsRow[] = []
  const count = (since: number) => {
    const calls: Record<string, number> = {}
    for (const c of fake.calls.slice(since)) calls[c.action] = (calls[c.action] ?? 0) + 1
    return calls
  }
  try {
    // The production poll interval (1 s), not the tests' 50 ms.
    const app = appMod.ecsApp(fake, { prs: appMod.prs(11), idleTimeout: '1h', startTimeout: '60s', holdTimeout: '60s' }, { pollInterval: '1s' })
    // 11 wakes from 127.0.0.1 in a few seconds: the wake rate limit (10 at once) must be off.
    const h = await harness.startGateway(harness.testConfig({ limits: { wakesPerMinute: 0 } }, [app]))
    try {
      let since = fake.calls.length
      const one = await h.get('pr-1.review.test', '/info')
      if (one.status !== 200) throw new Error(`wake answered ${one.status}`)
      const c1 = count(since)
      rows.push({ label: '1 env waking', wakes: 1, calls: c1, total: Object.values(c1).reduce((a, b) => a + b, 0) })
      ctx.log(`  1 wake: ${JSON.stringify(c1)}`)
      since = fake.calls.length
      const res = await Promise.all(Array.from({ length: 10 }, (_, i) => h.get(`pr-${i + 2}.review.test`, '/info')))
      if (res.some(r => r.status !== 200)) throw new Error(`concurrent wakes answered ${res.map(r => r.status).join(',')}`)
      const c10 = count(since)
      rows.push({ label: '10 envs waking at once', wakes: 10, calls: c10, total: Object.values(c10).reduce((a, b) => a + b, 0) })
      ctx.log(`  10 wakes: ${JSON.stringify(c10)}`)
    } finally {
      await h.close()
    }
  } finally {
    await fake.close()
  }
  const actions = [...new Set(rows.flatMap(r => Object.keys(r.calls)))].sort()
  return { actions, rows }
}
