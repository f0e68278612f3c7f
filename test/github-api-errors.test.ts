import t from 'tap'
import { githubGateway } from './support/fake-github-gateway.js'
import { waitFor } from './support/harness.js'

t.test('5xx on reads are retried; the comment is still created once', async t => {
  const g = await githubGateway(t)
  g.gh.fail('GET', /\/issues\/1\d\d\/comments$/, { status: 502, times: 2 })
  await g.pr('opened', g.pull(101))
  await g.settle()
  t.equal(g.gh.count('GET', /\/issues\/101\/comments$/, 502), 2)
  t.equal(g.gh.count('GET', /\/issues\/101\/comments$/, 200), 1)
  t.equal(g.gh.comments.length, 1)
  t.ok(g.github.client.counters.retries >= 2)
  t.equal(g.github.feedback.counters.errors, 0)
})

t.test('a failed comment POST is not blindly repeated; the next change creates it once', async t => {
  const g = await githubGateway(t)
  g.gh.fail('POST', /\/issues\/102\/comments$/, { status: 500, times: 1 })
  await g.pr('opened', g.pull(102))
  await g.settle()
  t.equal(g.gh.comments.length, 0, 'the one attempt failed')
  t.equal(g.github.feedback.counters.errors, 1)
  t.equal((await g.h.get('pr-102.review.test', '/info')).status, 200, 'the proxy does not care')
  await g.settle()
  t.equal(g.gh.comments.length, 1)
  t.equal(g.gh.count('POST', /\/issues\/102\/comments$/), 2)
  t.match(g.gh.comments[0].body, 'Running')
})

t.test('rate limits (403 remaining 0, 429 retry-after) are waited out, then the call goes through', async t => {
  const g = await githubGateway(t)
  g.gh.rateLimit('POST', /\/deployments$/, 1, 0)
  g.gh.fail('POST', /\/deployments\/\d+\/statuses$/, { status: 429, headers: { 'retry-after': '0' }, times: 1 })
  await g.pr('opened', g.pull(103))
  await g.h.get('pr-103.review.test', '/info')
  await g.settle()
  t.equal(g.github.client.counters.rateLimited, 2)
  t.equal(g.gh.deployments.length, 1)
  t.same(g.gh.deployments[0].statuses.map(s => s.state), ['in_progress', 'success'])
})

t.test('a long rate limit pauses GitHub calls but never the proxy', async t => {
  const g = await githubGateway(t)
  await g.pr('opened', g.pull(104))
  t.equal((await g.h.get('pr-104.review.test', '/info')).status, 200)
  await g.settle()
  const statusesBefore = g.gh.deployments[0].statuses.length

  g.gh.rateLimit('PATCH', /\/issues\/comments\//, 1, 3_600_000) // an hour away
  const env = g.h.wg.manager.envs.get('example/104')!
  g.h.wg.manager.sleep(env, 'test') // the comment changes: an edit is due
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep')
  await waitFor(() => g.github.client.counters.rateLimited === 1, 10_000, 'rate limit seen')
  const callsDuringLimit = g.gh.calls.length

  // Envs wake and are served, an unknown PR is answered at once (no API call) with a 503, webhooks work.
  for (let i = 0; i < 20; i++) t.equal((await g.h.get('pr-104.review.test', '/info')).status, 200)
  t.equal((await g.h.get('pr-999.review.test', '/')).status, 503, 'an unknown PR cannot be confirmed during the limit: retry later')
  await g.pr('opened', g.pull(105))
  t.equal((await g.h.get('pr-105.review.test', '/info')).status, 200, 'a PR known from a webhook wakes')
  t.equal(g.starts(), 3)
  t.equal(g.gh.calls.length, callsDuringLimit, 'no GitHub call while the limit is in force')

  // The limit ends: queued feedback goes out.
  g.github.client.blockedUntil = 0
  g.github.feedback.resume()
  await waitFor(async () => {
    await g.settle()
    return g.gh.comments.length === 2 && g.gh.comments.some(c => c.issue === 104 && /Running/.test(c.body))
  }, 10_000, 'feedback after the limit')
  t.ok(g.gh.deployments[0].statuses.length > statusesBefore, 'statuses queued during the limit were sent')
  t.equal(g.gh.count('POST', /\/issues\/104\/comments$/), 1, 'still one comment')
})

t.test('the known-PR lookup failing (5xx) gives a retryable 503 and starts nothing; it is not cached', async t => {
  const g = await githubGateway(t)
  g.pull(106)
  g.gh.fail('GET', /\/pulls\/106$/, { status: 503, times: 2 })
  const res = await g.h.get('pr-106.review.test', '/')
  t.equal(res.status, 503, 'not a 404: the PR may well exist')
  t.equal(JSON.parse(res.body).error, 'WAKEGATE_PR_LOOKUP_FAILED')
  t.equal(g.starts(), 0)
  t.equal(g.gh.count('GET', /\/pulls\/106$/), 2, 'one retry on the request path, not more')
  const later = await g.h.get('pr-106.review.test', '/info')
  t.equal(later.status, 200, 'asked again once GitHub answers')
  t.equal(g.starts(), 1)
})

t.test('GitHub unreachable: webhooks are still handled and the proxy serves', async t => {
  const g = await githubGateway(t, { github: { retries: 1 } })
  await g.gh.close()
  const res = await g.pr('opened', g.pull(107))
  t.equal(res.status, 200)
  t.equal(res.body.results[0].action, 'registered')
  t.equal((await g.h.get('pr-107.review.test', '/info')).status, 200)
  t.equal(g.starts(), 1)
  await g.settle()
  t.ok(g.github.feedback.counters.errors >= 1, 'feedback failures are counted and logged')
})
