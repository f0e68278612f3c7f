import t from 'tap'
import { githubGateway } from './support/fake-github-gateway.js'
import { waitFor } from './support/harness.js'
import { admit, evictions, ciVerdict } from '../src/github/policy.js'

const key = (pr: number) => `example/${pr}`

t.test('drafts are skipped by default until ready_for_review', async t => {
  const g = await githubGateway(t, { policy: { warm: true } })
  const pull = g.pull(41, { draft: true })
  const res = await g.pr('opened', pull)
  t.same(res.body.results, [{ app: 'example', pr: 41, action: 'ignored', reason: 'draft PR (skipDrafts)' }])
  t.notOk(g.h.wg.manager.envs.get(key(41)))
  t.equal((await g.h.get('pr-41.review.test', '/')).status, 404, 'a draft cannot wake through the known-PR gate either')
  t.equal(g.starts(), 0)

  pull.draft = false
  const ready = await g.pr('ready_for_review', pull)
  t.equal(ready.body.results[0].action, 'registered')
  await waitFor(() => g.h.wg.manager.envs.get(key(41))?.state === 'running', 15_000, 'warm start')

  pull.draft = true
  const back = await g.pr('converted_to_draft', pull)
  t.equal(back.body.results[0].action, 'removed', 'back to draft: the env goes')
  t.notOk(g.h.wg.manager.envs.get(key(41)))
  t.equal((await g.h.get('pr-41.review.test', '/')).status, 404)
  await g.settle()
  t.match(g.gh.comments[0].body, 'No environment: draft PR')
})

t.test('skipDrafts: false gives drafts an env', async t => {
  const g = await githubGateway(t, { policy: { skipDrafts: false } })
  const res = await g.pr('opened', g.pull(42, { draft: true }))
  t.equal(res.body.results[0].action, 'registered')
})

t.test('requireLabel: only labelled PRs; labeled registers, unlabeled removes', async t => {
  const g = await githubGateway(t, { policy: { requireLabel: 'review-app' } })
  const pull = g.pull(43)
  t.equal((await g.pr('opened', pull)).body.results[0].action, 'ignored')
  t.equal((await g.h.get('pr-43.review.test', '/')).status, 404)

  pull.labels = ['bug']
  t.equal((await g.pr('labeled', pull, { label: 'bug' })).body.results[0].action, 'ignored', 'another label')
  pull.labels = ['bug', 'Review-App']
  t.equal((await g.pr('labeled', pull, { label: 'Review-App' })).body.results[0].action, 'registered', 'label match ignores case')
  t.equal((await g.h.get('pr-43.review.test', '/info')).status, 200)

  pull.labels = ['Review-App']
  t.equal((await g.pr('unlabeled', pull, { label: 'bug' })).body.results[0].action, 'ignored', 'removing another label keeps the env')
  pull.labels = []
  t.equal((await g.pr('unlabeled', pull, { label: 'Review-App' })).body.results[0].action, 'removed')
  t.notOk(g.h.wg.manager.envs.get(key(43)))
  t.equal((await g.h.get('pr-43.review.test', '/')).status, 404)
  t.equal(g.starts(), 1)
})

t.test('fork PRs are off by default; allowForks turns them on', async t => {
  const g = await githubGateway(t)
  const pull = g.pull(44, { fork: 'mallory/web' })
  const res = await g.pr('opened', pull)
  t.same(res.body.results[0], { app: 'example', pr: 44, action: 'ignored', reason: 'PR from a fork (allowForks is off)' })
  t.equal((await g.h.get('pr-44.review.test', '/')).status, 404, 'nor through the API lookup')
  t.equal(g.starts(), 0)

  const g2 = await githubGateway(t, { policy: { allowForks: true } })
  t.equal((await g2.pr('opened', g2.pull(44, { fork: 'mallory/web' }))).body.results[0].action, 'registered')
})

