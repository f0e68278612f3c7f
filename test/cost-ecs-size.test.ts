import t from 'tap'
import { request } from 'undici'
import { pino } from 'pino'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { ecsApp } from './support/fake-aws/app.js'
import { testConfig, waitFor } from './support/harness.js'
import { createBackends } from '../src/backends/index.js'
import { createWakegate } from '../src/server.js'
import { isSizedBackend } from '../src/cost/size.js'
import { costOf, DEFAULT_PRICES } from '../src/cost/prices.js'

useFakeAwsEnvironment()

const FARGATE_TD = {
  family: 'web-vpc',
  networkMode: 'awsvpc',
  requiresCompatibilities: ['FARGATE'],
  cpu: '256',
  memory: '512',
  containerDefinitions: [{ name: 'web', image: 'web:latest', essential: true, portMappings: [{ containerPort: 3000, protocol: 'tcp' }] }]
}
const CONTAINER_SIZED_TD = {
  family: 'sized',
  networkMode: 'bridge',
  containerDefinitions: [
    { name: 'web', image: 'web:latest', essential: true, cpu: 512, memory: 768, portMappings: [{ containerPort: 3000, hostPort: 0, protocol: 'tcp' }] },
    { name: 'proxy', image: 'proxy:latest', essential: false, cpu: 256, memoryReservation: 256 }
  ]
}
const UNSIZED_TD = {
  family: 'bare',
  networkMode: 'bridge',
  containerDefinitions: [{ name: 'web', image: 'web:latest', essential: true, memory: 256, portMappings: [{ containerPort: 3000, hostPort: 0, protocol: 'tcp' }] }]
}
const VPC = { subnets: ['subnet-0a'], securityGroups: ['sg-0review'], assignPublicIp: false }

t.test('the task size is read from the task definition through the real SDK: task level, container level, or not at all', async t => {
  const fake = await FakeAws.start({ taskDefinitions: [FARGATE_TD, CONTAINER_SIZED_TD, UNSIZED_TD] })
  t.teardown(() => fake.close())
  const config = testConfig({}, [
    ecsApp(fake, { name: 'fg', host: 'pr-{pr}.fg.test' }, { taskDefinition: 'web-vpc', launchType: 'FARGATE', networkConfiguration: VPC }),
    ecsApp(fake, { name: 'ec', host: 'pr-{pr}.ec.test' }, { taskDefinition: 'sized', launchType: 'EC2' }),
    ecsApp(fake, { name: 'bare', host: 'pr-{pr}.bare.test' }, { taskDefinition: 'bare' })
  ])
  const backends = await createBackends(config.apps, pino({ level: 'silent' }))
  const backend = backends.get('fg')!
  t.teardown(() => backend.close())
  t.equal(backends.get('ec'), backend, 'one backend for the cluster')
  t.ok(isSizedBackend(backend), 'the ecs backend tells task sizes')
  if (!isSizedBackend(backend)) return

  t.same(await backend.taskSize('fg'), { size: { vcpu: 0.25, memoryGb: 0.5 } }, 'Fargate: task-level cpu 256 / memory 512')
  t.same(await backend.taskSize('ec'), { size: { vcpu: 0.75, memoryGb: 1 } }, 'EC2: the containers summed (768 + 256 reserved MiB)')
  t.match(await backend.taskSize('bare'), { problem: /reserves no CPU/ }, 'no CPU reserved anywhere: no size, a reason')
  t.same(await backend.taskSize('fg'), { size: { vcpu: 0.25, memoryGb: 0.5 } })
  t.same(fake.callsOf('DescribeTaskDefinition').map(c => c.params.taskDefinition).sort(), ['bare', 'sized', 'web-vpc'], 'described once per app')

  fake.denied.add('DescribeTaskDefinition')
  const denied = createBackends([config.apps[0]], pino({ level: 'silent' }))
  const other = (await denied).get('fg')!
  t.teardown(() => other.close())
  if (isSizedBackend(other)) await t.rejects(other.taskSize('fg'), /DescribeTaskDefinition/, 'access denied is an error, not a size')
  fake.denied.delete('DescribeTaskDefinition')
  if (isSizedBackend(other)) t.same(await other.taskSize('fg'), { size: { vcpu: 0.25, memoryGb: 0.5 } }, 'a failed lookup is asked again')
})

t.test('a Fargate app\'s envs are priced at the size of its task definition, looked up once', async t => {
  const fake = await FakeAws.start({ taskDefinitions: [FARGATE_TD] })
  t.teardown(() => fake.close())
  const config = testConfig({}, [ecsApp(fake, {}, { taskDefinition: 'web-vpc', launchType: 'FARGATE', networkConfiguration: VPC })])
  const log = pino({ level: 'silent' })
  // The backends as the gateway builds them (the test harness would wrap them in a counter).
  const backends = await createBackends(config.apps, log)
  const wg = await createWakegate(config, { log, backends })
  t.teardown(() => wg.close())
  await wg.listen()
  const get = async (host: string, path: string) => {
    const res = await request(`${wg.url}${path}`, { headers: { host } })
    return { status: res.statusCode, body: await res.body.text() }
  }
  const admin = async (path: string, method: 'GET' | 'POST' = 'GET') => {
    const res = await request(`${wg.adminUrl}${path}`, { method })
    return method === 'GET' && !path.startsWith('/metrics') ? await res.body.json() as any : await res.body.text()
  }

  t.equal((await get('pr-1.review.test', '/info')).status, 200)
  t.equal((await get('pr-2.review.test', '/info')).status, 200)
  await admin('/api/envs/example/1/sleep', 'POST')
  await waitFor(() => wg.manager.envs.get('example/1')!.state === 'asleep', 10_000, 'env 1 asleep')
  t.equal((await get('pr-1.review.test', '/info')).status, 200, 'woken again')

  const view = await admin('/api/envs/example/1')
  t.same(view.cost.size, { vcpu: 0.25, memoryGb: 0.5 })
  t.equal(view.cost.capacity, 'fargate', 'from launchType FARGATE')
  t.same(view.cost.price, DEFAULT_PRICES.fargate)
  t.equal(view.cost.currency, 'USD')
  t.ok(view.cost.runningMs > 0, `ran ${view.cost.runningMs} ms`)
  t.equal(view.cost.amount, Math.round(costOf(view.cost.runningMs, view.cost.size, view.cost.price) * 1e6) / 1e6, 'amount = runningMs × (vcpu × vcpuHour + memoryGb × gbHour)')
  t.ok(view.cost.alwaysOnAmount >= view.cost.amount, 'always on costs at least as much')
  t.equal(fake.count('DescribeTaskDefinition'), 1, 'the size was read once for three wakes')

  const metrics = await admin('/metrics') as string
  t.match(metrics, /wakegate_cost_total\{app="example",currency="USD"\} [0-9.e-]+/)
  t.match(metrics, /wakegate_env_running_seconds_total\{app="example"\} [0-9.e-]+/)
})
