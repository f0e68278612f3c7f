import t from 'tap'
import { githubGateway } from './support/fake-github-gateway.js'
import { EXAMPLE_APP, waitFor } from './support/harness.js'

// After a failed redeploy the comment must name what is routed (generation and SHA), not
// the generation that failed, and say separately that the redeploy failed and why.
t.test('a failed redeploy: the comment names the serving generation 2 and its SHA, and the failed attempt', async t => {
  const B = 'b2b2b2b000000000000000000000000000000000'
  const BAD = 'dead000000000000000000000000000000000bad'
  const command = `if [ "$GIT_SHA" = "${BAD}" ]; then echo "migration 42 failed" >&2; exit 4; fi; exec node ${JSON.stringify(EXAMPLE_APP)}`
  const g = await githubGateway(t, { app: { backend: { kind: 'local', command, stopGrace: '1s' } } })
  const pull = g.pull(85)
  await g.pr('opened', pull)
  t.equal((await g.h.get('pr-85.review.test', '/info')).status, 200)
  const env = g.h.wg.manager.envs.get('example/85')!

  pull.sha = B
  await g.pr('synchronize', pull)
  await waitFor(() => env.runningSha === B, 15_000, 'switched to generation 2')
  const served = JSON.parse((await g.h.get('pr-85.review.test', '/info')).body)
  t.equal(served.sha, B)

  pull.sha = BAD
  await g.pr('synchronize', pull)
  await waitFor(() => env.m.pending === 0 && env.m.generation === 3, 15_000, 'generation 3 failed')
  await g.settle()

  t.equal(env.route?.generation, 2, 'generation 2 is routed')
  t.equal(g.gh.comments.length, 1)
  const body = g.gh.comments[0].body
  t.match(body, 'Running `b2b2b2b`.')
  t.match(body, '| Serving | `b2b2b2b` (generation 2) |')
  t.notMatch(body, /generation 3/, 'the failed generation is not named as serving')
  t.match(body, /Redeploy of `dead000` failed: `[^`]*migration 42 failed[^`]*`/)
  t.match(body, 'Generation 2 (`b2b2b2b`) keeps serving.')
  t.equal(JSON.parse((await g.h.get('pr-85.review.test', '/info')).body).pid, served.pid, 'generation 2 still answers')
})
