// Predictive warm-up through the GitHub fake: signed webhooks to the real gateway, envs run by
// the local backend (real processes). Review requests, pushes to visited PRs and comments
// naming an env start it (or keep it) and are counted; a visit within usedWithin makes a
// warm-up used, none makes it wasted.
import t from 'tap'
import { request } from 'undici'
import { githubGateway, type GithubGateway } from './support/fake-github-gateway.js'
import { commentEvent } from './support/fake-github-comment.js'
import { sleep, waitFor } from './support/harness.js'
import type { WarmUpSignal } from '../src/lifecycle/warmup.js'

const NEW_SHA = 'c0ffee0000000000000000000000000000000042'

const env = (g: GithubGateway, pr: number) => g.h.wg.manager.envs.get(`example/${pr}`)!
const counts = (g: GithubGateway, signal: WarmUpSignal) => g.github.warmups.counts().example?.[signal]
const running = (g: GithubGateway, pr: number) => waitFor(() => env(g, pr).state === 'running', 15_000, `example/${pr} running`)

async function metrics (g: GithubGateway): Promise<string> {
  const res = await request(`${g.h.wg.adminUrl}/metrics`)
  return await res.body.text()
}

t.test('review_requested starts an asleep env; a visit within usedWithin makes the warm-up used', async t => {
  const g = await githubGateway(t, { app: { warmup: { usedWithin: '5s' } } })
  const pull = g.pull(21)
  t.same((await g.pr('opened', pull)).body.results, [{ app: 'example', pr: 21, action: 'registered', warm: false }])
  t.equal(g.starts(), 0, 'opened: nothing started')

  const res = await g.pr('review_requested', pull)
  t.equal(res.status, 200)
  t.same(res.body.results, [{ app: 'example', pr: 21, action: 'updated', warm: false, warmup: { action: 'started' } }])
  t.ok(env(g, 21).keepAwakeUntil > Date.now(), 'kept awake for usedWithin')
  // A second reviewer requested: the same warm-up, made longer.
  const again = await g.pr('review_requested', pull)
  t.same(again.body.results[0].warmup, { action: 'extended' })
  await running(g, 21)
  t.equal(g.starts(), 1, 'one warm start')

  const page = await g.h.get('pr-21.review.test', '/info')
  t.equal(page.status, 200)
  t.notOk(page.headers['x-wakegate-cold-start'], 'the reviewer found it running')
  t.equal(g.starts(), 1)

  await waitFor(() => counts(g, 'review-requested')!.used === 1, 10_000, 'warm-up settled')
  t.same(counts(g, 'review-requested'), { signals: 2, warmUps: 1, starts: 1, used: 1, wasted: 0 })
  const text = await metrics(g)
  t.match(text, /wakegate_warmup_signals_total\{app="example",signal="review-requested"\} 2/)
  t.match(text, /wakegate_warmups_total\{app="example",signal="review-requested",outcome="used"\} 1/)
  t.match(text, /wakegate_warmups_total\{app="example",signal="review-requested",outcome="wasted"\} 0/)
})

t.test('a warm-up nobody visits keeps the env past its idle timeout, then counts as wasted', async t => {
  const g = await githubGateway(t, { app: { idleTimeout: '200ms', warmup: { usedWithin: '6s' } } })
  const pull = g.pull(22)
  await g.pr('opened', pull)
  t.same((await g.pr('review_requested', pull)).body.results[0].warmup, { action: 'started' })
  await running(g, 22)
  await sleep(800)
  t.equal(env(g, 22).state, 'running', 'still running well past idleTimeout: the warm-up keeps it')
  t.same(counts(g, 'review-requested'), { signals: 1, warmUps: 1, starts: 1, used: 0, wasted: 0 }, 'open: neither used nor wasted yet')
  await waitFor(() => counts(g, 'review-requested')!.wasted === 1, 10_000, 'warm-up settled')
  t.equal(counts(g, 'review-requested')!.used, 0)
  await waitFor(() => env(g, 22).state === 'asleep', 10_000, 'idle stop after the window')
  t.equal(g.starts(), 1)
  t.match(await metrics(g), /wakegate_warmups_total\{app="example",signal="review-requested",outcome="wasted"\} 1/)
})

