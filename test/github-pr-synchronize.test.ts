import t from 'tap'
import { githubGateway } from './support/fake-github-gateway.js'
import { waitFor } from './support/harness.js'

const NEW_SHA = 'c0ffee0000000000000000000000000000000001'

t.test('synchronize on a running env: new generation at the new SHA, switch when ready', async t => {
  const g = await githubGateway(t)
  const pull = g.pull(3)
  await g.pr('opened', pull)
  const first = JSON.parse((await g.h.get('pr-3.review.test', '/info')).body)
  t.equal(first.sha, pull.sha)
  t.equal(g.starts(), 1)

  pull.sha = NEW_SHA
  const res = await g.pr('synchronize', pull)
  t.equal(res.status, 200)
  t.same(res.body.results, [{ app: 'example', pr: 3, action: 'redeploying', warm: false }])
  const env = g.h.wg.manager.envs.get('example/3')!
  await waitFor(() => env.runningSha === NEW_SHA, 15_000, 'switch to the new generation')
  t.equal(g.starts(), 2, 'one new task')
  const after = JSON.parse((await g.h.get('pr-3.review.test', '/info')).body)
  t.equal(after.sha, NEW_SHA, 'requests reach the new code')
  t.not(after.pid, first.pid)
  t.equal(env.state, 'running')

  await g.settle()
  const byShas = g.gh.deployments.map(d => [d.sha, d.statuses.map(s => s.state)])
  t.same(byShas, [
    [pull.sha === NEW_SHA ? first.sha : first.sha, ['in_progress', 'success', 'inactive']],
    [NEW_SHA, ['in_progress', 'success']]
  ], 'a deployment per SHA; the replaced one becomes inactive')
  t.equal(g.gh.comments.length, 1)
  t.match(g.gh.comments[0].body, 'Running `c0ffee0`')
})

t.test('synchronize on an asleep env starts nothing; the next wake uses the new SHA', async t => {
  const g = await githubGateway(t)
  const pull = g.pull(4)
  await g.pr('opened', pull)
  pull.sha = NEW_SHA
  const res = await g.pr('synchronize', pull)
  t.same(res.body.results, [{ app: 'example', pr: 4, action: 'updated', warm: false }])
  t.equal(g.starts(), 0, 'asleep: no start on push')
  const env = g.h.wg.manager.envs.get('example/4')!
  t.equal(env.sha, NEW_SHA)
  t.equal(env.state, 'asleep')
  t.ok(env.meta.pushedAt, 'push time noted (abandoned-PR clock)')
  const info = JSON.parse((await g.h.get('pr-4.review.test', '/info')).body)
  t.equal(info.sha, NEW_SHA)
  t.equal(g.starts(), 1)
})

t.test('synchronize for a PR opened before wakegate knew it registers it', async t => {
  const g = await githubGateway(t, { policy: { warm: true } })
  const pull = g.pull(5, { sha: NEW_SHA })
  const res = await g.pr('synchronize', pull)
  t.same(res.body.results, [{ app: 'example', pr: 5, action: 'registered', warm: true }])
  await waitFor(() => g.h.wg.manager.envs.get('example/5')?.state === 'running', 15_000, 'warm start')
  t.equal(g.h.wg.manager.envs.get('example/5')!.runningSha, NEW_SHA)
})
