import t from 'tap'
import { Agent, request } from 'undici'
import { twoReplicas, get, type ReplicaProcess } from './support/replicas.js'
import { waitFor } from './support/harness.js'

t.test('3 redeploys triggered on the leader under load over both replicas: 0 failed of 20,000; the other replica switches with it', async t => {
  const { set, a, b, leader, follower } = await twoReplicas(t, { app: { drainTimeout: '2s' } })
  t.equal((await get(a, '/info')).status, 200)

  const agent = new Agent({ connections: 25, keepAliveTimeout: 30_000 })
  t.teardown(() => agent.close())
  const TOTAL = 20_000
  let done = 0
  let stop = false
  let failed = 0
  const errors: string[] = []
  /** The SHA each replica served last. */
  const latest = new Map<ReplicaProcess, string>()
  const client = (r: ReplicaProcess) => async () => {
    while (!stop) {
      done++
      try {
        const res = await get(r, '/info', 1, agent)
        if (res.status !== 200) { failed++; errors.push(`${res.status} ${res.body.slice(0, 120)}`); continue }
        latest.set(r, JSON.parse(res.body).sha)
      } catch (err) {
        failed++
        errors.push(String(err))
      }
    }
  }
  const load = Promise.all(Array.from({ length: 50 }, (_v, i) => client(i % 2 ? b : a)()))
  for (const sha of ['sha-two', 'sha-three', 'sha-four']) {
    const from = done
    await waitFor(() => done > from + 1500, 30_000, 'load first')
    const res = await request(`${leader.adminUrl}/api/envs/example/1/redeploy`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sha }) })
    t.equal(res.statusCode, 202, `redeploy ${sha} accepted`)
    await res.body.text()
    await waitFor(() => latest.get(leader) === sha, 30_000, `leader serves ${sha}`)
    const at = performance.now()
    await waitFor(() => latest.get(follower) === sha, 5_000, `follower serves ${sha}`)
    t.ok(performance.now() - at < 1000, `the other replica switched to ${sha} within 1 s`)
  }
  await waitFor(() => done >= TOTAL, 120_000, `${TOTAL} requests`)
  stop = true
  await load
  t.ok(done >= TOTAL, `${done} requests`)
  t.equal(failed, 0, `0 failed (${errors.slice(0, 3).join('; ')})`)
  await waitFor(() => set.tasks().length === 1, 15_000, 'old generations drained and stopped')
  t.equal(set.starts().length, 4, 'one task per generation')
})
