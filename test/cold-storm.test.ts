import t from 'tap'
import { request, Agent } from 'undici'
import { startGateway, testConfig } from './support/harness.js'

t.test('1,000 concurrent cold requests cause exactly one task start and all get 200', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  const agent = new Agent({ connections: 1000, pipelining: 0 })
  t.teardown(() => agent.close())

  const results = await Promise.all(Array.from({ length: 1000 }, (_, i) =>
    request(`${h.url}/info?i=${i}`, { headers: { host: 'pr-1.review.test' }, dispatcher: agent })
      .then(async res => ({ status: res.statusCode, body: await res.body.text() }))
      .catch(err => ({ status: 0, body: String(err) }))))

  const statuses = new Map<number, number>()
  for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
  t.same(Object.fromEntries(statuses), { 200: 1000 }, 'all 1,000 answered 200')
  t.equal(h.backends.get('example')!.calls.start, 1, 'exactly one task start')
  t.equal(h.wg.manager.counters.starts, 1)
  const pids = new Set(results.map(r => JSON.parse(r.body).pid))
  t.equal(pids.size, 1, 'all served by the same task')
})
