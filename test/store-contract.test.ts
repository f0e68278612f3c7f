// The Store contract against the memory store and against the Redis store on a real
// redis-server (two RedisStore instances in one space = two gateway replicas).
import t from 'tap'
import { MemoryStore } from '../src/stores/memory.js'
import { RedisStore } from '../src/stores/redis.js'
import { startRedis } from './support/redis.js'
import { record, storeContract, until } from './support/store-contract.js'

storeContract(t, {
  name: 'memory',
  space () {
    const store = new MemoryStore()
    return { open: async () => store }
  }
})

t.test('memory: lock and delivery-id expiry follow the injected clock', async t => {
  let now = 1_000
  const s = new MemoryStore({ now: () => now })
  const l = await s.lock('k', 200)
  t.equal(await s.firstDelivery('d', 200), true)
  now += 199
  t.equal(await s.lock('k', 200), null, 'held until the ttl')
  t.equal(await s.firstDelivery('d', 200), false)
  t.equal(await l!.renew(), true, 'renewed for another 200')
  now += 150
  t.equal(await s.lock('k', 200), null, 'held past the first ttl')
  t.equal(await s.firstDelivery('d', 200), true, 'delivery id expired')
  now += 50
  t.equal(await l!.renew(), false, 'lapsed')
  t.ok(await s.lock('k', 200), 'taken after expiry')
})

const server = await startRedis()
t.teardown(() => server.close())
let spaces = 0
const openRedis = async (keyPrefix: string) => {
  const store = new RedisStore({ url: server.url, keyPrefix })
  await store.ready()
  return store
}

storeContract(t, {
  name: 'redis',
  space () {
    const keyPrefix = `contract-${++spaces}:`
    return { open: () => openRedis(keyPrefix) }
  }
})

t.test('redis: keyPrefix separates gateways on one Redis (records and events)', async t => {
  const a = await openRedis('one:')
  const b = await openRedis('two:')
  t.teardown(async () => { await a.close(); await b.close() })
  await a.put(record('app/1'))
  t.equal(await b.get('app/1'), undefined)
  t.same(await b.list(), [])
  t.ok(await a.lock('k', 5000))
  t.ok(await b.lock('k', 5000), 'locks are per prefix')
  const onA: unknown[] = []
  const onB: unknown[] = []
  a.subscribe(e => onA.push(e))
  b.subscribe(e => onB.push(e))
  await b.publish({ type: 'x' })
  await a.publish({ type: 'y' })
  await until(() => onA.length === 1 && onB.length === 1, 'one event each')
  t.match(onA, [{ type: 'y' }])
  t.match(onB, [{ type: 'x' }])
})

t.test('redis: healthy() is false once closed', async t => {
  const a = await openRedis('closing:')
  t.equal(a.healthy(), true)
  await a.close()
  t.equal(a.healthy(), false)
})
