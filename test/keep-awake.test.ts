// Keep awake until …: through the admin API an env runs past its idle timeout, DELETE lets it
// sleep, an asleep env is started (a warm start, not a visit), and the deadline outlives a
// change of leader through the store; the dashboard's button does the same.
import t from 'tap'
import { request } from 'undici'
import { pino } from 'pino'
import { startGateway, testConfig, exampleApp, waitFor, sleep } from './support/harness.js'
import { MemoryStore } from '../src/stores/memory.js'
import { readRecords, restoreEnvs } from '../src/replicas/restore.js'
import { launchBrowser } from './support/browser.js'

const json = { 'content-type': 'application/json' }

t.test('a kept-awake env runs past its idle timeout; DELETE lets it sleep', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ idleTimeout: '300ms' })]), { reapInterval: 50 })
  t.teardown(() => h.close())
  const admin = h.wg.adminUrl!
  const env = h.wg.manager.envs.get('example/1')!

  await h.get('pr-1.review.test', '/info')
  const res = await request(`${admin}/api/envs/example/1/keep-awake`, { method: 'POST', headers: json, body: JSON.stringify({ for: '1h' }) })
  t.equal(res.statusCode, 200)
  const view = await res.body.json() as { idle: { keepAwakeUntil: string } }
  const until = Date.parse(view.idle.keepAwakeUntil)
  t.ok(until > Date.now() + 59 * 60_000 && until <= Date.now() + 3_600_000, 'about an hour from now')
  t.equal(env.meta.keepAwakeUntil, until, 'kept in the record the store gets')

  await sleep(1200) // four idle timeouts
  t.equal(env.state, 'running', 'still running')
  t.equal(h.backends.get('example')!.calls.stop, 0)

  const del = await request(`${admin}/api/envs/example/1/keep-awake`, { method: 'DELETE' })
  t.equal(del.statusCode, 200)
  t.equal((await del.body.json() as { idle: Record<string, unknown> }).idle.keepAwakeUntil, undefined)
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep after DELETE')
  t.equal(env.sleptBy, 'policy', 'the idle timeout put it to sleep')
  t.equal(env.meta.keepAwakeUntil, undefined)
})

t.test('keep-awake on an asleep env starts it; it is not a visit; until is honoured to the minute asked', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ idleTimeout: '300ms' })]), { reapInterval: 50 })
  t.teardown(() => h.close())
  const admin = h.wg.adminUrl!
  const env = h.wg.manager.envs.get('example/2')!
  const until = new Date(Date.now() + 5000).toISOString()
  const res = await request(`${admin}/api/envs/example/2/keep-awake`, { method: 'POST', headers: json, body: JSON.stringify({ until }) })
  t.equal(res.statusCode, 200)
  await res.body.dump()
  await waitFor(() => env.state === 'running', 10_000, 'started')
  t.equal(h.backends.get('example')!.calls.start, 1, 'a warm start')
  await sleep(900)
  t.equal(env.state, 'running', 'kept past the idle timeout')
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep once the time is up')
  t.ok(Date.now() >= Date.parse(until), 'not before')
  const idle = (await (await request(`${admin}/api/envs/example/2`)).body.json() as { idle: Record<string, unknown> }).idle
  t.same(idle, { timeoutMs: 300, policy: 'fixed', visits: 0, coldVisits: 0 }, 'no visit counted, no keep-awake left')
})

