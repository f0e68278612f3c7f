import t from 'tap'
import { githubGateway, REPO } from './support/fake-github-gateway.js'
import { FakeGitHub } from './support/fake-github.js'
import { waitFor } from './support/harness.js'

t.test('a burst of events makes one comment, edited in place', async t => {
  const g = await githubGateway(t, { github: { feedbackDebounce: '200ms' } })
  const pull = g.pull(71)
  await g.pr('opened', pull)
  pull.title = 'Renamed'
  await g.pr('edited', pull)
  await g.pr('labeled', pull, { label: 'x' })
  await g.h.get('pr-71.review.test', '/info') // waking, running
  pull.sha = 'bead000000000000000000000000000000000001'
  await g.pr('synchronize', pull)
  await waitFor(() => g.h.wg.manager.envs.get('example/71')!.runningSha === pull.sha, 15_000, 'redeployed')
  await g.settle()

  t.equal(g.gh.count('POST', /\/issues\/71\/comments$/), 1, 'created once')
  t.equal(g.gh.comments.length, 1)
  t.ok(g.gh.count('PATCH', /\/issues\/comments\/\d+$/) >= 1, 'then edited')
  const body = g.gh.comments[0].body
  t.match(body, 'Running `bead000`', 'shows the SHA deployed')
  t.match(body, 'https://pr-71.review.test/', 'the URL')
  t.match(body, /Last wake \| \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ, took/, 'last wake')
  t.match(body, 'starts on the first request', 'how to wake')
  const edits = g.gh.count('PATCH', /\/issues\/comments\//)
  t.ok(edits <= 6, `debounced: ${edits} edits for a dozen state changes`)
  t.equal(g.github.feedback.counters.errors, 0)
})

t.test('after a restart the existing comment is found by its marker and edited', async t => {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  // Somebody else's comment first, and enough comments to need a second page.
  for (let i = 0; i < 120; i++) gh.comments.push({ id: i + 1, repo: REPO, issue: 72, body: `chatter ${i}`, user: 'mona' })

  const first = await githubGateway(t, { fake: gh })
  const pull = first.pull(72)
  await first.pr('opened', pull)
  await first.settle()
  t.equal(gh.count('POST', /\/issues\/72\/comments$/), 1)
  const mine = gh.comments.find(c => c.body.includes('wakegate:env=example/72'))!
  await first.close()

  const second = await githubGateway(t, { fake: gh })
  pull.title = 'After restart'
  await second.pr('opened', pull) // the new gateway learns the PR again
  await second.h.get('pr-72.review.test', '/info')
  await second.settle()
  t.equal(gh.count('POST', /\/issues\/72\/comments$/), 1, 'no second comment')
  t.ok(gh.count('GET', /\/issues\/72\/comments$/) >= 3, 'listed the pages to find it')
  t.match(mine.body, 'Running', 'the same comment now says running')
  t.equal(second.h.wg.manager.envs.get('example/72')!.meta.commentId, mine.id, 'comment id kept on the env record')
})

t.test('a comment deleted by someone is posted again', async t => {
  const g = await githubGateway(t)
  const pull = g.pull(73)
  await g.pr('opened', pull)
  await g.settle()
  g.gh.comments.splice(0, g.gh.comments.length)
  await g.h.get('pr-73.review.test', '/info')
  await g.settle()
  t.equal(g.gh.comments.length, 1)
  t.match(g.gh.comments[0].body, 'Running')
})

t.test('comment: false and deployments: false turn feedback off', async t => {
  const g = await githubGateway(t, { policy: { comment: false, deployments: false } })
  await g.pr('opened', g.pull(74))
  await g.h.get('pr-74.review.test', '/info')
  await g.settle()
  t.equal(g.gh.calls.length, 0)
})
