import t from 'tap'
import { costOf, hourlyCost, DEFAULT_PRICES, PRICES_DATE } from '../src/cost/prices.js'
import { sizeOfTaskDefinition } from '../src/cost/size.js'
import { defaultCapacity } from '../src/cost/config.js'
import { accountOpen, accountRun, alwaysOnMs, runningMs, type Meta } from '../src/cost/account.js'
import { formatMoney, formatSpan } from '../src/cost/format.js'
import { validateConfig } from '../src/config/load.js'
import { ConfigError } from '../src/errors.js'
import { exampleApp, testConfig } from './support/harness.js'

const HOUR = 3_600_000

t.test('prices produce the expected cost for a known run', async t => {
  const fargate = { vcpuHour: 0.04048, gbHour: 0.004445 }
  const size = { vcpu: 0.25, memoryGb: 0.5 }
  t.equal(costOf(2 * HOUR, size, fargate), 2 * (0.25 * 0.04048 + 0.5 * 0.004445), '0.25 vCPU + 0.5 GB on Fargate for 2 h')
  t.equal(Math.round(costOf(2 * HOUR, size, fargate) * 1e6), 24685, '= $0.024685')
  t.equal(hourlyCost({ vcpu: 2, memoryGb: 8 }, DEFAULT_PRICES.ec2OnDemand).toFixed(4), '0.1008', 'the EC2 default splits m7i.large ($0.1008/h, 2 vCPU, 8 GiB)')
  t.equal(costOf(0, size, fargate), 0)
  t.equal(costOf(30 * 60_000, { vcpu: 1, memoryGb: 2 }, { vcpuHour: 1, gbHour: 0.5 }), 1, 'half an hour of 1 vCPU + 2 GB at 1 + 2×0.5 an hour')
  t.same(DEFAULT_PRICES.fargate, fargate, 'the long-standing us-east-1 Fargate list prices')
  t.equal(PRICES_DATE, '2026-12')
  t.ok(DEFAULT_PRICES.fargateSpot.vcpuHour < DEFAULT_PRICES.fargate.vcpuHour && DEFAULT_PRICES.ec2Spot.gbHour < DEFAULT_PRICES.ec2OnDemand.gbHour, 'spot is cheaper')
})

t.test('a task size is read from a task definition, or not at all', async t => {
  t.same(sizeOfTaskDefinition({ cpu: '256', memory: '512', containerDefinitions: [{ name: 'web', cpu: 128, memory: 256 }] }), { size: { vcpu: 0.25, memoryGb: 0.5 } }, 'task level first')
  t.same(sizeOfTaskDefinition({ cpu: '1 vCPU', memory: '2 GB' }), { size: { vcpu: 1, memoryGb: 2 } }, 'the unit forms RegisterTaskDefinition takes')
  t.same(sizeOfTaskDefinition({ containerDefinitions: [{ name: 'web', cpu: 512, memory: 768 }, { name: 'proxy', cpu: 256, memoryReservation: 256 }] }), { size: { vcpu: 0.75, memoryGb: 1 } }, 'else the containers summed (memory, else memoryReservation)')
  t.same(sizeOfTaskDefinition({ cpu: '1024', containerDefinitions: [{ name: 'web', memory: 2048 }] }), { size: { vcpu: 1, memoryGb: 2 } }, 'each dimension on its own')
  t.match(sizeOfTaskDefinition({ containerDefinitions: [{ name: 'web', memory: 256 }] }), { problem: /reserves no CPU/ }, 'no CPU anywhere: no size')
  t.match(sizeOfTaskDefinition({ containerDefinitions: [{ name: 'web', cpu: 256, memory: 256 }, { name: 'log', cpu: 0 }] }), { problem: /"log" no memory/ }, 'a container without memory: no size')
})

t.test('the capacity comes from the backend settings unless given', async t => {
  t.equal(defaultCapacity({ kind: 'ecs', launchType: 'FARGATE' }, false), 'fargate')
  t.equal(defaultCapacity({ kind: 'ecs', launchType: 'EC2' }, false), 'ec2')
  t.equal(defaultCapacity({ kind: 'ecs', launchType: 'EXTERNAL' }, false), undefined, 'your own machines: no price')
  t.equal(defaultCapacity({ kind: 'ecs' }, false), undefined, 'the cluster default strategy is not known')
  t.equal(defaultCapacity({ kind: 'ecs', capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] }, false), 'fargate-spot')
  t.equal(defaultCapacity({ kind: 'ecs', capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 4 }, { capacityProvider: 'FARGATE', base: 1 }] }, false), 'fargate', 'a base takes the one task of a RunTask')
  t.equal(defaultCapacity({ kind: 'ecs', capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }, { capacityProvider: 'FARGATE_SPOT', weight: 3 }] }, false), 'fargate-spot', 'else the largest weight')
  t.equal(defaultCapacity({ kind: 'ecs', capacityProviderStrategy: [{ capacityProvider: 'my-asg' }] }, false), 'ec2', 'an Auto Scaling group provider')
  t.equal(defaultCapacity({ kind: 'local' }, true), 'ec2', 'a local app with a size')
  t.equal(defaultCapacity({ kind: 'local' }, false), undefined)
})

