import t, { type Test } from 'tap'
import { request } from 'undici'
import { githubGateway } from './support/fake-github-gateway.js'
import { alive, waitFor } from './support/harness.js'

// PRs closed without a `closed` webhook reaching wakegate: the sweep lists each repo's open
// PRs once, confirms a missing one with pulls.get, and destroys its env like the webhook.
const LIST = /^\/repos\/acme\/web\/pulls$/
const GET = (pr: number) => new RegExp(`^/repos/acme/web/pulls/${pr}$`)

async function twoRunning (t: Test, github: Record<string, unknown> = {}) {
  const g = await githubGateway(t, { github: { prSweepInterval: '10m', ...github } })
  const p5 = g.pull(5)
  const p6 = g.pull(6)
  await g.pr('opened', p5)
  await g.pr('opened', p6)
  const pid5 = JSON.parse((await g.h.get('pr-5.review.test', '/info')).body).pid as number
  const pid6 = JSON.parse((await g.h.get('pr-6.review.test', '/info')).body).pid as number
  await g.settle()
  return { g, p5, p6, pid5, pid6 }
}

t.test('PR 5 closed without a webhook: the sweep destroys its env and stops its task; PR 6 is untouched', async t => {
  const { g, p5, pid5, pid6 } = await twoRunning(t)
  p5.state = 'closed'
  const before = { list: g.gh.count('GET', LIST), get5: g.gh.count('GET', GET(5)) }
  await g.github.prSweep.run()

  const env5 = g.h.wg.manager.envs.get('example/5')!
  t.equal(env5.state, 'destroyed')
  const gone = await g.h.get('pr-5.review.test', '/')
  t.equal(gone.status, 410, 'tombstone, as after the closed webhook')
  await waitFor(() => !alive(pid5), 10_000, 'task of PR 5 stopped')
  t.equal(g.h.wg.manager.envs.get('example/6')!.state, 'running')
  t.equal(JSON.parse((await g.h.get('pr-6.review.test', '/info')).body).pid, pid6, 'PR 6 keeps its task')
  t.ok(alive(pid6))

  t.equal(g.gh.count('GET', LIST) - before.list, 1, 'one listing for the repo')
  const listing = g.gh.calls.filter(c => LIST.test(c.path)).pop()!
  t.equal(listing.query.get('state'), 'open')
  t.equal(listing.query.get('per_page'), '100')
  t.equal(g.gh.count('GET', GET(5)) - before.get5, 1, 'the missing PR is confirmed once')
  t.equal(g.gh.count('GET', GET(6)), 0, 'no call for a PR the listing shows open')
  t.equal(g.github.prSweep.counters.swept, 1)

  await g.settle()
  const comment5 = g.gh.comments.find(c => c.issue === 5)!
  t.match(comment5.body, 'The PR is closed; its environment was removed.')
  const d5 = g.gh.deployments.find(d => d.environment === 'pr-5')!
  t.equal(d5.statuses[d5.statuses.length - 1].state, 'inactive')
  const d6 = g.gh.deployments.find(d => d.environment === 'pr-6')!
  t.equal(d6.statuses[d6.statuses.length - 1].state, 'success')

  await g.github.prSweep.run()
  t.equal(g.gh.count('GET', GET(5)) - before.get5, 1, 'a destroyed env is not asked about again')
  const metrics = await (await request(`${g.h.wg.adminUrl}/metrics`)).body.text()
  t.match(metrics, /wakegate_github_pr_sweep_total\{kind="swept"\} 1/)
})

t.test('an API outage during a sweep destroys nothing; the next sweep does', async t => {
  const { g, p5, pid5 } = await twoRunning(t, { retries: 0 })
  p5.state = 'closed'

  g.gh.fail('GET', LIST, { status: 502, times: 1_000 })
  await g.github.prSweep.run()
  t.equal(g.h.wg.manager.envs.get('example/5')!.state, 'running', 'listing failed: nothing destroyed')
  t.equal(g.gh.count('GET', GET(5)), 0)
  t.equal(g.github.prSweep.counters.failures, 1)

  g.gh.clearFaults()
  g.gh.fail('GET', GET(5), { status: 503, times: 1_000 })
  await g.github.prSweep.run()
  t.equal(g.h.wg.manager.envs.get('example/5')!.state, 'running', 'closed state not confirmed: nothing destroyed')
  t.equal(g.github.prSweep.counters.failures, 2)
  t.ok(alive(pid5))

  g.gh.clearFaults()
  await g.github.prSweep.run()
  t.equal(g.h.wg.manager.envs.get('example/5')!.state, 'destroyed', 'the API is back: destroyed')
  t.equal(g.h.wg.manager.envs.get('example/6')!.state, 'running')
})

