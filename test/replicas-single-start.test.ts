import t from 'tap'
import { Agent } from 'undici'
import { twoReplicas, get } from './support/replicas.js'

t.test('two replicas, one Redis: 1,000 concurrent cold requests across both start exactly one task; both serve it', async t => {
  const { set, a, b } = await twoReplicas(t)

  const agent = new Agent({ connections: 100 })
  t.teardown(() => agent.close())
  const results = await Promise.all(Array.from({ length: 1000 }, (_v, i) => get(i % 2 ? b : a, '/info', 1, agent).catch(err => ({ status: 0, body: String(err), headers: {} }))))
  const bad = results.filter(r => r.status !== 200)
  t.equal(bad.length, 0, `every request answered 200 (${bad.slice(0, 3).map(r => `${r.status} ${r.body.slice(0, 120)}`).join('; ')})`)
  t.equal(set.starts().length, 1, 'exactly one task start')
  const pids = new Set(results.filter(r => r.status === 200).map(r => JSON.parse(r.body).pid))
  t.equal(pids.size, 1, 'every answer came from that one task')
  t.equal(set.tasks().length, 1, 'one live task')

  for (const r of [a, b]) {
    const res = await get(r, '/info')
    t.equal(res.status, 200, `replica ${r.name} serves the env after`)
    t.equal(JSON.parse(res.body).pid, [...pids][0])
  }
})