t.test('allowAuthors: logins and org/team members', async t => {
  const g = await githubGateway(t, { policy: { allowAuthors: ['Mona', 'acme/reviewers'] } })
  g.gh.teams.set('acme/reviewers', new Set(['hubot']))
  t.equal((await g.pr('opened', g.pull(45, { author: 'mona' }))).body.results[0].action, 'registered', 'login, any case')
  t.equal((await g.pr('opened', g.pull(46, { author: 'hubot' }))).body.results[0].action, 'registered', 'team member')
  const res = await g.pr('opened', g.pull(47, { author: 'mallory' }))
  t.equal(res.body.results[0].action, 'ignored')
  t.match(res.body.results[0].reason, 'not in allowAuthors')
  t.equal(g.gh.count('GET', /\/orgs\/acme\/teams\/reviewers\/memberships\//), 2, 'teams asked only when the login is not listed')
  t.equal((await g.h.get('pr-47.review.test', '/')).status, 404)
})

t.test('maxRunning: the oldest idle env is put to sleep to make room', async t => {
  const g = await githubGateway(t, { policy: { maxRunning: 2 } })
  for (const n of [51, 52, 53]) await g.pr('opened', g.pull(n))
  const m = g.h.wg.manager
  t.equal((await g.h.get('pr-51.review.test', '/info')).status, 200)
  t.equal((await g.h.get('pr-52.review.test', '/info')).status, 200)
  await g.h.get('pr-51.review.test', '/info') // 52 is now the one used longest ago
  t.equal((await g.h.get('pr-53.review.test', '/info')).status, 200)
  await waitFor(() => m.envs.get(key(52))!.state === 'asleep', 10_000, '52 put to sleep')
  t.equal(m.envs.get(key(51))!.state, 'running')
  t.equal(m.envs.get(key(53))!.state, 'running')
  t.equal(g.github.capacity.evicted, 1)
  t.equal(g.starts(), 3)
})

t.test('policy functions', async t => {
  const base = { warm: false, skipDrafts: true, allowForks: false, waitForCi: false, deploymentEnvironment: 'pr-{pr}', tombstone: 0, comment: true, deployments: true }
  const pr = { state: 'open' as const, draft: false, labels: [], fork: false, author: 'a' }
  t.same(admit(base, pr), { ok: true })
  t.same(admit(base, { ...pr, state: 'closed' }), { ok: false, reason: 'the PR is closed' })
  t.same(evictions([
    { key: 'a', state: 'running', lastSeen: 1, busy: true },
    { key: 'b', state: 'running', lastSeen: 2, busy: false },
    { key: 'c', state: 'running', lastSeen: 3, busy: false },
    { key: 'd', state: 'waking', lastSeen: 0, busy: false },
    { key: 'e', state: 'asleep', lastSeen: 0, busy: false }
  ], 2, 'd'), ['b', 'c'], 'busy envs and the starting one are spared; asleep ones do not count')
  t.same(evictions([{ key: 'a', state: 'running', lastSeen: 1, busy: true }, { key: 'b', state: 'waking', lastSeen: 2, busy: false }], 1, 'b'), [], 'all busy: over the limit rather than cutting someone off')
  const none = { state: 'pending', total_count: 0 }
  t.equal(ciVerdict([], none), 'pending', 'no signal: pending')
  t.equal(ciVerdict([{ status: 'completed', conclusion: 'success' }], none), 'success')
  t.equal(ciVerdict([{ status: 'completed', conclusion: 'success' }, { status: 'queued', conclusion: null, latest_check_runs_count: 0 }], none), 'success', 'suites with no runs do not count')
  t.equal(ciVerdict([{ status: 'in_progress', conclusion: null }], none), 'pending')
  t.equal(ciVerdict([{ status: 'completed', conclusion: 'failure' }], none), 'failure')
  t.equal(ciVerdict([], { state: 'success', total_count: 2 }), 'success')
  t.equal(ciVerdict([{ status: 'completed', conclusion: 'success' }], { state: 'error', total_count: 1 }), 'failure')
})
