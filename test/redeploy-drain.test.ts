import t from 'tap'
import { createHash } from 'node:crypto'
import WebSocket from 'ws'
import { request } from 'undici'
import { startGateway, testConfig, exampleApp, waitFor, sleep } from './support/harness.js'

/** What examples/app/server.js sends for /bytes?n=… */
function expectedHash (n: number): string {
  const chunk = Buffer.alloc(64 * 1024, 'wakegate-')
  const h = createHash('sha256')
  let left = n
  while (left > 0) { const part = left >= chunk.length ? chunk : chunk.subarray(0, left); h.update(part); left -= part.length }
  return h.digest('hex')
}

t.test('a 50 MiB download started before the switch completes intact', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ drainTimeout: '1s' })]))
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!
  await h.get('pr-1.review.test', '/info')
  const N = 50 * 1024 * 1024
  const res = await request(`${h.url}/bytes?n=${N}`, { headers: { host: 'pr-1.review.test' } })
  const hash = createHash('sha256')
  let got = 0
  let switched = false
  h.wg.manager.redeploy(env, 'sha-next', 'test')
  for await (const c of res.body) {
    hash.update(c as Buffer)
    got += (c as Buffer).length
    if (!switched && env.runningSha === 'sha-next') switched = true
    if (!switched) await sleep(5) // read slowly so the switch happens mid-download
  }
  t.ok(switched, 'the switch happened while downloading')
  t.equal(got, N)
  t.equal(hash.digest('hex'), expectedHash(N), 'checksum matches')
  const after = JSON.parse((await h.get('pr-1.review.test', '/info')).body)
  t.equal(after.sha, 'sha-next')
})

t.test('a WebSocket opened before the switch keeps echoing until the drain timeout, then gets 1012; new sockets reach the new generation', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ drainTimeout: '1500ms' })]))
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!
  const wsUrl = `${h.url.replace('http', 'ws')}/ws`
  const open = () => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { headers: { host: 'pr-1.review.test' } })
    ws.once('open', () => resolve(ws)).once('error', reject)
  })
  const echo = (ws: WebSocket, m: string) => new Promise<string>(resolve => { ws.once('message', d => resolve(d.toString())); ws.send(m) })
  const old = await open()
  const closed = new Promise<{ code: number, at: number }>(resolve => old.once('close', code => resolve({ code, at: Date.now() })))
  const oldGen = env.route!.generation

  h.wg.manager.redeploy(env, 'sha-next', 'test')
  await waitFor(() => env.runningSha === 'sha-next', 20_000, 'switch')
  const switchedAt = Date.now()
  t.equal(await echo(old, 'after switch'), 'after switch', 'old socket still echoes after the switch')
  await sleep(500)
  t.equal(await echo(old, 'still'), 'still')

  const fresh = await open()
  t.equal(await echo(fresh, 'new'), 'new')
  const gens = [...h.wg.gateway.upgrades.tunnels].map(tn => tn.upstream.generation).sort()
  t.same(gens, [oldGen, env.route!.generation].sort(), 'new socket tunnels to the new generation')

  const { code, at } = await closed
  t.equal(code, 1012, 'told with 1012 service restart')
  t.ok(at - switchedAt >= 1000, 'not before the drain timeout')
  await waitFor(() => env.draining.size === 0, 10_000, 'old generation stopped')
  t.equal(await echo(fresh, 'alive'), 'alive', 'the new socket is unaffected')
  fresh.close()
})

t.test('server-sent event streams on the old generation end cleanly at the drain timeout', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ drainTimeout: '800ms' })]))
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!
  await h.get('pr-1.review.test', '/info')
  const res = await request(`${h.url}/events`, { headers: { host: 'pr-1.review.test' } })
  t.equal(env.streams, 1, 'an open event stream is a stream')
  h.wg.manager.redeploy(env, 'sha-next', 'test')
  let text = ''
  for await (const c of res.body) text += c.toString() // ends without an error
  t.match(text, /data: aaaaaaa1/)
  t.equal(env.runningSha, 'sha-next')
  await waitFor(() => env.draining.size === 0, 10_000, 'drained')
})
