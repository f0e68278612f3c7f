import t from 'tap'
import { renderComment, type CommentView } from '../src/github/comment.js'
import { githubGateway } from './support/fake-github-gateway.js'
import { waitFor } from './support/harness.js'

const HOUR = 3_600_000
const base: CommentView = { key: 'shop/42', app: 'shop', url: 'https://pr-42.shop.test/', idleTimeout: 15 * 60_000, state: 'asleep', sha: 'abcdef1', runningSha: 'abcdef1' }
const cost = { runningMs: (3 * 60 + 12) * 60_000, amount: 0.15, alwaysOnMs: (2 * 24 + 4) * HOUR, alwaysOnAmount: 2.41, currency: 'USD' }

t.test('the comment says how long the env ran and what it cost versus always-on', async t => {
  const open = renderComment({ ...base, cost })
  t.match(open, '\nRan 3 h 12 min so far, $0.15 (always on since the PR opened: 2 d 4 h, $2.41).\n')
  const closed = renderComment({ ...base, state: 'destroyed', cost })
  t.match(closed, 'The PR is closed; its environment was removed.')
  t.match(closed, '\nRan 3 h 12 min, $0.15 (always on while the PR was open: 2 d 4 h, $2.41).\n', 'a closed PR keeps the final tally')
  t.notMatch(renderComment(base), /Ran /, 'no size or price known: no cost line')
  t.notMatch(renderComment({ ...base, cost: { ...cost, runningMs: 0, amount: 0 } }), /Ran /, 'nothing before the first run')
  t.match(renderComment({ ...base, cost: { ...cost, amount: 0.0004 } }), 'so far, < $0.01 (', 'under a cent')
  t.notMatch(renderComment({ ...base, removed: 'the PR is a draft', cost }), /Ran /, 'not on a removed env')
})

t.test('the PR comment of an app with a task size carries the cost line, and its final tally once closed', async t => {
  const gw = await githubGateway(t, { app: { cost: { size: { vcpu: 1, memoryGb: 1 } } } })
  const pull = gw.pull(42)
  await gw.pr('opened', pull)
  t.equal((await gw.h.get('pr-42.review.test', '/info')).status, 200)
  const env = gw.h.wg.manager.envs.get('example/42')!
  gw.h.wg.manager.sleep(env, 'test')
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep')
  await gw.settle()
  t.equal(gw.gh.comments.length, 1)
  t.match(gw.gh.comments[0].body, /\nRan \d+ s so far, (\$\d+\.\d\d|< \$0\.01) \(always on since the PR opened: \d+ s, (\$\d+\.\d\d|< \$0\.01)\)\.\n/)

  pull.state = 'closed'
  await gw.pr('closed', pull)
  await gw.settle()
  t.match(gw.gh.comments[0].body, /\nRan \d+ s, .+ \(always on while the PR was open: \d+ s, .+\)\.\n/)
})

t.test('no task size: the comment has no cost line', async t => {
  const g = await githubGateway(t)
  const pull = g.pull(43)
  await g.pr('opened', pull)
  t.equal((await g.h.get('pr-43.review.test', '/info')).status, 200)
  await g.settle()
  t.match(g.gh.comments[0].body, 'Running')
  t.notMatch(g.gh.comments[0].body, /Ran /)
})
