import t from 'tap'
import { startGateway, testConfig } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { ecsApp } from './support/fake-aws/app.js'

useFakeAwsEnvironment()

t.test('awsvpc on Fargate: network configuration sent, served at the ENI address on the container port', async t => {
  const fake = await FakeAws.start({
    taskDefinitions: [{
      family: 'web-vpc',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      containerDefinitions: [{ name: 'web', image: 'web:latest', essential: true, portMappings: [{ containerPort: 3000, protocol: 'tcp' }] }]
    }]
  })
  t.teardown(() => fake.close())
  const app = ecsApp(fake, {}, {
    taskDefinition: 'web-vpc',
    launchType: 'FARGATE',
    platformVersion: 'LATEST',
    networkConfiguration: { subnets: ['subnet-0a', 'subnet-0b'], securityGroups: ['sg-0review'], assignPublicIp: false }
  })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())

  const [one, two] = await Promise.all([h.get('pr-1.review.test', '/info'), h.get('pr-2.review.test', '/info')])
  t.equal(one.status, 200)
  t.equal(two.status, 200)
  const run = fake.callsOf('RunTask')[0].params
  t.equal(run.launchType, 'FARGATE')
  t.equal(run.platformVersion, 'LATEST')
  t.same(run.networkConfiguration, { awsvpcConfiguration: { subnets: ['subnet-0a', 'subnet-0b'], securityGroups: ['sg-0review'], assignPublicIp: 'DISABLED' } })
  t.equal(JSON.parse(one.body).port, 3000, 'the app listens on its container port')
  t.equal(JSON.parse(two.body).port, 3000, 'each task on its own ENI, same port')
  t.not(fake.tasks[0].ip, fake.tasks[1].ip, 'two ENI addresses')
  t.equal(fake.count('DescribeContainerInstances'), 0, 'no container instance lookup')
  t.equal(fake.count('DescribeInstances'), 0, 'no EC2 lookup')
})

t.test('a capacity provider strategy (Spot) is sent instead of a launch type', async t => {
  const fake = await FakeAws.start() // cluster "review" has the "spot" capacity provider
  t.teardown(() => fake.close())
  const app = ecsApp(fake, {}, { capacityProviderStrategy: [{ capacityProvider: 'spot', weight: 1, base: 0 }] })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())

  t.equal((await h.get('pr-1.review.test', '/info')).status, 200)
  const run = fake.callsOf('RunTask')[0].params
  t.same(run.capacityProviderStrategy, [{ capacityProvider: 'spot', weight: 1, base: 0 }])
  t.notOk('launchType' in run, 'no launch type alongside a strategy (ECS rejects both)')
  t.equal(fake.tasks[0].capacityProviderName, 'spot')
})
