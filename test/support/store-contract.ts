// The Store contract, run against every store (test/store-contract.test.ts). A target gives
// fresh, empty spaces; every store opened in one space shares its state the way gateway
// replicas share one Redis (the memory store hands out its one instance).
import type { Test } from 'tap'
import { StaleWriteError, type EnvRecord, type Store, type StoreEvent } from '../../src/stores/store.js'

export interface StoreSpace {
  open (): Promise<Store>
}

export interface StoreTarget {
  name: string
  space (): StoreSpace
}

export function record (key: string, fields: Partial<EnvRecord> = {}): EnvRecord {
  const [app, pr] = key.split('/')
  return {
    key, app, pr: Number(pr), branch: 'feature', sha: 'a'.repeat(40), state: 'asleep', generation: 1,
    lastSeen: 0, createdAt: 1, updatedAt: 1, source: 'config', ...fields
  }
}

export async function until (cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

async function staleOf (p: Promise<unknown>): Promise<StaleWriteError> {
  try { await p } catch (err) { if (err instanceof StaleWriteError) return err; throw err }
  throw new Error('write was not refused')
}

export function storeContract (t: Test, target: StoreTarget): void {
  /** Two stores on one fresh space (two replicas, or the same memory store twice). */
  const pair = async (t: Test): Promise<[Store, Store]> => {
    const space = target.space()
    const a = await space.open()
    const b = await space.open()
    t.teardown(async () => { await a.close(); await b.close() })
    return [a, b]
  }

  t.test(`${target.name}: versions start at 1 and grow by one per write; get returns the version`, async t => {
    const [s, peer] = await pair(t)
    t.equal(await s.put(record('app/1')), 1)
    t.equal(await s.put(record('app/1', { state: 'running' })), 2)
    t.equal(await peer.put({ ...record('app/1', { state: 'stopping' }), version: 99 } as EnvRecord), 3, 'a version field on the record is ignored')
    const got = await s.get('app/1')
    t.equal(got?.version, 3)
    t.equal(got?.state, 'stopping')
    t.equal(got?.pr, 1)
    t.equal(await s.get('app/2'), undefined, 'unknown key')
  })

  t.test(`${target.name}: ifVersion compare-and-set; a mismatch rejects and writes nothing`, async t => {
    const [s, peer] = await pair(t)
    t.equal(await s.put(record('app/1'), { ifVersion: 0 }), 1, 'ifVersion 0 creates')
    t.equal(await peer.put(record('app/1', { state: 'running' }), { ifVersion: 1 }), 2)
    const err = await staleOf(s.put(record('app/1', { state: 'failed' }), { ifVersion: 1 }))
    t.equal(err.reason, 'version')
    t.equal(err.current, 2)
    t.equal(err.offered, 1)
    t.equal(err.key, 'app/1')
    t.equal((await staleOf(s.put(record('app/1'), { ifVersion: 0 }))).reason, 'version', 'ifVersion 0 on an existing record')
    const got = await peer.get('app/1')
    t.equal(got?.version, 2, 'version unchanged')
    t.equal(got?.state, 'running', 'record unchanged')
  })

  t.test(`${target.name}: versions are not reused after a delete`, async t => {
    const [s] = await pair(t)
    await s.put(record('app/1'))
    await s.put(record('app/1'))
    await s.delete('app/1')
    t.equal(await s.get('app/1'), undefined)
    t.equal((await staleOf(s.put(record('app/1'), { ifVersion: 2 }))).current, 0, 'a version read before the delete does not match')
    t.equal(await s.put(record('app/1'), { ifVersion: 0 }), 3, 'created again, next version')
  })

  t.test(`${target.name}: a fence older than the newest one written for the key rejects`, async t => {
    const [a, b] = await pair(t)
    const first = await a.lock('app/1', 100)
    t.ok(first)
    await sleep(200)
    const second = await b.lock('app/1', 5000)
    t.ok(second)
    t.ok(second!.token > first!.token)
    t.equal(await b.put(record('app/1', { state: 'running' }), { fence: second!.token }), 1)
    t.equal(await b.put(record('app/1', { state: 'running' }), { fence: second!.token }), 2, 'the same fence again is fine')
    const err = await staleOf(a.put(record('app/1', { state: 'failed' }), { fence: first!.token }))
    t.equal(err.reason, 'fence')
    t.equal(err.current, second!.token)
    t.equal(err.offered, first!.token)
    t.equal((await a.get('app/1'))?.state, 'running', 'the lapsed holder wrote nothing')
    t.equal((await a.get('app/1'))?.version, 2)
    t.equal(await a.put(record('app/1', { state: 'asleep' })), 3, 'unfenced writes are not checked')
    await a.delete('app/1')
    t.equal((await staleOf(a.put(record('app/1'), { fence: first!.token }))).reason, 'fence', 'the fence outlives a delete')
    await second!.release()
  })

  t.test(`${target.name}: a lock is exclusive across replicas; one winner of many`, async t => {
    const [a, b] = await pair(t)
    const attempts = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).lock('wake:app/1', 5000)))
    const won = attempts.filter(l => l !== null)
    t.equal(won.length, 1, 'one holder')
    t.equal(await a.lock('wake:app/1', 5000), null)
    t.equal(await b.lock('wake:app/1', 5000), null)
    const other = await b.lock('wake:app/2', 5000)
    t.ok(other, 'another key is free')
    await won[0]!.release()
    t.ok(await a.lock('wake:app/1', 5000), 'free again after release')
  })

  t.test(`${target.name}: a lock expires after its ttl; the lapsed holder can neither renew nor release`, async t => {
    const [a, b] = await pair(t)
    const old = await a.lock('k', 200)
    t.ok(old)
    t.equal(await b.lock('k', 200), null, 'held')
    await sleep(400)
    const next = await b.lock('k', 5000)
    t.ok(next, 'taken after expiry')
    t.ok(next!.token > old!.token)
    t.equal(await old!.renew(5000), false, 'renew by the lapsed holder')
    await old!.release()
    t.equal(await a.lock('k', 5000), null, 'release by a non-holder did nothing')
    t.equal(await next!.renew(), true)
    await next!.release()
  })

  t.test(`${target.name}: renew extends a lock`, async t => {
    const [a, b] = await pair(t)
    const l = await a.lock('k', 200)
    t.equal(await l!.renew(1500), true)
    await sleep(350)
    t.equal(await b.lock('k', 200), null, 'still held past the first ttl')
    await l!.release()
    t.ok(await b.lock('k', 200), 'free after release')
  })

  t.test(`${target.name}: tokens strictly increase per key, whichever replica locks`, async t => {
    const [a, b] = await pair(t)
    const tokens: number[] = []
    for (let i = 0; i < 6; i++) {
      const l = await (i % 2 ? a : b).lock('k', 5000)
      tokens.push(l!.token)
      await l!.release()
    }
    t.ok(tokens.every((tok, i) => i === 0 || tok > tokens[i - 1]), `increasing: ${tokens.join(',')}`)
  })

  t.test(`${target.name}: publish reaches every subscriber, the publisher's own included, with its origin`, async t => {
    const [a, b] = await pair(t)
    const onA: StoreEvent[] = []
    const onB: StoreEvent[] = []
    const gone: StoreEvent[] = []
    a.subscribe(e => onA.push(e))
    b.subscribe(e => onB.push(e))
    const off = b.subscribe(e => gone.push(e))
    b.subscribe(() => { throw new Error('a subscriber that throws') })
    await a.publish({ type: 'route', key: 'app/1', generation: 2 })
    await until(() => onA.length === 1 && onB.length === 1 && gone.length === 1, 'first event')
    t.same(onB[0], { type: 'route', key: 'app/1', generation: 2, origin: a.id })
    t.equal(onA[0].origin, a.id, 'own events are recognisable')
    off()
    await b.publish({ type: 'sleep', key: 'app/1' })
    await until(() => onA.length === 2 && onB.length === 2, 'second event')
    t.equal(onA[1].origin, b.id)
    t.equal(gone.length, 1, 'nothing after unsubscribe')
    onA[1].type = 'changed'
    t.equal(onB[1].type, 'sleep', 'each subscriber has its own copy')
  })

  t.test(`${target.name}: firstDelivery true once, false after; true again after forget and after the ttl`, async t => {
    const [a, b] = await pair(t)
    t.equal(await a.firstDelivery('github:1', 60_000), true)
    t.equal(await b.firstDelivery('github:1', 60_000), false)
    t.equal(await a.firstDelivery('github:1', 60_000), false)
    await b.forgetDelivery('github:1')
    t.equal(await a.firstDelivery('github:1', 60_000), true, 'after forget')
    t.equal(await a.firstDelivery('github:2', 200), true)
    t.equal(await b.firstDelivery('github:2', 200), false)
    await sleep(400)
    t.equal(await b.firstDelivery('github:2', 200), true, 'after the ttl')
  })

  t.test(`${target.name}: list and delete`, async t => {
    const [a, b] = await pair(t)
    t.same(await a.list(), [])
    await a.put(record('app/1'))
    await a.put(record('app/2'))
    await a.put(record('app/2'))
    await b.put(record('other/3'))
    const all = (await b.list()).sort((x, y) => x.key.localeCompare(y.key))
    t.same(all.map(r => [r.key, r.version]), [['app/1', 1], ['app/2', 2], ['other/3', 1]])
    await b.delete('app/2')
    await b.delete('nope/9')
    t.same((await a.list()).map(r => r.key).sort(), ['app/1', 'other/3'])
    t.equal(await a.get('app/2'), undefined)
  })

  t.test(`${target.name}: healthy while open`, async t => {
    const [a] = await pair(t)
    t.equal(a.healthy(), true)
    t.type(a.kind, 'string')
  })
}
