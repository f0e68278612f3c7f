import t from 'tap'
import { githubGateway } from './support/fake-github-gateway.js'

t.test('a closed or non-existent PR gets the 404 page and starts nothing', async t => {
  const g = await githubGateway(t)
  g.pull(61, { state: 'closed' })
  const backend = g.h.backends.get('example')!
  const callsBefore = backend.total

  const closed = await g.h.get('pr-61.review.test', '/', { accept: 'text/html', 'sec-fetch-mode': 'navigate' })
  t.equal(closed.status, 404)
  t.match(closed.body, 'This pull request has no review environment.')
  t.equal(closed.headers['x-wakegate-error'], 'WAKEGATE_UNKNOWN_PR')

  const missing = await g.h.get('pr-62.review.test', '/api/thing')
  t.equal(missing.status, 404)
  t.equal(JSON.parse(missing.body).error, 'WAKEGATE_UNKNOWN_PR')

  t.equal(g.starts(), 0)
  t.equal(backend.total, callsBefore, 'no backend call at all')
  t.equal(g.h.wg.manager.envs.size, 0)

  // Answers are cached: a scan of the same hosts costs no more API calls.
  for (let i = 0; i < 5; i++) {
    await g.h.get('pr-61.review.test', '/')
    await g.h.get('pr-62.review.test', '/')
  }
  t.equal(g.gh.count('GET', /\/pulls\/61$/), 1)
  t.equal(g.gh.count('GET', /\/pulls\/62$/), 1)
})

t.test('an open PR not seen by webhook is confirmed through the API on its first request', async t => {
  const g = await githubGateway(t)
  const pull = g.pull(63, { branch: 'feature/api', author: 'mona', title: 'From the API' })
  const res = await g.h.get('pr-63.review.test', '/info')
  t.equal(res.status, 200)
  const info = JSON.parse(res.body)
  t.equal(info.sha, pull.sha)
  t.equal(info.branch, 'feature/api')
  const env = g.h.wg.manager.envs.get('example/63')!
  t.equal(env.source, 'github-api')
  t.equal(env.author, 'mona')
  t.equal(g.starts(), 1)
  t.equal(g.gh.count('GET', /\/pulls\/63$/), 1)
  await g.h.get('pr-63.review.test', '/info')
  t.equal(g.gh.count('GET', /\/pulls\/63$/), 1, 'known now: no further lookup')
  await g.settle()
  t.equal(g.gh.comments.length, 1, 'it gets its comment too')
})

t.test('concurrent first requests for one unknown PR make one API call and one start', async t => {
  const g = await githubGateway(t)
  g.pull(64)
  const all = await Promise.all(Array.from({ length: 20 }, () => g.h.get('pr-64.review.test', '/info')))
  t.same(all.map(r => r.status), Array(20).fill(200))
  t.equal(g.gh.count('GET', /\/pulls\/64$/), 1)
  t.equal(g.starts(), 1)
})

t.test('the gate applies the policies (a fork PR found through the API cannot wake)', async t => {
  const g = await githubGateway(t)
  g.pull(65, { fork: 'mallory/web' })
  t.equal((await g.h.get('pr-65.review.test', '/')).status, 404)
  t.equal(g.starts(), 0)
})
