import t from 'tap'
import { request } from 'undici'
import { githubGateway } from './support/fake-github-gateway.js'
import { waitFor } from './support/harness.js'

t.test('GitHub counters are exported on /metrics', async t => {
  const g = await githubGateway(t, { policy: { warm: true } })
  const pull = g.pull(41)
  await g.pr('opened', pull, { id: 'metrics-1' })
  await g.pr('opened', pull, { id: 'metrics-1' })
  await waitFor(() => g.h.wg.manager.envs.get('example/41')?.state === 'running', 15_000, 'warm start')
  await g.settle()
  const res = await request(`${g.h.wg.adminUrl}/metrics`)
  const text = await res.body.text()
  t.match(text, /wakegate_github_webhooks_total\{kind="duplicates"\} 1/)
  t.match(text, /wakegate_github_webhooks_total\{kind="handled"\} 1/)
  t.match(text, /wakegate_github_feedback_total\{kind="commentsCreated"\} 1/)
  t.match(text, /wakegate_github_api_total\{kind="calls"\} [1-9]/)
})
