// Office hours that end a few seconds after the gateway starts: at their end, running envs
// nobody is using go to sleep (sleptBy 'schedule'); a kept-awake env and one serving a request
// stay; outside them the short timeout applies, and a late reviewer still wakes an env.
import t from 'tap'
import { request } from 'undici'
import { startGateway, testConfig, exampleApp, waitFor, sleep } from './support/harness.js'

// India has kept UTC+05:30 all year since 1945: the test can compute its wall clock by hand.
const ZONE = 'Asia/Kolkata'
const OFFSET = 5.5 * 3_600_000
const hhmm = (ms: number) => {
  const d = new Date(ms + OFFSET)
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`
}

t.test('office hours ending now put idle envs to sleep for the schedule', async t => {
  // Office hours are whole minutes: they end at the first minute boundary 10 s away or more.
  const end = Math.ceil((Date.now() + 10_000) / 60_000) * 60_000
  const officeHours = [`${hhmm(end - 2 * 3_600_000)}-${hhmm(end)}`]
  const h = await startGateway(testConfig({}, [exampleApp({
    idleTimeout: '10m',
    schedule: { timeZone: ZONE, officeHours, outsideIdleTimeout: '400ms' },
    prs: [1, 2, 3].map(n => ({ number: n, branch: `b${n}`, sha: `aaaaaaa${n}` }))
  })]), { reapInterval: 50 })
  t.teardown(() => h.close())
  const m = h.wg.manager
  const [one, two, three] = [1, 2, 3].map(n => m.envs.get(`example/${n}`)!)
  const idle = async (pr: number) => ((await (await request(`${h.wg.adminUrl}/api/envs/example/${pr}`)).body.json()) as { idle: Record<string, unknown> }).idle

  for (const pr of [1, 2, 3]) t.equal((await h.get(`pr-${pr}.review.test`, '/info')).status, 200)
  m.keepAwake(two, end + 3_600_000, 'test')
  t.same(await idle(1), { timeoutMs: 600_000, policy: 'fixed', visits: 1, coldVisits: 1 }, `inside office hours (${officeHours[0]} ${ZONE}) the usual timeout`)

  // A request in flight across the end of office hours.
  await sleep(Math.max(0, end - 1500 - Date.now()))
  t.equal(one.state, 'running', 'running until the end')
  const slow = h.get('pr-3.review.test', '/slow?ms=3000')

  await waitFor(() => one.state === 'asleep', Math.max(0, end - Date.now()) + 10_000, 'env 1 asleep')
  t.ok(Date.now() >= end, 'not before the end')
  t.equal(one.sleptBy, 'schedule')
  t.ok(one.recent.some(e => e.type === 'state' && /schedule: outside office hours/.test(e.message)), 'the transition says why')
  t.equal(two.state, 'running', 'the kept-awake env stays')
  t.equal(three.state, 'running', 'the env serving a request stays')
  t.same(await idle(2), { timeoutMs: 400, policy: 'schedule', visits: 1, coldVisits: 1, keepAwakeUntil: new Date(end + 3_600_000).toISOString() })

  t.equal((await slow).status, 200, 'the request finished')
  await waitFor(() => three.state === 'asleep', 10_000, 'env 3 asleep after the short timeout')
  t.equal(three.sleptBy, 'policy', 'by the idle timeout, not the schedule')

  // A late reviewer wakes an env; the short timeout puts it back to sleep.
  const late = await h.get('pr-1.review.test', '/info')
  t.equal(late.status, 200)
  t.ok(late.headers['x-wakegate-cold-start'], 'a cold wake')
  await waitFor(() => one.state === 'asleep', 10_000, 'env 1 asleep again')
  t.equal(one.sleptBy, 'policy')
  t.equal(two.state, 'running', 'still kept awake')
  t.equal(h.backends.get('example')!.calls.start, 4)
})
