import t from 'tap'
import { githubGateway, waitFor } from './support/fake-github-gateway.js'
import { FakeGitHub, type FakeDeployment } from './support/fake-github.js'

// Deployments an earlier gateway process created are not in this process's memory: a new
// SHA's success and a close must still leave none of them live.
const latest = (d: FakeDeployment) => d.statuses[d.statuses.length - 1]?.state
/** Listings of a whole environment (not the per-SHA lookup before creating one). */
const envListings = (gh: FakeGitHub) => gh.calls.filter(c => c.method === 'GET' && /\/deployments$/.test(c.path) && c.query.has('environment') && !c.query.has('sha')).length

t.test('after a restart, a new SHA retires the old deployment and a close retires all', async t => {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  const a = await githubGateway(t, { fake: gh })
  const pull = a.pull(91)
  await a.pr('opened', pull)
  t.equal((await a.h.get('pr-91.review.test', '/info')).status, 200)
  await a.settle()
  await a.close()
  t.equal(gh.deployments.length, 1)
  const [first] = gh.deployments
  t.equal(latest(first), 'success', 'gateway A left its deployment live')

  // Gateway B: fresh process state, same GitHub.
  const b = await githubGateway(t, { fake: gh })
  pull.sha = 'c0ffee0000000000000000000000000000000091'
  t.equal((await b.pr('synchronize', pull)).body.results[0].action, 'registered')
  t.equal((await b.h.get('pr-91.review.test', '/info')).status, 200)
  await b.settle()
  t.equal(gh.deployments.length, 2)
  const second = gh.deployments[1]
  t.equal(second.sha, pull.sha)
  t.equal(latest(second), 'success')
  t.equal(latest(first), 'inactive', "the earlier process's deployment is retired")
  t.match(first.statuses[first.statuses.length - 1].description, 'Replaced by c0ffee0')
  t.equal(gh.count('GET', new RegExp(`/deployments/${first.id}/statuses$`)), 1, 'one status lookup for the deployment B never saw')
  t.equal(gh.count('GET', new RegExp(`/deployments/${second.id}/statuses$`)), 0, 'none for its own')
  const listings = envListings(gh)

  // Asleep and woken again on the same SHA: nothing new can be live, so no new listing.
  const env = b.h.wg.manager.envs.get('example/91')!
  b.h.wg.manager.sleep(env, 'test')
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep')
  t.equal((await b.h.get('pr-91.review.test', '/info')).status, 200)
  await b.settle()
  t.equal(latest(second), 'success')
  t.equal(envListings(gh), listings, 'a wake of the same SHA does not list the environment again')

  pull.state = 'closed'
  t.equal((await b.pr('closed', pull)).body.results[0].action, 'destroyed')
  await b.settle()
  t.same(gh.deployments.map(latest), ['inactive', 'inactive'], 'closed: every deployment inactive')
  t.equal(envListings(gh), listings + 1, 'a close lists the environment once')
  t.equal(first.statuses.filter(s => s.state === 'inactive').length, 1, 'the retired one is not set inactive twice')
  t.equal(gh.comments.length, 1, 'one comment across both processes')
  t.match(gh.comments[0].body, 'The PR is closed')
})

t.test('a close reaching a gateway that never knew the env retires its deployments and updates the comment', async t => {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  const a = await githubGateway(t, { fake: gh })
  const pull = a.pull(92)
  await a.pr('opened', pull)
  t.equal((await a.h.get('pr-92.review.test', '/info')).status, 200)
  await a.settle()
  await a.close()
  t.equal(latest(gh.deployments[0]), 'success')

  const b = await githubGateway(t, { fake: gh })
  pull.state = 'closed'
  t.equal((await b.pr('closed', pull)).body.results[0].action, 'ignored', 'no env in this process')
  await b.settle()
  t.equal(latest(gh.deployments[0]), 'inactive')
  t.equal(gh.deployments.length, 1, 'no deployment created')
  t.equal(gh.comments.length, 1, 'no second comment')
  t.match(gh.comments[0].body, 'the PR is closed')
  t.notMatch(gh.comments[0].body, 'Running')
})

t.test('the environment listing is paginated: deployments past the first page are retired too', async t => {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  // 103 deployments left by earlier processes in this PR's environment; the 3 oldest (on the
  // second page, as the listing is newest first) are still live.
  for (let i = 0; i < 103; i++) {
    gh.deployments.push({ id: 50_000 + i, repo: 'acme/web', ref: 'x', sha: (i + 1).toString(16).padStart(40, '0'), environment: 'pr-93', transient_environment: true, production_environment: false, payload: {}, statuses: [{ id: 60_000 + i, state: i < 3 ? 'success' : 'inactive', description: '' }] })
  }
  gh.deployments.push({ id: 49_000, repo: 'acme/web', ref: 'y', sha: 'f'.repeat(40), environment: 'pr-930', transient_environment: true, production_environment: false, payload: {}, statuses: [{ id: 59_000, state: 'success', description: 'Running' }] })
  const g = await githubGateway(t, { fake: gh })
  const pull = g.pull(93, { state: 'closed' })
  await g.pr('closed', pull)
  await g.settle()
  const mine = gh.deployments.filter(d => d.environment === 'pr-93')
  t.equal(mine.filter(d => latest(d) === 'inactive').length, 103)
  t.equal(gh.count('POST', /\/deployments\/\d+\/statuses$/), 3, 'only the live ones get a status')
  t.equal(latest(gh.deployments.find(d => d.environment === 'pr-930')!), 'success', 'another environment is left alone')
  t.equal(gh.count('GET', /\/repos\/acme\/web\/deployments$/), 2, 'two pages of 100')
})
