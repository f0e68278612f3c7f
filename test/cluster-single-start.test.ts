// --workers N: worker processes share the public listener and the primary owns the
// lifecycle, so cold requests spread over the workers still start exactly one task, and
// activity in any worker keeps the env awake.
import t from 'tap'
import { request, Agent } from 'undici'
import WebSocket from 'ws'
import { pino } from 'pino'
import { testConfig, exampleApp, CountingBackend, waitFor, sleep } from './support/harness.js'
import { createBackend } from '../src/backends/index.js'
import { startCluster } from '../src/cluster/primary.js'
import type { ResolvedConfig } from '../src/config/load.js'

async function start (t: { teardown (fn: () => unknown): void }, config: ResolvedConfig) {
  const backend = new CountingBackend(await createBackend(config.apps[0], pino({ level: 'silent' })))
  const c = await startCluster(config, { workers: 2, backends: new Map([['example', backend]]) })
  t.teardown(() => c.close())
  const agent = new Agent({ connections: 256, pipelining: 0 })
  t.teardown(() => agent.close())
  const get = (path: string, headers: Record<string, string> = {}) =>
    request(`${c.url}${path}`, { headers: { host: 'pr-1.review.test', ...headers }, dispatcher: agent })
      .then(async res => ({ status: res.statusCode, headers: res.headers, body: await res.body.text() }))
  return { c, backend, get }
}

t.test('2 workers, 200 concurrent cold requests: exactly one task start, all served by it', async t => {
  const { c, backend, get } = await start(t, testConfig())
  // A connection per request, so the primary hands them to both workers.
  const fresh = () => new Agent({ connections: 1, pipelining: 0 })
  const agents = Array.from({ length: 200 }, fresh)
  t.teardown(() => Promise.all(agents.map(a => a.close())))
  const results = await Promise.all(agents.map((dispatcher, i) =>
    request(`${c.url}/info?i=${i}`, { headers: { host: 'pr-1.review.test' }, dispatcher })
      .then(async res => ({ status: res.statusCode, body: await res.body.text() }))
      .catch(err => ({ status: 0, body: String(err) }))))
  const statuses = new Map<number, number>()
  for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
  t.same(Object.fromEntries(statuses), { 200: 200 }, 'all 200 answered 200')
  t.equal(backend.calls.start, 1, 'exactly one task start')
  t.equal(c.manager.counters.starts, 1)
  t.equal(new Set(results.map(r => JSON.parse(r.body).pid)).size, 1, 'all served by the same task')
  await waitFor(() => [...c.workerRequests().values()].filter(n => n > 0).length === 2, 5000, 'both workers to report requests')
  t.pass('both workers served requests')

  // Warm: more requests, no more starts, same task.
  const again = await Promise.all(Array.from({ length: 50 }, () => get('/info')))
  t.ok(again.every(r => r.status === 200))
  t.equal(backend.calls.start, 1, 'no start for a running env')
  t.equal(c.manager.envs.get('example/1')!.state, 'running')
})

t.test('activity in the workers keeps the env awake; without it the primary stops the task', async t => {
  const { c, backend, get } = await start(t, testConfig({}, [exampleApp({ idleTimeout: '800ms' })]))
  const first = await get('/info')
  t.equal(first.status, 200)
  // A slow request in flight in a worker is activity the primary must see.
  const slow = get('/slow?ms=1800')
  await sleep(1300)
  t.equal(c.manager.envs.get('example/1')!.state, 'running', 'kept awake by a request in flight in a worker')
  t.equal((await slow).status, 200)
  await waitFor(() => c.manager.envs.get('example/1')!.state === 'asleep', 5000, 'idle stop')
  t.equal(backend.calls.stop, 1, 'stopped once idle')
  // The workers saw the route go: the next request wakes it again (one more start).
  const after = await get('/info')
  t.equal(after.status, 200)
  t.equal(backend.calls.start, 2)
})

