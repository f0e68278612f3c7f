// Machines are not demand: an uptime monitor or crawler polling a running env does not keep it
// awake (it sleeps after its idle timeout, and the bot never wakes it again), and its requests
// are counted apart from people's; a person polling the same way keeps the env running.
import t from 'tap'
import { request } from 'undici'
import { startGateway, testConfig, exampleApp, waitFor, sleep } from './support/harness.js'

const TOKEN = 'machine-test-token'
const HOST = 'pr-1.review.test'
const BOT = 'Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)'
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'
const IDLE = 800

async function counters (admin: string): Promise<Record<string, number>> {
  const text = await (await request(`${admin}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).body.text()
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^wakegate_client_requests_total\{app="example",client="(\w+)"\} (\d+)$/gm)) out[m[1]] = Number(m[2])
  return out
}

t.test('a bot polling every 100 ms does not keep an env awake, never wakes it, and is counted as a machine', async t => {
  const h = await startGateway(testConfig({ admin: { host: '127.0.0.1', port: 0, token: TOKEN } }, [exampleApp({ idleTimeout: `${IDLE}ms` })]), { reapInterval: 50 })
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!
  t.equal((await h.get(HOST, '/info', { 'user-agent': BROWSER })).status, 200, 'a person wakes the env')

  let polls = 0
  let proxied = 0
  let previews = 0
  let stop = false
  const poller = (async () => {
    while (!stop) {
      const r = await h.get(HOST, '/info', { 'user-agent': BOT })
      polls++
      if (r.body.includes('"pid"')) proxied++
      else if (r.body.includes('og:title')) previews++
      await sleep(100)
    }
  })()
  await waitFor(() => env.state === 'asleep', 10_000, 'the env to sleep while the bot polls')
  t.ok(proxied >= 5, `the bot was served by the running env (${proxied} times) and that did not keep it up`)
  await sleep(1000)
  stop = true
  await poller
  t.ok(previews >= 5, `once asleep the bot got the preview page (${previews} times)`)
  t.equal(env.state, 'asleep', 'the bot never woke it')
  t.equal(h.backends.get('example')!.calls.start, 1, 'one start: the person\'s')
  t.equal(env.sleptBy, 'policy')

  const c = await counters(h.wg.adminUrl!)
  t.equal(c.machine, polls, 'every bot request counted as a machine')
  t.equal(c.human, 1, 'the person\'s one request counted as human')
})

t.test('a person polling every 100 ms keeps the env awake', async t => {
  const h = await startGateway(testConfig({ admin: { host: '127.0.0.1', port: 0, token: TOKEN } }, [exampleApp({ idleTimeout: `${IDLE}ms` })]), { reapInterval: 50 })
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!
  let polls = 0
  const until = Date.now() + 4 * IDLE
  let stayed = true
  while (Date.now() < until) {
    t.equal((await h.get(HOST, '/info', { 'user-agent': BROWSER })).status, 200)
    polls++
    if (polls > 1 && env.state !== 'running') stayed = false
    await sleep(100)
  }
  t.ok(stayed, `running all along (${polls} requests over 4 idle timeouts)`)
  const c = await counters(h.wg.adminUrl!)
  t.equal(c.human, polls)
  t.equal(c.machine, 0)
  await waitFor(() => env.state === 'asleep', 10_000, 'sleep once the person stops')
})

t.test('a machine\'s request in flight does not hold the env up; a person\'s does', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ idleTimeout: `${IDLE}ms` })]), { reapInterval: 50 })
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!
  t.equal((await h.get(HOST, '/info')).status, 200)
  // A person's slow request spanning 3 idle timeouts keeps it running.
  const slow = h.get(HOST, `/slow?ms=${3 * IDLE}`, { 'user-agent': BROWSER })
  await sleep(2 * IDLE)
  t.equal(env.state, 'running', 'kept up by a person\'s request in flight')
  t.equal((await slow).status, 200)
  await waitFor(() => env.state === 'asleep', 10_000, 'sleep after it')

  t.equal((await h.get(HOST, '/info')).status, 200, 'woken again')
  const botSlow = h.get(HOST, `/slow?ms=${4 * IDLE}`, { 'user-agent': BOT }).catch(() => null)
  await waitFor(() => env.inflight === 1 && env.passive === 1, 5000, 'the bot request in flight')
  await waitFor(() => env.state !== 'running', 10_000, 'sleep although a bot request is in flight')
  t.pass('the bot\'s request in flight did not count as activity')
  await botSlow
})