t.test('a listing that misses open PRs destroys nothing they own: each is confirmed first', async t => {
  const { g, p5 } = await twoRunning(t)
  p5.state = 'closed'
  g.gh.fail('GET', LIST, { status: 200, body: [] }) // a glitch: no PR listed as open
  await g.github.prSweep.run()
  t.equal(g.h.wg.manager.envs.get('example/6')!.state, 'running', 'PR 6 is open per pulls.get: kept')
  t.equal(g.gh.count('GET', GET(6)), 1)
  t.equal(g.h.wg.manager.envs.get('example/5')!.state, 'destroyed')
})

t.test('the listing is paginated: an open PR on the second page keeps its env', async t => {
  const { g } = await twoRunning(t)
  for (let n = 100; n < 250; n++) g.pull(n) // 150 more open PRs, newer than 5 and 6
  await g.github.prSweep.run()
  t.equal(g.gh.count('GET', LIST), 2, 'two pages of 100')
  t.equal(g.gh.count('GET', GET(5)) + g.gh.count('GET', GET(6)), 0, 'both found open on page 2')
  t.equal(g.h.wg.manager.envs.get('example/5')!.state, 'running')
})

t.test('at boot: envs known before any webhook (config) are swept once the gateway listens', async t => {
  const g = await githubGateway(t, { app: { prs: [{ number: 7, sha: 'a7a7a7a7' }, { number: 8, sha: 'a8a8a8a8' }] } })
  g.pull(7, { state: 'closed' })
  g.pull(8)
  await waitFor(() => g.github.prSweep.counters.runs >= 1, 10_000, 'boot sweep')
  t.equal(g.h.wg.manager.envs.get('example/7')!.state, 'destroyed')
  t.equal(g.h.wg.manager.envs.get('example/8')!.state, 'asleep')
  t.equal((await g.h.get('pr-7.review.test', '/')).status, 410)
  t.equal(g.gh.count('GET', LIST), 1)
  t.equal(g.gh.count('GET', GET(7)), 1)
  t.equal(g.gh.count('GET', GET(8)), 0)
})

t.test('every prSweepInterval: a PR closed later is swept without a webhook or a request', async t => {
  const g = await githubGateway(t, { github: { prSweepInterval: '100ms' } })
  const pull = g.pull(9)
  await g.pr('opened', pull)
  await waitFor(() => g.github.prSweep.counters.runs >= 2, 10_000, 'sweeps with the PR open')
  t.equal(g.h.wg.manager.envs.get('example/9')!.state, 'asleep', 'open PR kept')
  pull.state = 'closed'
  await waitFor(() => g.h.wg.manager.envs.get('example/9')?.state === 'destroyed', 10_000, 'swept')
  t.equal(g.gh.count('GET', GET(9)), 1)
  t.equal(g.github.prSweep.counters.swept, 1)
})

t.test('prSweepInterval 0 turns the sweep off', async t => {
  const off = await githubGateway(t, { github: { prSweepInterval: 0 }, app: { prs: [{ number: 10, sha: 'a1a1a1a1' }] } })
  off.pull(10, { state: 'closed' })
  // A second gateway on the same fake with the sweep on: once its boot sweep is done, the
  // first one's would have been too.
  const on = await githubGateway(t, { fake: off.gh, app: { prs: [{ number: 10, sha: 'a1a1a1a1' }] } })
  await waitFor(() => on.github.prSweep.counters.runs >= 1, 10_000, 'boot sweep of the other gateway')
  t.equal(on.h.wg.manager.envs.get('example/10')!.state, 'destroyed')
  t.equal(off.gh.count('GET', LIST), 1, 'one listing: the gateway with the sweep off made none')
  t.equal(off.github.prSweep.counters.runs, 0)
  t.equal(off.h.wg.manager.envs.get('example/10')!.state, 'asleep')
})
