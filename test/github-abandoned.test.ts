import t from 'tap'
import { githubGateway } from './support/fake-github-gateway.js'
import { waitFor } from './support/harness.js'

const DAY = 86_400_000

t.test('ttlDays: an env without requests or pushes is put to sleep and marked stale; a request wakes it', async t => {
  const g = await githubGateway(t, { policy: { ttlDays: 14 } })
  const pull = g.pull(111)
  await g.pr('opened', pull)
  await g.pr('opened', g.pull(112))
  t.equal((await g.h.get('pr-111.review.test', '/info')).status, 200)
  const env = g.h.wg.manager.envs.get('example/111')!
  const sweep = g.github.abandoned

  t.same(sweep.sweep(Date.now() + 13 * DAY), [], 'not yet')
  t.same(sweep.sweep(Date.now() + 15 * DAY).sort(), ['example/111', 'example/112'])
  t.same(sweep.sweep(Date.now() + 16 * DAY), [], 'marked once')
  await waitFor(() => env.state === 'asleep', 10_000, 'put to sleep')
  t.equal(env.meta.stale, true)
  t.equal((await g.h.wg.store.get('example/111'))?.meta?.stale, true, 'stale on the record')
  await g.settle()
  const comment = g.gh.comments.find(c => c.issue === 111)!
  t.match(comment.body, 'Stale: no request and no push for 14 days')
  t.match(g.gh.comments.find(c => c.issue === 112)!.body, 'Stale')
  t.equal(g.gh.deployments[0].statuses.at(-1)!.state, 'inactive')
  t.equal(g.gh.deployments[0].statuses.at(-1)!.description, 'Stale: put to sleep')

  t.equal((await g.h.get('pr-111.review.test', '/info')).status, 200, 'wakes again on request')
  t.notOk(env.meta.stale, 'no longer stale')
  await g.settle()
  t.match(comment.body, 'Running')
  t.equal(g.starts(), 2)
})

t.test('a push counts as activity', async t => {
  const g = await githubGateway(t, { policy: { ttlDays: 1 } })
  const pull = g.pull(113)
  await g.pr('opened', pull)
  const env = g.h.wg.manager.envs.get('example/113')!
  env.lastSeen = Date.now() - 3 * DAY
  pull.sha = 'beef000000000000000000000000000000000003'
  await g.pr('synchronize', pull)
  t.same(g.github.abandoned.sweep(), [], 'pushed just now')
  t.same(g.github.abandoned.sweep(Date.now() + 2 * DAY), ['example/113'])
})

t.test('apps without ttlDays are never marked', async t => {
  const g = await githubGateway(t)
  await g.pr('opened', g.pull(114))
  t.same(g.github.abandoned.sweep(Date.now() + 365 * DAY), [])
})
