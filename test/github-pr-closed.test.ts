import t from 'tap'
import { githubGateway } from './support/fake-github-gateway.js'
import { alive, waitFor } from './support/harness.js'

t.test('closed: tasks stopped, Deployment inactive, comment updated, forgotten after the tombstone period', async t => {
  const g = await githubGateway(t, { policy: { tombstone: '300ms' } })
  const pull = g.pull(21)
  await g.pr('opened', pull)
  const info = JSON.parse((await g.h.get('pr-21.review.test', '/info')).body)
  t.ok(alive(info.pid))

  pull.state = 'closed'
  const res = await g.pr('closed', pull)
  t.same(res.body.results, [{ app: 'example', pr: 21, action: 'destroyed' }])
  const env = g.h.wg.manager.envs.get('example/21')!
  t.equal(env.state, 'destroyed')
  await waitFor(() => !alive(info.pid), 10_000, 'task stopped')

  const gone = await g.h.get('pr-21.review.test', '/', { accept: 'text/html' })
  t.equal(gone.status, 410, 'tombstone: the PR was closed')
  t.match(gone.body, 'closed')
  t.equal(g.starts(), 1, 'no new start')

  await g.settle()
  t.equal(g.gh.comments.length, 1)
  t.match(g.gh.comments[0].body, 'The PR is closed; its environment was removed.')
  const states = g.gh.deployments[0].statuses.map(s => s.state)
  t.equal(states[states.length - 1], 'inactive')

  await waitFor(() => !g.h.wg.manager.envs.has('example/21'), 10_000, 'forgotten')
  t.notOk(await g.h.wg.store.get('example/21'), 'record deleted')
  const after = await g.h.get('pr-21.review.test', '/')
  t.equal(after.status, 404, 'closed PR: not known, the API says closed')
  t.equal(g.starts(), 1)
})

t.test('reopened revives a closed env (and the same comment is edited)', async t => {
  const g = await githubGateway(t)
  const pull = g.pull(22)
  await g.pr('opened', pull)
  pull.state = 'closed'
  await g.pr('closed', pull)
  t.equal(g.h.wg.manager.envs.get('example/22')!.state, 'destroyed')
  pull.state = 'open'
  const res = await g.pr('reopened', pull)
  t.equal(res.body.results[0].action, 'registered')
  t.equal(g.h.wg.manager.envs.get('example/22')!.state, 'asleep')
  const page = await g.h.get('pr-22.review.test', '/info')
  t.equal(page.status, 200)
  await g.settle()
  t.equal(g.gh.comments.length, 1, 'still one comment')
  t.match(g.gh.comments[0].body, 'Running')
})

t.test('closed for a PR without an env is a no-op', async t => {
  const g = await githubGateway(t)
  const pull = g.pull(23, { state: 'closed' })
  const res = await g.pr('closed', pull)
  t.equal(res.status, 200)
  t.equal(res.body.results[0].action, 'ignored')
  t.equal(g.h.wg.manager.envs.size, 0)
  t.equal((await g.h.get('pr-23.review.test', '/')).status, 404)
  t.equal(g.gh.count('GET', /\/pulls\/23$/), 0, 'the closed event answered the gate: no API lookup')
})
