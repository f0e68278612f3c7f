// Wake overhead per phase (part of section 4): wakes of the timed app on the local backend and
// on the ECS fake (test/support/fake-aws, whose task timestamps are known), each with clients
// arriving every 100 ms while it wakes. From each wake's timeline (env.wakes) and the app's own
// healthy moment (x-healthy-at): the phases, and what wakegate adds on top of the task's own
// start — detect (RUNNING → noticed), probe lag (healthy → probe passed), hand-off (probe
// passed → first byte at the client) — and the requests that failed during the wake.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { request, Agent } from 'undici'
import { percentile, table, fmtMs, round } from '../lib/stats.js'
import { ROOT, type Context } from '../lib/context.js'
import { sleep } from '../lib/proc.js'
import type { WakeTimeline } from '../../src/lifecycle/wake-timeline.js'

const APP = join(ROOT, 'bench', 'apps', 'timed-app.mjs')
const HOST = 'pr-1.review.test'
const now = () => performance.timeOrigin + performance.now()

/** p50 and p95 of a set of ms. */
export interface P { p50: number, p95: number }
const p = (xs: number[]): P => ({ p50: round(percentile(xs, 50)), p95: round(percentile(xs, 95)) })

export interface PhaseRun {
  backend: 'local' | 'ecs'
  wakes: number
  /** Per timeline phase (and total), over the wakes. */
  phases: Record<string, P>
  /** What wakegate adds: detect, probe lag, hand-off, and end to end (max(healthy, task running) → first byte). */
  added: { detect: P, probeLag: P, handOff: P, endToEnd: P }
  requests: number
  failed: number
}

interface One { timeline: WakeTimeline, healthyAt: number, firstByte: number, requests: number, failed: number }

/** Phase ms by name; the moment (ms) a phase ended, counted from the wake's start. */
function ends (t: WakeTimeline): Record<string, number> {
  const out: Record<string, number> = {}
  let at = t.at
  for (const ph of t.phases) { at += ph.ms; out[ph.phase] = at }
  return out
}

function summarize (backend: PhaseRun['backend'], runs: One[]): PhaseRun {
  const names = [...new Set(runs.flatMap(r => r.timeline.phases.map(x => x.phase)))]
  const phases: Record<string, P> = {}
  for (const n of names) phases[n] = p(runs.map(r => r.timeline.phases.find(x => x.phase === n)?.ms ?? NaN))
  phases.total = p(runs.map(r => r.timeline.totalMs))
  const detect: number[] = []
  const probeLag: number[] = []
  const handOff: number[] = []
  const endToEnd: number[] = []
  for (const r of runs) {
    const e = ends(r.timeline)
    const passed = r.timeline.at + r.timeline.totalMs
    const running = e.start // ECS: its startedAt; local: the port listening
    const noticed = e.detect
    detect.push(e.detect - e.start)
    probeLag.push(passed - Math.max(r.healthyAt, noticed))
    handOff.push(r.firstByte - passed)
    endToEnd.push(r.firstByte - Math.max(r.healthyAt, running))
  }
  return {
    backend,
    wakes: runs.length,
    phases,
    added: { detect: p(detect), probeLag: p(probeLag), handOff: p(handOff), endToEnd: p(endToEnd) },
    requests: runs.reduce((a, r) => a + r.requests, 0),
    failed: runs.reduce((a, r) => a + r.failed, 0)
  }
}

/** One wake: a first request, then one more every 100 ms until it is answered; all must be 200. */
async function oneWake (h: any, agent: Agent, i: number): Promise<One> {
  const env = h.wg.manager.envs.get('example/1')
  h.wg.manager.sleep(env, 'bench')
  for (const until = Date.now() + 20_000; env.state !== 'asleep' && Date.now() < until;) await sleep(5)
  const get = (path: string) => request(`${h.url}${path}`, { headers: { host: HOST, accept: 'application/json' }, dispatcher: agent })
    .then(async res => { const at = now(); await res.body.text(); return { status: res.statusCode, at, healthyAt: Number(res.headers['x-healthy-at']) } }, () => ({ status: 0, at: now(), healthyAt: NaN }))
  let answered = false
  const first = get(`/first-${i}`).finally(() => { answered = true })
  const others: Array<Promise<{ status: number }>> = []
  while (!answered) { await sleep(100); if (!answered) others.push(get(`/during-${i}-${others.length}`)) }
  const f = await first
  const all = [f, ...await Promise.all(others)]
  if (f.status !== 200 || !f.healthyAt) throw new Error(`wake ${i + 1}: the first request got ${f.status}`)
  const timeline = env.wakes[env.wakes.length - 1] as WakeTimeline
  return { timeline, healthyAt: f.healthyAt, firstByte: f.at, requests: all.length, failed: all.filter(r => r.status !== 200).length }
}