t.test('bad input is refused with a reason; unknown envs are 404', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  const admin = h.wg.adminUrl!
  const post = async (path: string, body: unknown) => {
    const r = await request(`${admin}${path}`, { method: 'POST', headers: json, body: JSON.stringify(body) })
    return { status: r.statusCode, body: await r.body.json() as { error?: string, detail?: string } }
  }
  const cases: Array<[unknown, RegExp]> = [
    [{}, /either "until" .* or "for"/],
    [{ until: '2030-01-01T00:00:00Z', for: '1h' }, /either/],
    [{ for: 'soon' }, /"for" must be a duration/],
    [{ for: 0 }, /"for" must be a duration/],
    [{ for: '45d' }, /at most 30 days/],
    [{ until: 'tomorrow' }, /"until" must be an ISO-8601 time/],
    [{ until: '2001-01-01T00:00:00Z' }, /"until" is in the past/]
  ]
  for (const [body, message] of cases) {
    const r = await post('/api/envs/example/1/keep-awake', body)
    t.equal(r.status, 400, JSON.stringify(body))
    t.equal(r.body.error, 'WAKEGATE_BAD_ADMIN_REQUEST')
    t.match(r.body.detail, message)
  }
  t.equal(h.backends.get('example')!.calls.start, 0, 'nothing was started')
  t.equal((await post('/api/envs/example/99/keep-awake', { for: '1h' })).status, 404)
  t.equal((await post('/api/envs/nope/1/keep-awake', { for: '1h' })).status, 404)
  const del = await request(`${admin}/api/envs/example/99/keep-awake`, { method: 'DELETE' })
  t.equal(del.statusCode, 404)
  await del.body.dump()
  const ok = await post('/api/envs/example/1/keep-awake', { for: 90_000 })
  t.equal(ok.status, 200, 'milliseconds are a duration too')
})

t.test('the deadline travels through the store to a new leader', async t => {
  const store = new MemoryStore()
  const h = await startGateway(testConfig({}, [exampleApp({ idleTimeout: '300ms' })]), { reapInterval: 50, store })
  const until = Date.now() + 3_600_000
  // A PR the config does not list (as from GitHub): the new leader knows it from the store only.
  h.wg.manager.keepAwake(h.wg.manager.register('example', 7, { source: 'admin' }), until, 'test')
  await waitFor(async () => (await store.get('example/7'))?.meta?.keepAwakeUntil === until, 5000, 'record written')
  await h.close()

  const records = await readRecords(store, pino({ level: 'silent' }))
  const next = await startGateway(testConfig({}, [exampleApp({ idleTimeout: '300ms' })]), { reapInterval: 50, store })
  t.teardown(() => next.close())
  t.notOk(next.wg.manager.envs.has('example/7'), 'a fresh manager knows nothing yet')
  restoreEnvs(next.wg.manager, records, pino({ level: 'silent' }))
  const env = next.wg.manager.envs.get('example/7')!
  t.equal(env.keepAwakeUntil, until, 'restored from the record')
  t.equal(env.state, 'asleep', 'a task is not started for it by restoring (reconcile adopts what runs)')
})

t.test('the dashboard button keeps an env awake for 2 h (in Chromium, with the admin token)', async t => {
  const TOKEN = 'keep-awake-token-1'
  const h = await startGateway(testConfig({ admin: { host: '127.0.0.1', port: 0, token: TOKEN } }, [exampleApp({ idleTimeout: '300ms' })]), { reapInterval: 50 })
  t.teardown(() => h.close())
  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${h.wg.adminUrl}/`)
  await page.fill('#token', TOKEN)
  await page.click('#auth button')
  await page.waitForSelector('tr[data-key="example/2"]')
  const before = Date.now()
  await page.click('tr[data-key="example/2"] button[data-action="keep-awake"]')
  await page.waitForSelector('tr[data-key="example/2"] .kept', { timeout: 10_000 })
  t.match(await page.textContent('tr[data-key="example/2"] .kept'), /kept awake until/)
  const env = h.wg.manager.envs.get('example/2')!
  t.ok(env.keepAwakeUntil >= before + 7_200_000 && env.keepAwakeUntil <= Date.now() + 7_200_000, 'two hours from the click')
  await waitFor(() => env.state === 'running', 20_000, 'started')
  await sleep(900)
  t.equal(env.state, 'running', 'kept past the idle timeout')
  t.equal(h.wg.manager.envs.get('example/1')!.keepAwakeUntil, 0, 'only the env clicked')
})
