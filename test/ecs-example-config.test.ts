import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { validateConfig } from '../src/config/load.js'
import { ROOT, startGateway } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'

useFakeAwsEnvironment()

t.test('examples/wakegate.ecs.yaml validates and wakes a PR against the fake cluster it describes', async t => {
  const raw = parse(readFileSync(join(ROOT, 'examples/wakegate.ecs.yaml'), 'utf8'))
  const backend = raw.apps[0].backend
  const fake = await FakeAws.start({
    clusters: [{ name: backend.cluster, instances: 1, capacityProviders: backend.capacityProviderStrategy.map((s: any) => s.capacityProvider) }],
    taskDefinitions: [{
      family: backend.taskDefinition,
      containerDefinitions: [{ name: backend.container, image: 'shop:latest', essential: true, portMappings: [{ containerPort: raw.apps[0].port, hostPort: 0 }] }]
    }]
  })
  t.teardown(() => fake.close())

  // Only what a test needs differs: ports, log level, the fake's endpoint, a known PR.
  raw.listen = { host: '127.0.0.1', port: 0 }
  raw.admin.port = 0
  raw.log = { level: process.env.WAKEGATE_TEST_LOG ?? 'silent' }
  backend.endpoint = fake.url
  raw.apps[0].prs = [{ number: 1, branch: 'main', sha: 'abc1234' }]
  // Sign-in and the GitHub integration need secrets and github.com (config-doc-examples checks them).
  delete raw.github
  delete raw.access
  const h = await startGateway(validateConfig(raw, {}, join(ROOT, 'examples')))
  t.teardown(() => h.close())

  const res = await h.get('pr-1.review.example.com', '/info')
  t.equal(res.status, 200)
  t.equal(JSON.parse(res.body).sha, 'abc1234')
  const run = fake.callsOf('RunTask')[0].params
  t.equal(run.startedBy, 'wakegate-review')
  t.same(run.capacityProviderStrategy, [{ capacityProvider: 'review-spot', weight: 1 }])
  t.equal(fake.tasks[0].td.containerDefinitions[0].image, '123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:abc1234', 'per-SHA image')
  t.equal(fake.containerEnv(fake.tasks[0]).DATABASE_URL, 'postgres://review:review@review-db.internal:5432/shop_pr_1')
  t.ok(run.tags.some((x: any) => x.key === 'team' && x.value === 'shop'))
})