t.test('config: the price table defaults, overrides, and per-app resolution', async t => {
  const plain = testConfig()
  t.same(plain.cost, { currency: 'USD', prices: DEFAULT_PRICES }, 'defaults without a cost section')
  t.same(plain.apps[0].cost, { currency: 'USD' }, 'a local app without a size has no price')

  const cfg = testConfig({ cost: { currency: 'EUR', prices: { ec2OnDemand: { vcpuHour: 0.05 } } } }, [
    exampleApp({ cost: { size: { vcpu: 0.5, memoryGb: 1 } } }),
    exampleApp({ name: 'spotty', host: 'pr-{pr}.spotty.test', cost: { capacity: 'ec2-spot', size: { vcpu: 1, memoryGb: 2 } } }),
    exampleApp({ name: 'fg', host: 'pr-{pr}.fg.test', backend: { kind: 'ecs', cluster: 'c', taskDefinition: 'td', container: 'web', launchType: 'FARGATE' } })
  ])
  t.same(cfg.cost.prices.ec2OnDemand, { vcpuHour: 0.05, gbHour: DEFAULT_PRICES.ec2OnDemand.gbHour }, 'one price overridden, the other kept')
  t.same(cfg.apps[0].cost, { capacity: 'ec2', price: { vcpuHour: 0.05, gbHour: DEFAULT_PRICES.ec2OnDemand.gbHour }, size: { vcpu: 0.5, memoryGb: 1 }, currency: 'EUR' })
  t.same(cfg.apps[1].cost.price, DEFAULT_PRICES.ec2Spot)
  t.same(cfg.apps[2].cost, { capacity: 'fargate', price: DEFAULT_PRICES.fargate, currency: 'EUR' }, 'ecs: capacity from launchType, size read at run time')

  const bad = (over: Record<string, unknown>, apps = [exampleApp()]) => {
    try { validateConfig({ listen: { port: 0 }, apps, ...over }, {}, '/'); return undefined } catch (err) { return err }
  }
  const e1 = bad({}, [exampleApp({ cost: { capacity: 'fargate' } })])
  t.ok(e1 instanceof ConfigError)
  t.match((e1 as ConfigError).message, /apps\[0\]\.cost\.size/, 'a local app priced without a size names the field')
  t.match((bad({ cost: { currency: 'dollars' } }) as ConfigError).message, /cost\.currency/)
  t.match((bad({ cost: { prices: { fargate: { vcpuHour: -1 } } } }) as ConfigError).message, /cost\.prices\.fargate\.vcpuHour/)
  t.match((bad({}, [exampleApp({ cost: { size: { vcpu: 0, memoryGb: 1 } } })]) as ConfigError).message, /apps\[0\]\.cost\.size\.vcpu/)
  t.match((bad({}, [exampleApp({ cost: { capacity: 'lambda', size: { vcpu: 1, memoryGb: 1 } } })]) as ConfigError).message, /apps\[0\]\.cost\.capacity/)
})

t.test('task time: periods add up across wakes, side-by-side tasks count twice, a period left by an earlier process ends at this one\'s start', async t => {
  const start = 1_000_000
  const meta: Meta = {}
  accountRun(meta, 1, start + 100, start) // wake
  t.equal(runningMs(meta, start + 600, start), 500, 'the open period counts while it runs')
  accountRun(meta, 0, start + 1_100, start) // asleep
  t.same({ runMs: meta.runMs, runSince: meta.runSince }, { runMs: 1_000, runSince: undefined })
  accountRun(meta, 0, start + 5_000, start) // an event while asleep changes nothing
  t.equal(runningMs(meta, start + 9_000, start), 1_000)
  accountRun(meta, 1, start + 10_000, start) // second wake
  accountRun(meta, 2, start + 10_500, start) // a redeploy's task beside it
  accountRun(meta, 1, start + 11_000, start) // switched, old one drained
  accountRun(meta, 0, start + 12_000, start)
  t.equal(meta.runMs, 1_000 + 500 + 2 * 500 + 1_000, 'two wakes summed, the overlap counted twice')

  // Restored from the store: the earlier gateway's open period ends when this one started.
  const later = start + 60_000
  const left: Meta = { runMs: 2_000, runSince: later - 10_000, runTasks: 1 }
  t.equal(runningMs(left, later + 50_000, later), 12_000, 'read: up to this process\'s start')
  accountRun(left, 1, later + 300, later) // reconcile adopted its task
  t.equal(left.runMs, 12_000)
  t.equal(runningMs(left, later + 1_300, later), 13_000, 'and on from the adoption')

  const open: Meta = {}
  accountOpen(open, false, start, start + 10)
  t.equal(alwaysOnMs(open, start, start + 5_000), 5_000, 'always on since the env was created')
  accountOpen(open, true, start, start + 8_000)
  t.equal(alwaysOnMs(open, start, start + 50_000), 8_000, 'closed: it stops')
  accountOpen(open, false, start, start + 20_000) // reopened
  t.equal(alwaysOnMs(open, start, start + 21_000), 9_000, 'reopened: the closed time is not counted')
  t.equal(alwaysOnMs({ openedAt: start - 3_000 }, start, start), 3_000, 'a restored opening time wins over createdAt')
})

t.test('amounts and times in words', async t => {
  t.equal(formatMoney(0.15, 'USD'), '$0.15')
  t.equal(formatMoney(2.414, 'USD'), '$2.41')
  t.equal(formatMoney(0.001, 'USD'), '< $0.01', 'under a cent is not "$0.00"')
  t.equal(formatMoney(0, 'USD'), '$0.00')
  t.equal(formatMoney(3, 'EUR'), '€3.00')
  t.equal(formatSpan(45_000), '45 s')
  t.equal(formatSpan(12 * 60_000), '12 min')
  t.equal(formatSpan((3 * 60 + 12) * 60_000), '3 h 12 min')
  t.equal(formatSpan(3 * HOUR), '3 h')
  t.equal(formatSpan((2 * 24 + 4) * HOUR + 5 * 60_000), '2 d 4 h')
})