async function run (ctx: Context, backend: PhaseRun['backend'], wakes: number): Promise<PhaseRun> {
  const harness = await import(join(ROOT, 'test', 'support', 'harness.ts'))
  let fake: any
  let app: Record<string, unknown>
  const knobs = { env: { READY_AFTER_MS: '300-1300' }, idleTimeout: '1h', startTimeout: '60s', holdTimeout: '60s', prs: [{ number: 1, branch: 'b', sha: 'aaaaaaa1' }] }
  if (backend === 'ecs') {
    const fakeMod = await import(join(ROOT, 'test', 'support', 'fake-aws', 'index.ts'))
    const appMod = await import(join(ROOT, 'test', 'support', 'fake-aws', 'app.ts'))
    fakeMod.useFakeAwsEnvironment()
    // The timed app listens on 127.0.0.1: no per-instance loopback addresses. 600 ms from
    // RunTask to RUNNING (half pull, half container start); the production poll interval.
    fake = await fakeMod.FakeAws.start({ script: APP, loopbackAliases: false, delays: { pending: 600 } })
    app = appMod.ecsApp(fake, knobs, { pollInterval: '1s' })
  } else {
    app = harness.exampleApp({ ...knobs, backend: { kind: 'local', command: `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(APP)}`, stopGrace: '1s' } })
  }
  const h = await harness.startGateway(harness.testConfig({ limits: { wakesPerMinute: 0 } }, [app]))
  const agent = new Agent({ connections: 64 })
  const runs: One[] = []
  try {
    for (let i = 0; i < wakes; i++) {
      const one = await oneWake(h, agent, i)
      runs.push(one)
      const e = ends(one.timeline)
      ctx.log(`  ${backend} wake ${i + 1}/${wakes}: ${one.timeline.phases.map(x => `${x.phase} ${Math.round(x.ms)}`).join(', ')} ms; healthy → first byte ${fmtMs(one.firstByte - Math.max(one.healthyAt, e.start))}; ${one.requests} requests, ${one.failed} failed`)
    }
  } finally {
    await agent.close()
    await h.close()
    await fake?.close()
  }
  return summarize(backend, runs)
}

export async function wakePhases (ctx: Context): Promise<{ runs: PhaseRun[], text: string } | { skipped: string }> {
  if (!existsSync(join(ROOT, 'test', 'support', 'fake-aws', 'index.ts'))) return { skipped: 'test/support/fake-aws not present' }
  const wakes = ctx.quick ? 5 : 20
  const runs = [await run(ctx, 'local', wakes), await run(ctx, 'ecs', wakes)]
  const order = ['queue', 'placement', 'pull', 'start', 'detect', 'health', 'total']
  const cell = (x?: P) => x ? `${fmtMs(x.p50)} / ${fmtMs(x.p95)}` : '–'
  const text = [
    table([
      [`phases, p50 / p95 (${wakes} wakes each)`, ...runs.map(r => r.backend === 'ecs' ? 'ECS fake (poll 1 s)' : 'local backend')],
      ...order.map(ph => [ph, ...runs.map(r => cell(r.phases[ph]))]),
      ['wakegate adds: detect (RUNNING → noticed)', ...runs.map(r => cell(r.added.detect))],
      ['  probe lag (app healthy → probe passed)', ...runs.map(r => cell(r.added.probeLag))],
      ['  hand-off (probe passed → first byte)', ...runs.map(r => cell(r.added.handOff))],
      ['  end to end (healthy and running → first byte)', ...runs.map(r => cell(r.added.endToEnd))],
      ['requests during the wakes / failed', ...runs.map(r => `${r.requests} / ${r.failed}`)]
    ]),
    '',
    ...runs.map(r => `${r.backend}: added end to end p95 ${fmtMs(r.added.endToEnd.p95)} (goal < 1 s: ${r.added.endToEnd.p95 < 1000 ? 'ok' : 'MISSED'}), ${r.failed} failed requests during wakes (goal 0: ${r.failed === 0 ? 'ok' : 'MISSED'})`)
  ].join('\n')
  return { runs, text }
}
