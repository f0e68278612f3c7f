import t from 'tap'
import { request } from 'undici'
import { pino } from 'pino'
import { EXAMPLE_COMMAND, exampleApp, sleep, startGateway, testConfig, waitFor, type Harness } from './support/harness.js'
import { MemoryStore } from '../src/stores/memory.js'
import { readRecords, restoreEnvs } from '../src/replicas/restore.js'
import { costOf, DEFAULT_PRICES } from '../src/cost/prices.js'
import type { EnvEvent } from '../src/lifecycle/env.js'

const SIZE = { vcpu: 0.5, memoryGb: 1 }
const sizedApp = () => exampleApp({ cost: { size: SIZE } })

async function view (h: Harness, key = 'example/1'): Promise<any> {
  const res = await request(`${h.wg.adminUrl}/api/envs/${key}`)
  return res.body.json()
}

async function post (h: Harness, path: string, body?: unknown): Promise<void> {
  const res = await request(`${h.wg.adminUrl}${path}`, body === undefined ? { method: 'POST' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  await res.body.dump()
}

/** Wakes the env with a request, keeps it running `ms`, puts it to sleep; the times that bound its run. */
async function awakePeriod (h: Harness, ms: number, pr = 1): Promise<{ surely: number, atMost: number }> {
  const asked = Date.now()
  const res = await h.get(`pr-${pr}.review.test`, '/info')
  if (res.status !== 200) throw new Error(`wake answered ${res.status}: ${res.body.slice(0, 200)}`)
  const up = Date.now()
  await sleep(ms)
  const down = Date.now()
  await post(h, `/api/envs/example/${pr}/sleep`)
  await waitFor(() => h.wg.manager.envs.get(`example/${pr}`)!.state === 'asleep', 10_000, 'asleep')
  return { surely: down - up, atMost: Date.now() - asked }
}

t.test('task time adds up across two wakes on the local backend, is priced, and survives a new leader', async t => {
  const store = new MemoryStore()
  const h = await startGateway(testConfig({}, [sizedApp()]), { store })
  // A PR the store knows (config PRs are registered afresh by every gateway).
  await post(h, '/api/envs', { app: 'example', pr: 7, branch: 'fix/seven', sha: 'c0ffee77' })
  const key = 'example/7'
  t.equal((await view(h, key)).cost.runningMs, 0, 'nothing before the first wake')

  const first = await awakePeriod(h, 300, 7)
  const afterFirst = (await view(h, key)).cost.runningMs
  t.ok(afterFirst >= first.surely && afterFirst <= first.atMost, `first wake: ${first.surely} ≤ ${afterFirst} ≤ ${first.atMost} ms`)
  await sleep(250)
  t.equal((await view(h, key)).cost.runningMs, afterFirst, 'nothing is counted while asleep')

  const second = await awakePeriod(h, 300, 7)
  const v = await view(h, key)
  const total = v.cost.runningMs
  t.ok(total >= afterFirst + second.surely && total <= afterFirst + second.atMost, `two wakes summed: ${afterFirst + second.surely} ≤ ${total} ≤ ${afterFirst + second.atMost} ms`)
  t.equal(v.cost.capacity, 'ec2', 'a local app with a size is priced as EC2')
  t.equal(v.cost.amount, Math.round(costOf(total, SIZE, DEFAULT_PRICES.ec2OnDemand) * 1e6) / 1e6)
  t.equal(v.cost.perHour, Math.round((0.5 * DEFAULT_PRICES.ec2OnDemand.vcpuHour + 1 * DEFAULT_PRICES.ec2OnDemand.gbHour) * 1e6) / 1e6)
  t.ok(v.cost.alwaysOnMs >= total, 'always on since the env was created is longer')
  t.equal(v.cost.tasks, 0)

  const record = await store.get(key)
  t.equal(record?.meta?.runMs, total, 'the env record carries the task time')
  t.notOk('runSince' in (record?.meta ?? {}), 'no open period while asleep')

  // A new leader restores the envs from the store and carries on from there.
  await h.close()
  const records = await readRecords(store, pino({ level: 'silent' }))
  const next = await startGateway(testConfig({}, [sizedApp()]), { store })
  t.teardown(() => next.close())
  restoreEnvs(next.wg.manager, records, pino({ level: 'silent' }))
  t.equal((await view(next, key)).cost.runningMs, total, 'restored task time')
  const third = await awakePeriod(next, 200, 7)
  const after = (await view(next, key)).cost.runningMs
  t.ok(after >= total + third.surely && after <= total + third.atMost, 'and added to')
})

t.test('a redeploy\'s new task beside the current one counts as a second task until the old one has drained', async t => {
  const h = await startGateway(testConfig({}, [sizedApp()]))
  t.teardown(() => h.close())
  t.equal((await h.get('pr-1.review.test', '/info')).status, 200)
  const env = h.wg.manager.envs.get('example/1')!
  const seen: Array<{ message: string, tasks: unknown }> = []
  // The tracker was subscribed first, so at each event the env's meta already holds its count.
  const onEvent = (e: EnvEvent) => { if (e.key === env.key) seen.push({ message: e.message, tasks: env.meta.runTasks }) }
  h.wg.manager.on('event', onEvent)
  t.teardown(() => { h.wg.manager.off('event', onEvent) })

  await post(h, '/api/envs/example/1/redeploy', { sha: 'ccccccc3' })
  await waitFor(() => seen.some(s => /drained and stopped/.test(s.message)), 15_000, 'old generation drained')
  const counts = seen.map(s => s.tasks)
  t.ok(counts.includes(2), `two tasks while the new one started and the old one drained (${counts.join(', ')})`)
  t.equal(counts[counts.length - 1], 1, 'one task once the old one is stopped')
  t.equal(Math.max(...counts.map(Number)), 2, 'never more than the two')
  const v = await view(h)
  t.equal(v.cost.tasks, 1)
})

t.test('a redeploy that fails to start stops counting as a second task', async t => {
  // Tasks for SHA "broken" never pass health; every other SHA is the example app.
  const command = `if [ "$GIT_SHA" = broken ]; then export READY_AFTER_MS=600000; fi; ${EXAMPLE_COMMAND}`
  const h = await startGateway(testConfig({}, [exampleApp({ startTimeout: '1s', cost: { size: SIZE }, backend: { kind: 'local', command } })]))
  t.teardown(() => h.close())
  t.equal((await h.get('pr-1.review.test', '/info')).status, 200)
  const m = h.wg.manager
  const env = m.envs.get('example/1')!
  let failed = false
  m.on('redeploy-failed', () => { failed = true })
  m.redeploy(env, 'broken', 'test')
  t.equal(env.meta.runTasks, 2, 'the pending task counts beside the current one')
  await waitFor(() => failed, 15_000, 'redeploy failed')
  await waitFor(() => env.meta.runTasks === 1, 5_000, 'back to one task')
  t.equal(env.state, 'running')
  t.equal((await view(h)).cost.tasks, 1)
})
