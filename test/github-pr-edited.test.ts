import t from 'tap'
import { githubGateway } from './support/fake-github-gateway.js'

t.test('edited updates the record (title), starts nothing and keeps the SHA', async t => {
  const g = await githubGateway(t)
  const pull = g.pull(12, { title: 'WIP: checkout' })
  await g.pr('opened', pull)
  pull.title = 'Checkout with saved cards'
  const res = await g.pr('edited', pull)
  t.same(res.body.results, [{ app: 'example', pr: 12, action: 'updated' }])
  const env = g.h.wg.manager.envs.get('example/12')!
  t.equal(env.title, 'Checkout with saved cards')
  t.equal(env.sha, pull.sha)
  t.equal(g.starts(), 0)
  const rec = await g.h.wg.store.get('example/12')
  t.equal(rec?.title, 'Checkout with saved cards', 'the store record follows')
})

t.test('edited for a PR without an env does not create one', async t => {
  const g = await githubGateway(t)
  const pull = g.pull(13)
  const res = await g.pr('edited', pull)
  t.equal(res.body.results[0].action, 'ignored')
  t.notOk(g.h.wg.manager.envs.get('example/13'))
})
