// The adaptive idle timeout on hand-made gap sequences.
import t from 'tap'
import { adaptiveTimeout, PRIOR_WEIGHT, type AdaptiveIdle } from '../src/lifecycle/idle-policy.js'

const MIN = 60_000
const H = 60 * MIN
const policy: AdaptiveIdle = { coldVisits: 0.05, min: 5 * MIN, max: 2 * H }
const mins = (...m: number[]) => m.map(x => x * MIN)
const repeat = (n: number, gap: number) => new Array<number>(n).fill(gap)

t.test('without any gap the fixed idleTimeout applies, within min and max', async t => {
  t.equal(adaptiveTimeout([], [], policy, 15 * MIN), 15 * MIN)
  t.equal(adaptiveTimeout([], [], policy, 1 * MIN), 5 * MIN, 'raised to min')
  t.equal(adaptiveTimeout([], [], policy, 3 * H), 2 * H, 'lowered to max')
})

t.test('short gaps only: the smallest timeout that leaves at most the target share cold', async t => {
  const gaps = mins(...Array.from({ length: 20 }, (_, i) => 6 + i)) // 6 … 25 min
  // 20 visits at 5%: one may be cold. The longest (25 min) is left, the next (24 min) covered.
  t.equal(adaptiveTimeout(gaps, [], policy, 15 * MIN), 24 * MIN + 1)
  t.equal(adaptiveTimeout(gaps, [], { ...policy, coldVisits: 0.1 }, 15 * MIN), 23 * MIN + 1, 'two may be cold at 10%')
  t.equal(adaptiveTimeout(gaps.slice(0, 10), [], policy, 15 * MIN), 15 * MIN + 1, 'ten visits: 5% is half a visit, so every gap is covered')
})

t.test('target 0 covers every gap up to max', async t => {
  const gaps = mins(7, 9, 31, 12, 8)
  t.equal(adaptiveTimeout(gaps, [], { ...policy, coldVisits: 0 }, 15 * MIN), 31 * MIN + 1)
  t.equal(adaptiveTimeout([...gaps, 14 * H], [], { ...policy, coldVisits: 0 }, 15 * MIN), 31 * MIN + 1, 'a night beyond max is not chased')
})

t.test('bimodal gaps with nights: the nights do not push the timeout to max', async t => {
  // A reviewer comes back every ~10 minutes during the day and the next morning after each night.
  const day = mins(8, 9, 10, 10, 11, 9, 10, 12, 8, 10, 9, 11, 10, 10, 9, 10, 11, 8, 10, 9)
  const nights = repeat(10, 14 * H)
  const t1 = adaptiveTimeout([...day, ...nights], [], policy, 15 * MIN)
  t.equal(t1, 11 * MIN + 1, 'the longest daytime gap (12 min) is the one allowed cold: 1 of 20')
  t.equal(adaptiveTimeout([...day, ...repeat(100, 14 * H)], [], policy, 15 * MIN), t1, 'however many nights there are')
})

t.test('gaps only beyond max, e.g. one huge gap: min', async t => {
  t.equal(adaptiveTimeout([3 * 24 * H], [], policy, 15 * MIN), 5 * MIN)
  t.equal(adaptiveTimeout(repeat(5, 10 * H), [], policy, 15 * MIN), 5 * MIN)
})

t.test('the bounds clamp the choice', async t => {
  t.equal(adaptiveTimeout(mins(1, 2, 1, 2, 1), [], policy, 15 * MIN), 5 * MIN, 'gaps shorter than min: min')
  t.equal(adaptiveTimeout(repeat(10, 2 * H), [], policy, 15 * MIN), 2 * H, 'gaps of exactly max: max')
  t.equal(adaptiveTimeout(repeat(10, 2 * H + 1), [], policy, 15 * MIN), 5 * MIN, 'a millisecond longer: out of reach, min')
})

t.test("a new PR follows the app's gaps; its own history takes over as it grows", async t => {
  const app = [...repeat(95, 8 * MIN), ...repeat(5, 40 * MIN)]
  t.equal(adaptiveTimeout([], app, policy, 15 * MIN), 8 * MIN + 1, "no visits of its own: the app's 95th percentile")
  const own = (n: number) => repeat(n, 20 * MIN)
  t.equal(adaptiveTimeout(own(1), app, policy, 15 * MIN), 20 * MIN + 1, 'one own gap of 20 min weighs more than the 5% allowed')
  // An env visited every 20 min keeps 20 min; one visited every 6 min comes down from the app's 8 min.
  const quick = repeat(200, 6 * MIN)
  t.equal(adaptiveTimeout(quick, app, policy, 15 * MIN), 6 * MIN + 1, `after ${quick.length} visits the prior (weight ${PRIOR_WEIGHT}) is under the target`)
  t.equal(adaptiveTimeout(repeat(3, 6 * MIN), app, policy, 15 * MIN), 8 * MIN + 1, 'after 3 the app still decides')
})

t.test('the prior weighs PRIOR_WEIGHT in all however many gaps it holds', async t => {
  const small = adaptiveTimeout(repeat(30, 6 * MIN), repeat(10, 30 * MIN), policy, 15 * MIN)
  const large = adaptiveTimeout(repeat(30, 6 * MIN), repeat(1000, 30 * MIN), policy, 15 * MIN)
  t.equal(small, large)
  t.equal(small, 30 * MIN + 1, '5 of 35 is more than 5%')
  t.equal(adaptiveTimeout(repeat(30, 6 * MIN), repeat(10, 30 * MIN), policy, 15 * MIN, 1), 6 * MIN + 1, 'with weight 1: 1 of 31 is less')
})
