import t from 'tap'
import { githubGateway, REPO } from './support/fake-github-gateway.js'
import { checkSuiteEvent, statusEvent } from './support/fake-github.js'
import { waitFor } from './support/harness.js'

t.test('waitForCi: nothing starts until the head SHA passes; the comment says it is waiting', async t => {
  const g = await githubGateway(t, { policy: { waitForCi: true, warm: true } })
  const pull = g.pull(91)
  g.gh.setCi(REPO, pull.sha, { suites: [{ status: 'in_progress', conclusion: null }] })
  const res = await g.pr('opened', pull)
  t.same(res.body.results, [{ app: 'example', pr: 91, action: 'waiting-for-ci' }])
  t.notOk(g.h.wg.manager.envs.get('example/91'), 'not known yet')
  t.equal((await g.h.get('pr-91.review.test', '/')).status, 404, 'cannot wake through the API lookup either')
  await g.settle()
  t.match(g.gh.comments[0].body, `Waiting for CI on \`${pull.sha.slice(0, 7)}\``)
  t.equal(g.starts(), 0)

  // An event for another SHA, and a requested (not completed) suite, change nothing.
  t.same((await g.send('check_suite', checkSuiteEvent(REPO, 'f'.repeat(40), 'success'))).body.results, [])
  t.same((await g.send('check_suite', checkSuiteEvent(REPO, pull.sha, '', 'requested'))).body.results, [])

  g.gh.setCi(REPO, pull.sha, { suites: [{ status: 'completed', conclusion: 'success' }, { status: 'queued', conclusion: null, latest_check_runs_count: 0 }] })
  const passed = await g.send('check_suite', checkSuiteEvent(REPO, pull.sha, 'success'))
  t.same(passed.body.results, [{ app: 'example', pr: 91, action: 'registered', warm: true }])
  await waitFor(() => g.h.wg.manager.envs.get('example/91')?.state === 'running', 15_000, 'warm start after CI')
  t.equal(g.starts(), 1)
  await g.settle()
  t.equal(g.gh.comments.length, 1, 'same comment')
  t.match(g.gh.comments[0].body, 'Running')
  t.notMatch(g.gh.comments[0].body, 'Waiting for CI')
})

t.test('waitForCi: a push is redeployed only when its statuses succeed; failures are reported', async t => {
  const g = await githubGateway(t, { policy: { waitForCi: true } })
  const pull = g.pull(92)
  g.gh.setCi(REPO, pull.sha, { statuses: [{ context: 'ci/build', state: 'success' }] })
  t.equal((await g.pr('opened', pull)).body.results[0].action, 'registered', 'green already: registered at once')
  const first = JSON.parse((await g.h.get('pr-92.review.test', '/info')).body)

  pull.sha = 'ab12000000000000000000000000000000000002'
  g.gh.setCi(REPO, pull.sha, { statuses: [{ context: 'ci/build', state: 'pending' }] })
  t.equal((await g.pr('synchronize', pull)).body.results[0].action, 'waiting-for-ci')
  const env = g.h.wg.manager.envs.get('example/92')!
  t.equal(env.sha, first.sha, 'the env keeps the tested SHA')
  await g.settle()
  t.match(g.gh.comments[0].body, 'Waiting for CI on `ab12000` before deploying it.')

  g.gh.setCi(REPO, pull.sha, { statuses: [{ context: 'ci/build', state: 'failure' }] })
  t.same((await g.send('status', statusEvent(REPO, pull.sha, 'failure'))).body.results, [{ app: 'example', pr: 92, action: 'waiting-for-ci' }])
  await g.settle()
  t.match(g.gh.comments[0].body, 'CI failed on `ab12000`; it is not deployed.')
  t.equal(g.starts(), 1)

  // A re-run passes.
  g.gh.setCi(REPO, pull.sha, { statuses: [{ context: 'ci/build', state: 'success' }] })
  t.equal((await g.send('status', statusEvent(REPO, pull.sha, 'success'))).body.results[0].action, 'redeploying')
  await waitFor(() => env.runningSha === pull.sha, 15_000, 'redeployed after CI')
  t.equal(g.starts(), 2)
  t.equal(JSON.parse((await g.h.get('pr-92.review.test', '/info')).body).sha, pull.sha)
})

t.test('without waitForCi, check events are ignored', async t => {
  const g = await githubGateway(t)
  const res = await g.send('check_suite', checkSuiteEvent(REPO, 'a'.repeat(40), 'success'))
  t.equal(res.status, 200)
  t.same(res.body.results, [])
  t.equal(g.gh.calls.length, 0)
})
