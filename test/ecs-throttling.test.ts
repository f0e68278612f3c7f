import t from 'tap'
import { startGateway, testConfig } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { ecsApp, prs } from './support/fake-aws/app.js'

useFakeAwsEnvironment()

const ENVS = 10
const MAX_ATTEMPTS = 6

for (const kind of ['throttle', 'server'] as const) {
  const what = kind === 'throttle' ? 'throttled (ThrottlingException / RequestLimitExceeded)' : 'answered with 5xx after being carried out'
  t.test(`30% of ECS and EC2 calls ${what}: every wake succeeds, one task per env, call counts bounded`, async t => {
    const fake = await FakeAws.start()
    t.teardown(() => fake.close())
    // 5xx after the work is done: a retried RunTask must not start a second task (clientToken).
    fake.faults = { fraction: 0.3, kind, afterEffect: kind === 'server' }
    const h = await startGateway(testConfig({}, [ecsApp(fake, { prs: prs(ENVS) }, { maxAttempts: MAX_ATTEMPTS })]))
    t.teardown(() => h.close())

    const answers = await Promise.all(prs(ENVS).map(pr => h.get(`pr-${pr.number}.review.test`, '/info')))
    t.same(answers.map(a => a.status), Array(ENVS).fill(200), `every wake succeeded (${answers.filter(a => a.status !== 200).map(a => a.body.slice(0, 300)).join('; ')})`)
    t.same(answers.map(a => JSON.parse(a.body).pr), prs(ENVS).map(p => String(p.number)))

    const failed = fake.calls.filter(c => c.status !== 200)
    t.ok(failed.length > 0, `faults were injected (${failed.length} of ${fake.calls.length} calls)`)
    if (kind === 'throttle') t.equal(fake.count('RunTask', { ok: true }), ENVS, 'one successful RunTask per env')
    t.ok(fake.count('RunTask', { ok: false }) > 0, 'some RunTasks were retried')
    t.equal(fake.tasks.length, ENVS, 'no duplicate task from a retried RunTask')
    t.ok(fake.count('RunTask') <= ENVS * MAX_ATTEMPTS, 'RunTask attempts bounded by maxAttempts')
    t.ok(fake.count('DescribeInstances', { ok: true }) <= 2, 'instance addresses still looked up once each')
    // Retries are the SDK's (one per failed call), not a loop on top: failures stay ~30% of all calls.
    t.ok(failed.length <= Math.ceil(fake.calls.length * 0.3) + 1, 'no retry storm')
    t.ok(fake.calls.length <= 3 * fake.calls.filter(c => c.status === 200).length, 'total calls within 3× the successful ones')
  })
}
