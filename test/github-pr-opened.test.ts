import t from 'tap'
import { githubGateway, REPO } from './support/fake-github-gateway.js'
import { waitFor } from './support/harness.js'


t.test('opened registers the env; the first request wakes it at the PR head', async t => {
  const g = await githubGateway(t)
  const pull = g.pull(7, { branch: 'feature/login', title: 'Add login', author: 'mona' })
  const res = await g.pr('opened', pull)
  t.equal(res.status, 200)
  t.same(res.body.results, [{ app: 'example', pr: 7, action: 'registered', warm: false }])

  const env = g.h.wg.manager.envs.get('example/7')!
  t.ok(env, 'env known')
  t.equal(env.branch, 'feature/login')
  t.equal(env.sha, pull.sha)
  t.equal(env.title, 'Add login')
  t.equal(env.author, 'mona')
  t.equal(env.source, 'github')
  t.equal(env.state, 'asleep')
  t.equal(g.starts(), 0, 'not warm: nothing started')

  const page = await g.h.get('pr-7.review.test', '/info')
  t.equal(page.status, 200)
  const info = JSON.parse(page.body)
  t.equal(info.sha, pull.sha, 'the task runs the head SHA')
  t.equal(info.branch, 'feature/login')
  t.equal(g.starts(), 1)
  t.equal(g.gh.count('GET', /\/pulls\//), 0, 'known from the webhook: no API lookup on request')

  await g.settle()
  const comments = g.gh.comments.filter(c => c.issue === 7)
  t.equal(comments.length, 1, 'one comment')
  t.match(comments[0].body, 'https://pr-7.review.test/')
  t.match(comments[0].body, '<!-- wakegate:env=example/7 -->')
  t.match(comments[0].body, /Running `[0-9a-f]{7}`/)
  t.equal(g.gh.deployments.length, 1, 'one deployment')
  t.equal(g.gh.deployments[0].environment, 'pr-7')
  t.equal(g.gh.deployments[0].sha, pull.sha)
  t.equal(g.gh.deployments[0].transient_environment, true)
  t.same(g.gh.deployments[0].statuses.map(s => s.state), ['in_progress', 'success'])
  t.equal(g.gh.deployments[0].statuses[1].environment_url, 'https://pr-7.review.test/')
  t.ok(g.gh.calls.every(c => c.path.startsWith(`/repos/${REPO}/`)), 'calls go to the repo of the app')
})

t.test('warm: true starts the env when the PR is opened, before any request', async t => {
  const g = await githubGateway(t, { policy: { warm: true } })
  const pull = g.pull(8)
  const res = await g.pr('opened', pull)
  t.same(res.body.results, [{ app: 'example', pr: 8, action: 'registered', warm: true }])
  await waitFor(() => g.h.wg.manager.envs.get('example/8')?.state === 'running', 15_000, 'warm start')
  t.equal(g.starts(), 1)
  const page = await g.h.get('pr-8.review.test', '/info')
  t.equal(page.status, 200)
  t.equal(g.starts(), 1)
})

t.test('reopened, ready_for_review and labeled register too; unhandled actions are ignored', async t => {
  const g = await githubGateway(t)
  const a = g.pull(9)
  t.equal((await g.pr('reopened', a)).body.results[0].action, 'registered')
  const b = g.pull(10)
  t.equal((await g.pr('ready_for_review', b)).body.results[0].action, 'registered')
  const l = g.pull(14, { labels: ['ui'] })
  t.equal((await g.pr('labeled', l, { label: 'ui' })).body.results[0].action, 'registered')
  t.equal((await g.pr('labeled', l, { label: 'ui' })).body.results[0].action, 'updated', 'a known PR is not registered twice')
  const c = g.pull(11)
  const res = await g.pr('assigned', c)
  t.equal(res.status, 200)
  t.equal(res.body.results[0].action, 'ignored')
  t.notOk(g.h.wg.manager.envs.get('example/11'))
})

t.test('a webhook for a repo no app uses changes nothing', async t => {
  const g = await githubGateway(t)
  const other = g.gh.addPull({ repo: 'acme/other', number: 3 })
  const res = await g.pr('opened', other)
  t.equal(res.status, 200)
  t.same(res.body.results, [])
  t.equal(g.h.wg.manager.envs.size, 0)
})
