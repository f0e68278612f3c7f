// The adaptive idle timeout end to end: a reviewer who comes back at a regular short gap gets
// a timeout learned from those gaps, well below the fixed one, and keeps finding the env warm.
import t from 'tap'
import { request } from 'undici'
import { startGateway, testConfig, exampleApp, waitFor, sleep } from './support/harness.js'

const FIXED = 5000

t.test('visits at regular short gaps teach an env a shorter timeout, and every visit after the first is warm', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({
    idleTimeout: `${FIXED}ms`,
    idle: { target: { coldVisits: '5%' }, min: '300ms', max: '5s', visitGap: '200ms' }
  })]), { reapInterval: 50 })
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!
  const idle = async () => ((await (await request(`${h.wg.adminUrl}/api/envs/example/1`)).body.json()) as { idle: Record<string, unknown> }).idle

  t.same(await idle(), { timeoutMs: FIXED, policy: 'adaptive', visits: 0, coldVisits: 0 }, 'before any visit: idleTimeout')

  // The longest gap comes first; the later ones leave room for a slow machine.
  const gaps = [1200, ...new Array(11).fill(800)]
  const cold: boolean[] = []
  const visit = async () => {
    const res = await h.get('pr-1.review.test', '/info')
    t.equal(res.status, 200)
    cold.push(res.headers['x-wakegate-cold-start'] !== undefined)
  }
  await visit()
  for (const gap of gaps) {
    await sleep(gap)
    await visit()
  }
  await sleep(150) // a reaper tick sees the last visit
  t.same(cold, [true, ...gaps.map(() => false)], 'the first visit woke the env; every later one found it running')
  t.equal(h.backends.get('example')!.calls.start, 1, 'one task for all of them')

  const view = await idle()
  t.equal(view.policy, 'adaptive')
  t.equal(view.visits, 13)
  t.equal(view.coldVisits, 1)
  const timeout = view.timeoutMs as number
  t.ok(timeout >= 1200 && timeout < FIXED, `the timeout covers the gaps seen and is below the fixed ${FIXED} ms (got ${timeout})`)

  // Left alone, it goes to sleep after the learned timeout, long before the fixed one.
  const last = env.lastSeen
  await waitFor(() => env.state !== 'running', 10_000, 'idle stop')
  const stoppedAt = env.recent.find(e => e.type === 'state' && e.state === 'stopping' && e.at >= last)!.at
  t.ok(stoppedAt - last >= timeout && stoppedAt - last < FIXED, `stopped ${stoppedAt - last} ms after the last visit`)

  const metrics = await (await request(`${h.wg.adminUrl}/metrics`)).body.text()
  t.match(metrics, /wakegate_visits_total\{app="example",cold="false"\} 12/)
  t.match(metrics, /wakegate_visits_total\{app="example",cold="true"\} 1/)
  t.match(metrics, /wakegate_idle_timeout_seconds\{app="example"\} \d/)

  // The next visit after the quiet spell is cold, and its gap is remembered too.
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep')
  const again = await h.get('pr-1.review.test', '/info')
  t.ok(again.headers['x-wakegate-cold-start'], 'a cold wake')
  const after = await idle()
  t.equal(after.visits, 14)
  t.equal(after.coldVisits, 2)
})

t.test('without idle the fixed timeout applies and visits are still counted', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ idleTimeout: '10m' })]), { reapInterval: 50 })
  t.teardown(() => h.close())
  await h.get('pr-1.review.test', '/info')
  await h.get('pr-2.review.test', '/info')
  await sleep(150)
  const list = (await (await request(`${h.wg.adminUrl}/api/envs`)).body.json()) as { envs: Array<{ key: string, idle: Record<string, unknown> }> }
  t.same(list.envs.map(e => [e.key, e.idle]), [
    ['example/1', { timeoutMs: 600_000, policy: 'fixed', visits: 1, coldVisits: 1 }],
    ['example/2', { timeoutMs: 600_000, policy: 'fixed', visits: 1, coldVisits: 1 }]
  ])
  const metrics = await (await request(`${h.wg.adminUrl}/metrics`)).body.text()
  t.match(metrics, /wakegate_idle_timeout_seconds\{app="example"\} 600/)
  t.match(metrics, /wakegate_visits_total\{app="example",cold="true"\} 2/)
})
