import t from 'tap'
import { Agent } from 'undici'
import { twoReplicas, get, type ReplicaProcess } from './support/replicas.js'
import { waitFor, sleep } from './support/harness.js'
import { FakeGitHub, prEvent, sendWebhook } from './support/fake-github.js'

const SECRET = 'webhook-secret'
const REPO = 'acme/web'

t.test('Redis killed under load: 0 failed requests to running envs, cold ones still wake once; after restart one leader, no duplicate task', async t => {
  const { set, a, b, follower } = await twoReplicas(t)
  t.equal((await get(a, '/info', 1)).status, 200)

  const agent = new Agent({ connections: 20, keepAliveTimeout: 30_000 })
  t.teardown(() => agent.close())
  let done = 0
  let failed = 0
  let stop = false
  const errors: string[] = []
  const client = (r: ReplicaProcess) => async () => {
    while (!stop) {
      try {
        const res = await get(r, '/info', 1, agent)
        done++
        if (res.status !== 200) { failed++; errors.push(`${r.name} ${res.status} ${res.body.slice(0, 120)}`) }
      } catch (err) { failed++; errors.push(`${r.name} ${String(err)}`) }
    }
  }
  const load = Promise.all(Array.from({ length: 20 }, (_v, i) => client(i % 2 ? b : a)()))
  await waitFor(() => done > 500, 20_000, 'load running')

  await set.redis.stop()
  await waitFor(async () => (await set.health(follower))?.store === false, 10_000, 'the follower sees the outage')
  const during = done
  await sleep(2000)
  t.ok(done > during + 200, `requests went on while Redis was down (${done - during})`)
  const cold = await get(follower, '/info', 2)
  t.equal(cold.status, 200, `an env asleep is still woken through the follower (${cold.body.slice(0, 160)})`)

  await set.redis.start()
  await waitFor(async () => (await Promise.all([a, b].map(r => set.health(r)))).every(h => h?.store === true), 20_000, 'both replicas reconnected')
  const after = await set.leader()
  t.ok(after, `one leader after the outage (${after.name})`)
  const resumed = done
  await waitFor(() => done > resumed + 500, 20_000, 'load after the outage')
  stop = true
  await load
  t.equal(failed, 0, `0 failed of ${done} (${errors.slice(0, 3).join('; ')})`)

  // State converges: each replica serves both envs from its own mirror, one task each.
  await waitFor(async () => {
    for (const r of [a, b]) for (const pr of [1, 2]) if ((await get(r, '/info', pr)).status !== 200) return false
    return true
  }, 20_000, 'both envs through both replicas')
  t.equal(set.starts().length, 2, 'one start per env, none doubled by the outage')
  await sleep(1500) // a reconcile round would stop duplicates; there must be none to stop
  t.equal(set.tasks().length, 2, 'two live tasks')
})

t.test('a webhook delivered twice, once to each replica, is handled once', async t => {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  const { set, a, b } = await twoReplicas(t, {
    app: { repo: REPO, anyPr: false, github: { comment: false, deployments: false } },
    config: { github: { auth: { token: gh.token }, webhookSecret: SECRET, webhookHost: 'hooks.review.test', apiUrl: gh.url, prSweepInterval: 0 } }
  })
  const pull = gh.addPull({ repo: REPO, number: 41 })
  const payload = prEvent('opened', pull)
  const [x, y] = await Promise.all([a, b].map(r => sendWebhook(r.url, { event: 'pull_request', payload, secret: SECRET, host: 'hooks.review.test', id: 'one-delivery' })))
  t.same([x.status, y.status], [200, 200], JSON.stringify([x.body, y.body]))
  t.equal([x, y].filter(d => d.body.results).length, 1, 'handled by one')
  t.equal([x, y].filter(d => d.body.duplicate).length, 1, 'the other is a duplicate')
  // The registered PR is known to every replica.
  for (const r of [a, b]) t.equal((await get(r, '/info', 41)).status, 200, `PR 41 served through ${r.name}`)
  t.equal(set.starts().length, 1)
})