t.test('a push warms a PR visited lately, not one nobody visited', async t => {
  const g = await githubGateway(t, { app: { warmup: { usedWithin: '5s' } } })
  const manager = g.h.wg.manager

  // Never visited: asleep, the push only records the new SHA.
  const quiet = g.pull(31)
  await g.pr('opened', quiet)
  quiet.sha = NEW_SHA
  const r1 = await g.pr('synchronize', quiet)
  t.same(r1.body.results, [{ app: 'example', pr: 31, action: 'updated', warm: false, warmup: { action: 'skipped', reason: 'never visited' } }])
  t.equal(g.starts(), 0)

  // Warm-started by a review request, never visited: the warm start is not a visit.
  const warmed = g.pull(32)
  await g.pr('review_requested', warmed)
  await running(g, 32)
  t.equal(g.starts(), 1)
  warmed.sha = NEW_SHA
  const r2 = await g.pr('synchronize', warmed)
  t.same(r2.body.results[0].warmup, { action: 'skipped', reason: 'never visited' })

  // Visited, then asleep: the push starts it again, at the new SHA.
  const visited = g.pull(33)
  await g.pr('opened', visited)
  let before = g.starts()
  t.equal((await g.h.get('pr-33.review.test', '/info')).status, 200)
  t.equal(g.starts(), before + 1, 'the visit woke it')
  manager.sleep(env(g, 33), 'test')
  await waitFor(() => env(g, 33).state === 'asleep', 10_000, 'asleep')
  visited.sha = NEW_SHA
  before = g.starts()
  const r3 = await g.pr('synchronize', visited)
  t.same(r3.body.results, [{ app: 'example', pr: 33, action: 'updated', warm: false, warmup: { action: 'started' } }])
  await running(g, 33)
  t.equal(g.starts(), before + 1, 'the push started it')
  t.equal(env(g, 33).runningSha, NEW_SHA, 'the warm start runs the pushed SHA')

  // A push right after a visit to a running env keeps it (and redeploys as before).
  const busy = g.pull(34)
  await g.pr('opened', busy)
  t.equal((await g.h.get('pr-34.review.test', '/info')).status, 200)
  busy.sha = NEW_SHA
  const r4 = await g.pr('synchronize', busy)
  t.same(r4.body.results, [{ app: 'example', pr: 34, action: 'redeploying', warm: false, warmup: { action: 'kept' } }])
  t.ok(env(g, 34).keepAwakeUntil > Date.now())

  t.same(counts(g, 'push'), { signals: 2, warmUps: 2, starts: 1, used: 0, wasted: 0 }, 'two pushes acted on, one start')
})

t.test('a push long after the last visit does not warm', async t => {
  const g = await githubGateway(t, { app: { warmup: { pushVisitedWithin: '300ms' } } })
  const pull = g.pull(35)
  await g.pr('opened', pull)
  t.equal((await g.h.get('pr-35.review.test', '/info')).status, 200)
  g.h.wg.manager.sleep(env(g, 35), 'test')
  await waitFor(() => env(g, 35).state === 'asleep', 10_000, 'asleep')
  await sleep(500)
  pull.sha = NEW_SHA
  t.same((await g.pr('synchronize', pull)).body.results[0].warmup, { action: 'skipped', reason: 'not visited lately' })
  t.equal(g.starts(), 1)
  t.equal(env(g, 35).state, 'asleep')
})

