import t from 'tap'
import { githubGateway } from './support/fake-github-gateway.js'
import { waitFor } from './support/harness.js'

t.test('a redelivered event (same delivery id) does nothing twice', async t => {
  const g = await githubGateway(t, { policy: { warm: true } })
  const pull = g.pull(31)
  const id = '72d3162e-cc78-11e3-81ab-4c9367dc0958'
  const first = await g.pr('opened', pull, { id })
  t.equal(first.status, 200)
  t.equal(first.body.results[0].action, 'registered')
  await waitFor(() => g.h.wg.manager.envs.get('example/31')?.state === 'running', 15_000, 'warm start')

  const again = await g.pr('opened', pull, { id })
  t.equal(again.status, 200)
  t.same(again.body, { delivery: id, duplicate: true })

  // A redelivered close after the env was revived must not destroy it again.
  pull.state = 'closed'
  const closeId = 'close-1'
  await g.pr('closed', pull, { id: closeId })
  pull.state = 'open'
  await g.pr('reopened', pull)
  pull.state = 'closed'
  t.same((await g.pr('closed', pull, { id: closeId })).body.duplicate, true)
  t.not(g.h.wg.manager.envs.get('example/31')!.state, 'destroyed', 'still alive after the duplicate close')
  await waitFor(() => g.h.wg.manager.envs.get('example/31')?.state === 'running', 15_000, 'warm start after reopen')

  await g.settle()
  t.equal(g.starts(), 2, 'one start per opening, none per redelivery')
  t.equal(g.gh.count('POST', /\/issues\/31\/comments$/), 1, 'one comment')
  t.equal(g.github.webhooks.counters.duplicates, 2)
})

t.test('concurrent redeliveries: one is handled', async t => {
  const g = await githubGateway(t, { policy: { warm: true } })
  const pull = g.pull(32)
  const results = await Promise.all(Array.from({ length: 10 }, () => g.pr('opened', pull, { id: 'same-delivery' })))
  t.equal(results.filter(r => r.body.results).length, 1, 'handled once')
  t.equal(results.filter(r => r.body.duplicate).length, 9)
  await waitFor(() => g.h.wg.manager.envs.get('example/32')?.state === 'running', 15_000, 'warm start')
  t.equal(g.starts(), 1)
})
