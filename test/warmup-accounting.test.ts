// WarmUps on its own, as the simulator drives it: the real gateway and manager with an
// in-process backend, signals given directly (no GitHub). What is a visit, when a warm-up is
// one or two, when it is used or wasted, and a start the running caps refuse.
import t from 'tap'
import { pino } from 'pino'
import WebSocket from 'ws'
import { startGateway, testConfig, exampleApp, waitFor, sleep } from './support/harness.js'
import { FastBackend, fastUpstream } from './support/fast-backend.js'
import { WarmUps } from '../src/lifecycle/warmup.js'

const prs = (...ns: number[]) => ns.map(number => ({ number, branch: `b${number}` }))

async function setup (t: { teardown (fn: () => unknown): void }, app: Record<string, unknown>) {
  const up = await fastUpstream()
  const backend = new FastBackend(up.port)
  const config = testConfig({}, [exampleApp({ prs: prs(1, 2, 3), ...app })])
  const h = await startGateway(config, { backends: new Map([['example', backend]]) })
  const warmups = new WarmUps(h.wg.manager, config, pino({ level: 'silent' }))
  t.teardown(async () => { warmups.close(); await h.close(); await up.close() })
  const env = (pr: number) => h.wg.manager.envs.get(`example/${pr}`)!
  const running = (pr: number) => waitFor(() => env(pr).state === 'running', 5_000, `example/${pr} running`)
  return { h, backend, warmups, env, running }
}

t.test('a warm start is not a visit; a request after it is', async t => {
  const { h, warmups, env, running } = await setup(t, { warmup: { usedWithin: '10s' } })
  t.equal(warmups.lastVisit(env(1)), 0, 'registered, never visited')
  t.same(warmups.signal(env(1), 'push'), { action: 'skipped', reason: 'never visited' })
  t.same(warmups.signal(env(1), 'review-requested', 'from mona'), { action: 'started' })
  await running(1)
  t.equal(warmups.lastVisit(env(1)), 0, 'the warm start set lastSeen, but nobody came')
  t.same(warmups.signal(env(1), 'push'), { action: 'skipped', reason: 'never visited' })
  await sleep(5)
  t.equal((await h.get('pr-1.review.test')).status, 200)
  const seen = warmups.lastVisit(env(1))
  t.ok(seen > 0 && seen === env(1).lastSeen, 'a request is a visit')
  t.same(warmups.signal(env(1), 'push'), { action: 'extended' }, 'a push right after the visit counts, inside the open window')
  // A request that woke the env itself is a visit as well.
  t.equal((await h.get('pr-2.review.test')).status, 200)
  t.ok(warmups.lastVisit(env(2)) > 0)
  t.same(warmups.signal(env(2), 'push'), { action: 'kept' })
})

t.test('signals inside a window are one warm-up, judged when the window closes', async t => {
  const { h, backend, warmups, env, running } = await setup(t, { warmup: { usedWithin: '400ms' } })
  t.same(warmups.signal(env(1), 'review-requested'), { action: 'started' })
  t.same(warmups.signal(env(1), 'mention'), { action: 'extended' })
  t.same(warmups.signal(env(1), 'review-requested'), { action: 'extended' })
  await running(1)
  t.equal(warmups.open, 1)
  await waitFor(() => warmups.open === 0, 5_000, 'window closed by its timer')
  const c = warmups.counts().example!
  t.same(c['review-requested'], { signals: 2, warmUps: 1, starts: 1, used: 0, wasted: 1 }, 'one warm-up, wasted: nobody came')
  t.same(c.mention, { signals: 1, warmUps: 0, starts: 0, used: 0, wasted: 0 }, 'the mention only extended it')
  t.same(backend.started, ['example/1'])

  // A visit inside the window makes the next one used.
  t.same(warmups.signal(env(1), 'mention'), { action: 'kept' })
  await sleep(5)
  t.equal((await h.get('pr-1.review.test')).status, 200)
  await waitFor(() => warmups.open === 0, 5_000, 'window closed')
  t.same(warmups.counts().example!.mention, { signals: 2, warmUps: 1, starts: 0, used: 1, wasted: 0 })

  // settleAll judges open windows at once (end of a simulated run).
  warmups.signal(env(2), 'mention')
  t.equal(warmups.open, 1)
  warmups.settleAll()
  t.equal(warmups.open, 0)
  t.same(warmups.counts().example!.mention, { signals: 3, warmUps: 2, starts: 1, used: 1, wasted: 1 })
})

t.test('the warm-up keeps the env awake for usedWithin, then the idle timeout applies', async t => {
  const { env, warmups, running } = await setup(t, { idleTimeout: '100ms', warmup: { usedWithin: '1500ms' } })
  warmups.signal(env(3), 'review-requested')
  await running(3)
  const until = env(3).keepAwakeUntil
  t.ok(until > Date.now(), 'keepAwakeUntil set')
  await sleep(400)
  t.equal(env(3).state, 'running', 'past the idle timeout, still running')
  await waitFor(() => env(3).state === 'asleep', 5_000, 'asleep after the window')
  t.ok(Date.now() >= until, 'not before the window ended')
})

t.test('a start the running caps refuse is no warm-up', async t => {
  const { h, backend, warmups, env } = await setup(t, { maxRunning: 1, warmup: {} })
  const ws = new WebSocket(`ws://127.0.0.1:${h.port}/`, { headers: { host: 'pr-1.review.test' } })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  t.teardown(() => ws.terminate())
  t.equal(env(1).state, 'running')
  t.same(warmups.signal(env(2), 'review-requested'), { action: 'skipped', reason: 'the start was refused (running caps or failure backoff)' })
  t.equal(env(2).state, 'asleep')
  t.same(backend.started, ['example/1'])
  t.same(warmups.counts().example!['review-requested'], { signals: 0, warmUps: 0, starts: 0, used: 0, wasted: 0 })
  t.equal(warmups.open, 0)
})
