// --workers N: what tells people from machines and real traffic from heartbeats happens in the
// workers, and the primary (reaper, metrics) must see it: client counts add up across workers,
// real WebSocket traffic through a worker keeps the env awake while heartbeats do not, and a
// worker refuses a reconnect to an env put to sleep at its own edge, without a wake.
import t from 'tap'
import { request, Agent } from 'undici'
import WebSocket from 'ws'
import { pino } from 'pino'
import { testConfig, exampleApp, CountingBackend, waitFor, sleep, ROOT } from './support/harness.js'
import { metric } from './support/vite.js'
import { createBackend } from '../src/backends/index.js'
import { startCluster } from '../src/cluster/primary.js'

const TOKEN = 'cluster-activity-token'
const HOST = 'pr-1.review.test'
const BOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'
const CHATTY = `exec node ${JSON.stringify(`${ROOT}/test/fixtures/chatty-app.mjs`)}`
const IDLE = 800
const QUIET = 1500

t.test('2 workers: client counts add up, real traffic keeps the env awake, heartbeats do not, reconnects are refused at the edge', async t => {
  const config = testConfig({ admin: { host: '127.0.0.1', port: 0, token: TOKEN } }, [exampleApp({
    idleTimeout: `${IDLE}ms`, streamQuietTimeout: `${QUIET}ms`, health: { path: '/healthz' }, backend: { kind: 'local', command: CHATTY, stopGrace: '1s' }
  })])
  const backend = new CountingBackend(await createBackend(config.apps[0], pino({ level: 'silent' })))
  const c = await startCluster(config, { workers: 2, backends: new Map([['example', backend]]), reapInterval: 50 })
  t.teardown(() => c.close())
  const env = c.manager.envs.get('example/1')!
  const admin = c.wg.adminUrl!
  const series = (client: string) => metric(admin, TOKEN, `wakegate_client_requests_total{app="example",client="${client}"}`)
  // A connection per request, so they spread over both workers.
  const get = async (headers: Record<string, string> = {}) => {
    const dispatcher = new Agent({ connections: 1, pipelining: 0 })
    try {
      const res = await request(`${c.url}/`, { headers: { host: HOST, ...headers }, dispatcher })
      return { status: res.statusCode, body: await res.body.text() }
    } finally { await dispatcher.close() }
  }
  const open = (path: string) => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`${c.url.replace('http', 'ws')}${path}`, { headers: { host: HOST } })
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })

  // 20 people's and 30 bots' requests through both workers, the env running throughout.
  for (let i = 0; i < 20; i++) t.equal((await get()).status, 200)
  for (let i = 0; i < 30; i++) t.equal((await get({ 'user-agent': BOT })).status, 200)
  await waitFor(async () => await series('human') === 20 && await series('machine') === 30, 5000, 'the workers\' counts at the primary')
  t.pass('20 human and 30 machine requests counted once each across the workers')
  await waitFor(() => [...c.workerRequests().values()].filter(n => n > 0).length === 2, 5000, 'both workers to have served')

  // Real messages on a socket through a worker for 3× (QUIET + IDLE): the primary keeps the env up.
  t.equal((await get()).status, 200, 'a request (the env may have gone idle meanwhile)')
  const busy = await open('/echo')
  let n = 0
  const sending = setInterval(() => busy.send(`{"type":"edit","n":${++n}}`), 100)
  const until = Date.now() + 3 * (QUIET + IDLE)
  let stayed = true
  while (Date.now() < until) {
    if (env.state !== 'running') stayed = false
    await sleep(50)
  }
  clearInterval(sending)
  busy.close()
  t.ok(stayed, 'running all along while real messages went through a worker')

  // Heartbeats only: the env goes to sleep although the socket stays open.
  const tab = await open('/eio?ping=50')
  tab.on('message', d => { if (String(d) === '2') tab.send('3') })
  const closed = new Promise(resolve => tab.once('close', resolve))
  await waitFor(() => env.state === 'asleep', 15_000, 'sleep despite the heartbeat socket')
  await closed
  t.equal(env.sleptBy, 'policy')
  const starts = backend.calls.start

  // The tab reconnects through either worker: refused there, nothing asked of the primary.
  for (let i = 0; i < 4; i++) {
    await t.rejects(open('/eio'), /503/, `reconnect ${i + 1} refused`)
    t.equal((await get({ accept: 'text/event-stream' })).status, 503, `event-stream reconnect ${i + 1} refused`)
  }
  await waitFor(async () => await metric(admin, TOKEN, 'wakegate_reconnects_refused_total{app="example"}') === 8, 5000, 'the refusals counted at the primary')
  t.equal(backend.calls.start, starts, 'nothing started')
  t.equal(env.state, 'asleep')

  // A person's request through a worker wakes it and clears the mark in every worker.
  t.equal((await get()).status, 200)
  t.equal(backend.calls.start, starts + 1)
  t.equal(env.sleptBy, '')
  const ws = await open('/echo')
  ws.close()
  t.pass('a socket opens again')
})
