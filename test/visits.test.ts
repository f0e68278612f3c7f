// Visits as the manager reports them: reaper looks at env.lastSeen, request wakes, finished
// wakes. What counts as a visit, which gap it came after, and what is cold.
import t from 'tap'
import { testConfig, exampleApp } from './support/harness.js'
import { Env, appRuntime } from '../src/lifecycle/env.js'
import { Visits, ENV_GAPS, APP_GAPS } from '../src/lifecycle/visits.js'

const config = testConfig({}, [exampleApp({ idle: { visitGap: '60s' } })])
const rt = appRuntime(config.apps[0], config.public)
const S = 1000
const MIN = 60 * S

function setup () {
  const env = new Env(rt, 1, { branch: 'b', sha: 's', source: 'test' })
  const visits = new Visits(e => e.app.config.idle!.visitGap)
  const t0 = env.lastSeen
  visits.of(env) // as a wake or an adoption does: from here on, activity is looked at
  return { env, visits, t0, s: () => visits.of(env) }
}

t.test('a request wake is a cold visit; its held requests and the wake are one visit; activity within the gap is the same visit', async t => {
  const { env, visits, t0, s } = setup()
  visits.coldRequest(env, t0 + 10 * S)
  visits.coldRequest(env, t0 + 11 * S) // another request of the same page load while waking
  env.lastSeen = t0 + 40 * S
  visits.ready(env, true) // ready 30 s after the request: the reviewer waited
  env.lastSeen = t0 + 41 * S
  visits.observe(env)
  env.lastSeen = t0 + 80 * S
  visits.observe(env)
  t.same([s().visits, s().cold, [...s().gaps.values]], [1, 1, []], 'one cold visit, no gap before the first')
  env.lastSeen = t0 + 10 * MIN
  visits.observe(env)
  t.same([s().visits, s().cold, [...s().gaps.values]], [2, 1, [10 * MIN - 80 * S]], 'a warm visit after a quiet gap')
})

t.test('a warm start is no visit, and the next gap is measured from the reviewer, not from the start', async t => {
  const { env, visits, t0, s } = setup()
  env.lastSeen = t0 + 1 * MIN
  visits.observe(env) // the first visit (env already running)
  env.lastSeen = t0 + 3 * 60 * MIN // a webhook starts it two hours later (ready sets lastSeen)
  visits.ready(env, false)
  visits.observe(env)
  t.equal(s().visits, 1, 'the start is not a visit')
  env.lastSeen = t0 + 3 * 60 * MIN + 5 * MIN
  visits.observe(env)
  t.same([s().visits, s().cold, [...s().gaps.values]], [2, 0, [3 * 60 * MIN + 4 * MIN]], 'warm, after the whole gap since the last visit')
})

t.test('a cold request after activity the reaper had not seen yet counts both', async t => {
  const { env, visits, t0, s } = setup()
  env.lastSeen = t0 + 1 * MIN
  visits.observe(env)
  env.lastSeen = t0 + 20 * MIN // a visit, then an operator put the env to sleep before the next tick
  visits.coldRequest(env, t0 + 50 * MIN)
  t.same([s().visits, s().cold, [...s().gaps.values]], [3, 1, [19 * MIN, 30 * MIN]])
})

t.test('a failed wake retried by the same reviewer is one visit; one much later is another', async t => {
  const { env, visits, t0, s } = setup()
  visits.coldRequest(env, t0 + 1 * MIN)
  visits.coldRequest(env, t0 + 1 * MIN + 30 * S) // the wake failed; a retry
  t.equal(s().visits, 1)
  visits.coldRequest(env, t0 + 90 * MIN)
  t.same([s().visits, s().cold, [...s().gaps.values]], [2, 2, [89 * MIN - 30 * S]])
})

t.test('gaps are kept per env and pooled per app, both bounded', async t => {
  const { env, visits, t0, s } = setup()
  const other = new Env(rt, 2, { branch: 'b', sha: 's', source: 'test' })
  visits.of(other)
  for (let i = 1; i <= ENV_GAPS + 10; i++) {
    env.lastSeen = t0 + i * 10 * MIN
    visits.observe(env)
    other.lastSeen = t0 + i * 10 * MIN + MIN
    visits.observe(other)
  }
  t.equal(s().gaps.length, ENV_GAPS)
  t.equal(s().visits, ENV_GAPS + 10)
  const app = visits.app('example')
  t.equal(app.gaps.length, Math.min(APP_GAPS, 2 * (ENV_GAPS + 9)))
  t.equal(app.visits, 2 * (ENV_GAPS + 10))
  t.equal(app.cold, 0)
})
