import t from 'tap'
import { githubGateway } from './support/fake-github-gateway.js'
import { checkSuiteEvent } from './support/fake-github.js'

// A delivery whose decision needs the API while the API is unavailable is answered 5xx,
// changes nothing and is not recorded, so GitHub's redelivery (same id) is handled.
const TEAMS = /^\/orgs\/acme\/teams\/reviewers\/memberships\//
const SUITES = /\/commits\/[0-9a-f]+\/check-suites$/

t.test('allowAuthors team lookup failing (5xx): 503, no env; the redelivery registers it', async t => {
  const g = await githubGateway(t, { policy: { allowAuthors: ['acme/reviewers'], warm: true }, github: { retries: 1 } })
  g.gh.teams.set('acme/reviewers', new Set(['hubot']))
  const pull = g.pull(51, { author: 'hubot' })
  g.gh.fail('GET', TEAMS, { status: 502, times: 1_000 })
  const id = 'team-lookup-down-51'

  const first = await g.pr('opened', pull, { id })
  t.equal(first.status, 503)
  t.equal(first.body.error, 'WAKEGATE_GITHUB_UNAVAILABLE')
  t.notOk(g.h.wg.manager.envs.get('example/51'), 'no env')
  t.equal(g.starts(), 0, 'no warm start')
  t.equal(g.gh.count('GET', TEAMS, 502), 2, 'the lookup was tried (one retry)')
  t.equal(g.github.webhooks.counters.deferred, 1)
  t.equal(g.github.webhooks.counters.handled, 0)

  g.gh.clearFaults()
  const again = await g.pr('opened', pull, { id })
  t.equal(again.status, 200)
  t.same(again.body.results, [{ app: 'example', pr: 51, action: 'registered', warm: true }], 'the redelivery is handled, not a duplicate')
  t.ok(g.h.wg.manager.envs.get('example/51'))
  t.same((await g.pr('opened', pull, { id })).body, { delivery: id, duplicate: true }, 'once handled, it is recorded')
})

t.test('a rate limit beyond the wait: 503, no env; once it ends the redelivery registers it', async t => {
  const g = await githubGateway(t, { policy: { allowAuthors: ['acme/reviewers'] } })
  g.gh.teams.set('acme/reviewers', new Set(['hubot']))
  const pull = g.pull(52, { author: 'hubot' })
  g.gh.rateLimit('GET', TEAMS, 1, 3_600_000)
  const first = await g.pr('opened', pull, { id: 'rate-limited-52' })
  t.equal(first.status, 503)
  t.notOk(g.h.wg.manager.envs.get('example/52'))
  t.equal((await g.h.get('pr-52.review.test', '/')).status, 503, 'the known-PR gate cannot decide either: retry later, not 404')
  t.notOk(g.h.wg.manager.envs.get('example/52'), 'still no env')

  g.github.client.blockedUntil = 0 // the limit resets
  const again = await g.pr('opened', pull, { id: 'rate-limited-52' })
  t.equal(again.status, 200)
  t.equal(again.body.results[0].action, 'registered')
})

t.test('a 404 from the team lookup is an answer: ignored with 200, and recorded', async t => {
  const g = await githubGateway(t, { policy: { allowAuthors: ['acme/reviewers'] } })
  const pull = g.pull(55, { author: 'mallory' })
  const res = await g.pr('opened', pull, { id: 'not-a-member-55' })
  t.equal(res.status, 200)
  t.equal(res.body.results[0].action, 'ignored')
  t.same((await g.pr('opened', pull, { id: 'not-a-member-55' })).body.duplicate, true)
})

t.test('waitForCi: the CI verdict lookup failing is not "pending": 503, nothing held; the redelivery deploys', async t => {
  const g = await githubGateway(t, { policy: { waitForCi: true }, github: { retries: 0 } })
  const pull = g.pull(53)
  g.gh.setCi('acme/web', pull.sha, { suites: [{ status: 'completed', conclusion: 'success' }], statuses: [{ context: 'ci', state: 'success' }] })
  g.gh.fail('GET', SUITES, { status: 500, times: 1_000 })
  const id = 'ci-lookup-down-53'
  const first = await g.pr('opened', pull, { id })
  t.equal(first.status, 503)
  t.notOk(g.h.wg.manager.envs.get('example/53'))
  t.notOk(g.github.waitCi.held.has('example/53'), 'not held waiting for a check event that already came')

  g.gh.clearFaults()
  const again = await g.pr('opened', pull, { id })
  t.equal(again.status, 200)
  t.equal(again.body.results[0].action, 'registered', 'CI had passed: deployed')
  await g.settle()
  t.notMatch(g.gh.comments[0]?.body ?? '', 'Waiting for CI')
})

t.test('waitForCi: a check_suite event whose verdict lookup fails is redelivered and then releases the SHA', async t => {
  const g = await githubGateway(t, { policy: { waitForCi: true }, github: { retries: 0 } })
  const pull = g.pull(54)
  g.gh.setCi('acme/web', pull.sha, { suites: [{ status: 'in_progress', conclusion: null }] })
  t.equal((await g.pr('opened', pull)).body.results[0].action, 'waiting-for-ci')
  t.ok(g.github.waitCi.held.has('example/54'))

  g.gh.setCi('acme/web', pull.sha, { suites: [{ status: 'completed', conclusion: 'success' }] })
  g.gh.fail('GET', SUITES, { status: 503, times: 1_000 })
  const id = 'suite-done-54'
  const first = await g.send('check_suite', checkSuiteEvent('acme/web', pull.sha, 'success'), { id })
  t.equal(first.status, 503)
  t.ok(g.github.waitCi.held.has('example/54'), 'still held')
  t.notOk(g.h.wg.manager.envs.get('example/54'), 'no env yet')

  g.gh.clearFaults()
  const again = await g.send('check_suite', checkSuiteEvent('acme/web', pull.sha, 'success'), { id })
  t.equal(again.status, 200)
  t.equal(again.body.results[0].action, 'registered')
  t.notOk(g.github.waitCi.held.has('example/54'))
  t.ok(g.h.wg.manager.envs.get('example/54'))
})
