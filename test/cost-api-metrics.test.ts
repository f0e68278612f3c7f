import t from 'tap'
import { request } from 'undici'
import { exampleApp, startGateway, testConfig, waitFor, type Harness } from './support/harness.js'
import { costOf } from '../src/cost/prices.js'

const SHOP_SIZE = { vcpu: 1, memoryGb: 2 }
// A price that makes seconds of running worth dollars: the sums are compared to the cent fraction.
const PRICE = { vcpuHour: 3600, gbHour: 1800 }

async function get (h: Harness, path: string): Promise<any> {
  const res = await request(`${h.wg.adminUrl}${path}`)
  return path === '/metrics' ? res.body.text() : res.body.json()
}

/** The value of one sample of the exposition text, or undefined. */
function sample (text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(`${name}{${labels}} `))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

t.test('/api/cost and /metrics sum the envs per app and per PR author, and keep forgotten envs', async t => {
  const h = await startGateway(testConfig({ cost: { prices: { ec2Spot: PRICE } } }, [
    exampleApp({ name: 'shop', host: 'pr-{pr}.shop.test', prs: [], cost: { capacity: 'ec2-spot', size: SHOP_SIZE } }),
    exampleApp({ name: 'docs', host: 'pr-{pr}.docs.test', prs: [] })
  ]))
  t.teardown(() => h.close())
  const m = h.wg.manager
  // As the webhook handler registers opened PRs, with their authors.
  m.register('shop', 1, { author: 'alice', sha: 'a1a1a1a1', source: 'github' })
  m.register('shop', 2, { author: 'bob', sha: 'b2b2b2b2', source: 'github' })
  m.register('shop', 3, { author: 'alice', sha: 'a3a3a3a3', source: 'github' })
  m.register('docs', 1, { author: 'alice', sha: 'd1d1d1d1', source: 'github' })

  const woken = ['pr-1.shop.test', 'pr-2.shop.test', 'pr-1.docs.test']
  t.same((await Promise.all(woken.map(host => h.get(host, '/info')))).map(r => r.status), [200, 200, 200])
  for (const key of ['shop/1', 'shop/2', 'docs/1']) m.sleep(m.envs.get(key)!, 'test')
  await waitFor(() => [...m.envs.values()].every(e => e.state === 'asleep'), 15_000, 'all asleep')

  const ran: Record<string, number> = {}
  for (const key of ['shop/1', 'shop/2', 'shop/3', 'docs/1']) ran[key] = (await get(h, `/api/envs/${key}`)).cost.runningMs
  t.ok(ran['shop/1'] > 0 && ran['shop/2'] > 0 && ran['docs/1'] > 0, 'the woken envs ran')
  t.equal(ran['shop/3'], 0, 'the one never woken did not')
  const amount = (ms: number) => costOf(ms, SHOP_SIZE, PRICE)
  const near = (a: number | undefined, b: number, what: string) => t.ok(a !== undefined && Math.abs(a - b) < 1e-5, `${what}: ${a} ≈ ${b}`)

  const cost = await get(h, '/api/cost')
  t.equal(cost.currency, 'USD')
  const shop = cost.apps.find((a: any) => a.app === 'shop')
  const docs = cost.apps.find((a: any) => a.app === 'docs')
  t.equal(shop.envs, 3)
  t.equal(shop.runningMs, ran['shop/1'] + ran['shop/2'] + ran['shop/3'], 'per app: the sum of its envs')
  near(shop.amount, amount(shop.runningMs), 'shop amount')
  t.equal(shop.capacity, 'ec2-spot')
  t.same(shop.price, PRICE, 'the price from cost.prices')
  t.ok(shop.alwaysOnAmount > shop.amount, 'always on for three envs costs more')
  t.equal(docs.runningMs, ran['docs/1'])
  t.equal(docs.amount, undefined, 'no size for the docs app: no amount, not a guess')
  const alice = cost.authors.find((a: any) => a.author === 'alice')
  const bob = cost.authors.find((a: any) => a.author === 'bob')
  t.equal(alice.envs, 3)
  t.equal(alice.unpriced, 1, "alice's docs env is not priced")
  t.equal(alice.runningMs, ran['shop/1'] + ran['shop/3'] + ran['docs/1'])
  near(alice.amount, amount(ran['shop/1'] + ran['shop/3']), 'alice: her shop envs')
  near(bob.amount, amount(ran['shop/2']), 'bob')
  near(cost.total.amount, shop.amount, 'total')

  const metrics = await get(h, '/metrics')
  near(sample(metrics, 'wakegate_cost_total', 'app="shop",currency="USD"'), amount(shop.runningMs), 'metric per app')
  t.equal(sample(metrics, 'wakegate_cost_total', 'app="docs",currency="USD"'), undefined, 'no cost metric for an app without a size')
  t.equal(sample(metrics, 'wakegate_env_running_seconds_total', 'app="docs"'), ran['docs/1'] / 1000, 'running seconds for every app')
  near(sample(metrics, 'wakegate_cost_by_author_total', 'app="shop",author="alice",currency="USD"'), amount(ran['shop/1'] + ran['shop/3']), 'metric per author')
  near(sample(metrics, 'wakegate_cost_by_author_total', 'app="shop",author="bob",currency="USD"'), amount(ran['shop/2']), 'metric per author')
  t.ok(sample(metrics, 'wakegate_always_on_cost_total', 'app="shop",currency="USD"')! > shop.amount)

  // A closed PR's env is forgotten after its tombstone: its cost stays in the totals.
  const bobs = m.envs.get('shop/2')!
  m.destroy(bobs)
  await waitFor(() => bobs.state === 'destroyed', 5_000, 'destroyed')
  const closedView = await get(h, '/api/envs/shop/2')
  m.forget(bobs)
  t.notOk(m.envs.has('shop/2'))
  const later = await get(h, '/api/cost')
  const bobLater = later.authors.find((a: any) => a.author === 'bob')
  t.equal(bobLater.runningMs, ran['shop/2'], 'a forgotten env keeps its task time')
  t.equal(bobLater.envs, 1)
  t.ok(Math.abs(bobLater.alwaysOnAmount - closedView.cost.alwaysOnAmount) < 1e-5, 'and its always-on time up to the close')
  near(sample(await get(h, '/metrics'), 'wakegate_cost_by_author_total', 'app="shop",author="bob",currency="USD"'), amount(ran['shop/2']), 'the counter does not go down')
})
