// A Redis outage is visible and fails fast: healthy() goes false, calls reject instead of
// waiting for Redis, and after Redis is back (same port, empty) both connections recover,
// events included (the subscriber connection resubscribes).
import t from 'tap'
import { RedisStore } from '../src/stores/redis.js'
import { startRedis } from './support/redis.js'
import { record, until } from './support/store-contract.js'

/** Settles to 'resolved' / 'rejected', or 'pending' if still unsettled after `ms` (a hang). */
async function outcome (p: Promise<unknown>, ms = 3000): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<string>(resolve => { timer = setTimeout(() => resolve('pending'), ms) })
  const r = await Promise.race([p.then(() => 'resolved', () => 'rejected'), hang])
  clearTimeout(timer)
  return r
}

t.test('redis down: healthy false, writes reject at once; back up: healthy and working again', async t => {
  const server = await startRedis()
  t.teardown(() => server.close())
  const a = new RedisStore({ url: server.url, keyPrefix: 'outage:' })
  const b = new RedisStore({ url: server.url, keyPrefix: 'outage:' })
  t.teardown(async () => { await a.close(); await b.close() })
  await Promise.all([a.ready(), b.ready()])
  t.equal(await a.put(record('app/1')), 1)
  const events: unknown[] = []
  a.subscribe(e => events.push(e))

  await server.stop()
  await until(() => !a.healthy() && !b.healthy(), 'healthy() false on both replicas')
  t.equal(await outcome(a.put(record('app/1'))), 'rejected', 'put')
  t.equal(await outcome(a.get('app/1')), 'rejected', 'get')
  t.equal(await outcome(b.lock('app/1', 1000)), 'rejected', 'lock')
  t.equal(await outcome(b.firstDelivery('github:1', 1000)), 'rejected', 'firstDelivery')
  t.equal(await outcome(b.publish({ type: 'x' })), 'rejected', 'publish')
  t.equal(a.healthy(), false, 'still down')

  await server.start()
  await until(() => a.healthy() && b.healthy(), 'healthy() true again', 10_000)
  t.equal(await a.put(record('app/1')), 1, 'writes work (the restarted server is empty)')
  t.equal((await b.get('app/1'))?.version, 1)
  await b.publish({ type: 'after' })
  await until(() => events.length === 1, 'event after the outage')
  t.match(events, [{ type: 'after', origin: b.id }])
})

t.test('calls in flight when Redis dies settle (resolved or rejected), none left waiting', async t => {
  const server = await startRedis()
  t.teardown(() => server.close())
  const s = new RedisStore({ url: server.url, keyPrefix: 'inflight:' })
  t.teardown(() => s.close())
  await s.ready()
  const calls = Array.from({ length: 500 }, (_, i) => s.put(record(`app/${i}`)))
  await server.stop()
  const outcomes = await Promise.all(calls.map(c => outcome(c)))
  t.equal(outcomes.filter(o => o === 'pending').length, 0, 'none pending')
  t.equal(outcomes.length, 500)
})
