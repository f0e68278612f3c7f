import t from 'tap'
import { githubGateway } from './support/fake-github-gateway.js'
import { EXAMPLE_APP, waitFor } from './support/harness.js'

t.test('Deployment statuses follow the env: in_progress → success → inactive (sleep) → in_progress → success → inactive (close)', async t => {
  const g = await githubGateway(t, { policy: { deploymentEnvironment: 'review/{app}-{pr}' } })
  const pull = g.pull(81)
  await g.pr('opened', pull)
  const env = g.h.wg.manager.envs.get('example/81')!
  await g.h.get('pr-81.review.test', '/info')
  await g.settle()
  g.h.wg.manager.sleep(env, 'test')
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep')
  await g.settle()
  t.match(g.gh.comments[0].body, 'Asleep. Opening the link starts it')
  await g.h.get('pr-81.review.test', '/info')
  await g.settle()
  pull.state = 'closed'
  await g.pr('closed', pull)
  await g.settle()

  t.equal(g.gh.deployments.length, 1, 'one deployment for the SHA, reused across wakes')
  const d = g.gh.deployments[0]
  t.equal(d.environment, 'review/example-81')
  t.equal(d.transient_environment, true)
  t.equal(d.production_environment, false)
  t.same(d.statuses.map(s => s.state), ['in_progress', 'success', 'inactive', 'in_progress', 'success', 'inactive'])
  t.ok(d.statuses.every(s => s.environment_url === 'https://pr-81.review.test/'), 'environment_url on every status')
  t.equal(d.statuses[5].description, 'PR closed')
})

t.test('a failed start posts failure with the reason, and the comment shows it', async t => {
  const g = await githubGateway(t, { app: { backend: { kind: 'local', command: 'echo "database is unreachable" >&2; exit 3', stopGrace: '1s' } } })
  await g.pr('opened', g.pull(82))
  const res = await g.h.get('pr-82.review.test', '/info')
  t.equal(res.status, 502)
  await g.settle()
  const d = g.gh.deployments[0]
  t.same(d.statuses.map(s => s.state), ['in_progress', 'failure'])
  t.match(d.statuses[1].description, /exit|code 3|unreachable/)
  t.ok(d.statuses[1].description.length <= 140)
  t.match(g.gh.comments[0].body, /Failed to start `[0-9a-f]{7}`: `/)
})

t.test('a failed redeploy posts failure for the new SHA; the old deployment stays live', async t => {
  const BAD = 'dead000000000000000000000000000000000bad'
  const command = `if [ "$GIT_SHA" = "${BAD}" ]; then echo "migration failed" >&2; exit 4; fi; exec node ${JSON.stringify(EXAMPLE_APP)}`
  const g = await githubGateway(t, { app: { backend: { kind: 'local', command, stopGrace: '1s' } } })
  const pull = g.pull(83)
  await g.pr('opened', pull)
  const good = JSON.parse((await g.h.get('pr-83.review.test', '/info')).body)
  pull.sha = BAD
  await g.pr('synchronize', pull)
  await waitFor(() => g.github.feedback.counters.statuses >= 4, 15_000, 'redeploy failure reported')
  await g.settle()
  const [first, second] = g.gh.deployments
  t.equal(first.sha, good.sha)
  t.same(first.statuses.map(s => s.state), ['in_progress', 'success'], 'the running deployment stays live')
  t.equal(second.sha, BAD)
  t.same(second.statuses.map(s => s.state), ['in_progress', 'failure'])
  t.match(g.gh.comments[0].body, 'Redeploy of `dead000` failed')
  t.match(g.gh.comments[0].body, `Running \`${good.sha.slice(0, 7)}\``)
  t.equal(JSON.parse((await g.h.get('pr-83.review.test', '/info')).body).pid, good.pid, 'old task keeps serving')
})