t.test("a comment naming the env's host warms it; wakegate's own comment, bots and outsiders do not", async t => {
  const g = await githubGateway(t, { app: { warmup: { usedWithin: '5s' } } })
  const pull = g.pull(41)
  await g.pr('opened', pull)
  await g.settle()
  const own = g.gh.comments.find(c => c.issue === 41)!
  t.match(own.body, 'https://pr-41.review.test/', "wakegate's comment carries the URL")

  // wakegate's comment as GitHub delivers it; with token auth its author is a plain user.
  const r1 = await g.comment(pull, { id: own.id, body: own.body, user: 'wakegate-bot', userType: 'User', association: 'MEMBER' })
  t.same(r1.body.results, [{ app: 'example', pr: 41, action: 'ignored', reason: "wakegate's own comment" }])
  // Recognised by its id too (e.g. the marker edited away).
  const r2 = await g.comment(pull, { id: own.id, body: 'see https://pr-41.review.test/', user: 'wakegate-bot', association: 'MEMBER' })
  t.same(r2.body.results[0].reason, "wakegate's own comment")
  const r3 = await g.comment(pull, { body: 'Preview: https://pr-41.review.test', user: 'preview-bot[bot]' })
  t.match(r3.body.results[0].reason, /bot/)
  const r4 = await g.comment(pull, { body: 'pr-41.review.test looks broken', user: 'stranger', association: 'NONE' })
  t.match(r4.body.results[0].reason, /without access/)
  const r5 = await g.comment(pull, { body: 'Compare with pr-410.review.test and xpr-41.review.test please' })
  t.same(r5.body.results, [{ app: 'example', pr: 410, action: 'ignored', reason: 'no env for this PR' }], 'other hosts are not this env')
  t.equal(g.starts(), 0, 'none of these started anything')

  const r6 = await g.comment(pull, { body: '@mona could you look at https://PR-41.review.test/settings? It is up.', user: 'hubot-dev', association: 'COLLABORATOR' })
  t.same(r6.body.results, [{ app: 'example', pr: 41, action: 'warm-up', warmup: { action: 'started' } }])
  await running(g, 41)
  t.equal(g.starts(), 1)
  t.same(counts(g, 'mention'), { signals: 1, warmUps: 1, starts: 1, used: 0, wasted: 0 })

  // A comment on an issue (not a PR) is not a PR comment.
  const r7 = await g.send('issue_comment', commentEvent(pull, { body: 'pr-41.review.test' }, 'created', true))
  t.same(r7.body.results, [])
  // Edits are not new comments.
  const r8 = await g.send('issue_comment', commentEvent(pull, { body: 'pr-41.review.test' }, 'edited'))
  t.same(r8.body.results, [])
})

t.test('disabled signals do nothing; without warmup nothing changes', async t => {
  const off = await githubGateway(t, { app: { warmup: { reviewRequested: false, pushVisitedWithin: 0, commentMention: false } } })
  const pull = off.pull(51)
  await off.pr('opened', pull)
  t.same((await off.pr('review_requested', pull)).body.results[0].warmup, { action: 'skipped', reason: 'review-requested warm-ups are off' })
  t.same((await off.comment(pull, { body: 'https://pr-51.review.test/' })).body.results, [], 'no app reads comments')
  t.equal((await off.h.get('pr-51.review.test', '/info')).status, 200)
  off.h.wg.manager.sleep(env(off, 51), 'test')
  await waitFor(() => env(off, 51).state === 'asleep', 10_000, 'asleep')
  pull.sha = NEW_SHA
  t.same((await off.pr('synchronize', pull)).body.results[0].warmup, { action: 'skipped', reason: 'push warm-ups are off' })
  t.equal(off.starts(), 1, 'only the visit started it')
  t.same(off.github.warmups.counts(), {}, 'nothing counted')
  t.notMatch(await metrics(off), /wakegate_warmups_total\{/)

  const none = await githubGateway(t)
  const p2 = none.pull(52)
  await none.pr('opened', p2)
  t.same((await none.pr('review_requested', p2)).body.results, [{ app: 'example', pr: 52, action: 'updated', warm: false }])
  t.same((await none.comment(p2, { body: 'https://pr-52.review.test/' })).body.results, [])
  t.equal(none.starts(), 0)
})