t.test('a redeploy reaches every worker; the old generation drains its in-flight requests first', async t => {
  const { c, backend, get } = await start(t, testConfig())
  const before = JSON.parse((await get('/info')).body)
  // A request still running on the old generation when the switch happens.
  const slow = get('/slow?ms=1500')
  await sleep(200)
  c.manager.redeploy(c.manager.envs.get('example/1')!, 'ccccccc3', 'test push')
  await waitFor(async () => JSON.parse((await get('/info')).body).sha === 'ccccccc3', 10_000, 'new generation served')
  // Every worker serves the new task: several fresh connections, all on the new pid.
  const agents = Array.from({ length: 8 }, () => new Agent({ connections: 1 }))
  t.teardown(() => Promise.all(agents.map(a => a.close())))
  const now = await Promise.all(agents.map(dispatcher => request(`${c.url}/info`, { headers: { host: 'pr-1.review.test' }, dispatcher }).then(r => r.body.json() as Promise<{ pid: number, sha: string }>)))
  t.ok(now.every(i => i.sha === 'ccccccc3' && i.pid !== before.pid), 'all workers switched')
  const old = await slow
  t.equal(old.status, 200, 'the in-flight request on the old generation finished')
  t.equal(old.body, 'slept 1500\n')
  await waitFor(() => backend.calls.stop === 1, 5000, 'old task stopped after its drain')
  t.equal(backend.calls.start, 2)
})

t.test('/metrics counts the WebSocket tunnels and held requests of the workers', async t => {
  const { c, get } = await start(t, testConfig({}, [exampleApp({ env: { READY_AFTER_MS: '2500' } })]))
  const metric = async (name: string): Promise<number> => {
    const res = await request(`${c.wg.adminUrl!}/metrics`)
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(await res.body.text())
    return m ? Number(m[1]) : NaN
  }
  // Held in a worker while the env wakes (the app answers its health check after 2.5 s).
  const held = get('/info')
  await waitFor(async () => await metric('wakegate_held_requests') === 1, 5000, 'the held request counted')
  t.equal((await held).status, 200)
  await waitFor(async () => await metric('wakegate_held_requests') === 0, 5000, 'released')
  // Tunnels open in the workers.
  const sockets = await Promise.all([1, 2, 3].map(() => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`${c.url.replace('http', 'ws')}/ws`, { headers: { host: 'pr-1.review.test' } })
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })))
  t.teardown(() => { for (const ws of sockets) ws.terminate() })
  await waitFor(async () => await metric('wakegate_open_streams') === 3, 5000, 'three tunnels counted')
  t.pass('three tunnels counted')
  for (const ws of sockets) ws.close()
  await waitFor(async () => await metric('wakegate_open_streams') === 0, 5000, 'closed tunnels no longer counted')
  t.pass('closed tunnels no longer counted')
})

t.test('one cold-start header per wake across workers', async t => {
  const { c, get } = await start(t, testConfig())
  const first = await get('/info')
  t.equal(first.status, 200)
  t.ok(first.headers['x-wakegate-cold-start'], 'the request that waited for the wake says so')
  await sleep(100) // the other worker hears from the primary that the header went out
  // Fresh connections, so both workers answer.
  const agents = Array.from({ length: 10 }, () => new Agent({ connections: 1 }))
  t.teardown(() => Promise.all(agents.map(a => a.close())))
  const rest = await Promise.all(agents.map(dispatcher => request(`${c.url}/info`, { headers: { host: 'pr-1.review.test' }, dispatcher })
    .then(async res => { await res.body.text(); return res.headers })))
  await waitFor(() => [...c.workerRequests().values()].filter(n => n > 0).length === 2, 5000, 'both workers to report requests')
  t.equal(rest.filter(h => h['x-wakegate-cold-start'] !== undefined).length, 0, 'no later response carries it, whichever worker served it')
})
