import t from 'tap'
import { startGateway, testConfig, waitFor } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { ecsApp } from './support/fake-aws/app.js'

useFakeAwsEnvironment()

const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/web:{sha}'

t.test('an image template registers one task definition revision per SHA, derived from the base, never twice', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  const app = ecsApp(fake, {
    prs: [{ number: 1, sha: 'aaaaaaa1' }, { number: 2, sha: 'bbbbbbb2' }, { number: 3, sha: 'aaaaaaa1' }]
  }, { image: IMAGE })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())

  // Three envs at once, two SHAs between them.
  const answers = await Promise.all([1, 2, 3].map(pr => h.get(`pr-${pr}.review.test`, '/info')))
  t.same(answers.map(a => a.status), [200, 200, 200])
  t.equal(fake.count('RegisterTaskDefinition'), 2, 'one revision per SHA')
  const registered = fake.callsOf('RegisterTaskDefinition').map(c => c.params)
  t.same(registered.map(p => p.containerDefinitions[0].image).sort(), [IMAGE.replace('{sha}', 'aaaaaaa1'), IMAGE.replace('{sha}', 'bbbbbbb2')])
  for (const p of registered) {
    t.equal(p.family, 'web', 'same family as the base')
    t.same(p.containerDefinitions[0].portMappings, [{ containerPort: 3000, hostPort: 0, protocol: 'tcp' }], 'the rest of the base definition is kept')
    t.equal(p.networkMode, 'bridge')
    t.ok(p.tags.some((x: any) => x.key === 'wakegate:sha'), 'the revision is tagged with its SHA')
  }
  const imageOf = (pr: number) => fake.tasks.find(x => fake.tag(x, 'wakegate:pr') === String(pr))!.td.containerDefinitions[0].image
  t.equal(imageOf(1), IMAGE.replace('{sha}', 'aaaaaaa1'))
  t.equal(imageOf(2), IMAGE.replace('{sha}', 'bbbbbbb2'))
  t.equal(imageOf(3), IMAGE.replace('{sha}', 'aaaaaaa1'), 'another PR on the same SHA reuses the revision')
  t.ok(fake.callsOf('RunTask').every(c => /^arn:aws:ecs:.*:task-definition\/web:\d+$/.test(c.params.taskDefinition)), 'RunTask names the revision')

  // Asleep and woken again on the same SHA: no registration.
  const env = h.wg.manager.envs.get('example/1')!
  h.wg.manager.sleep(env, 'test')
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep')
  t.equal((await h.get('pr-1.review.test', '/info')).status, 200)
  t.equal(fake.count('RegisterTaskDefinition'), 2, 'the same SHA is never registered again')
})
