import t from 'tap'
import { startGateway, testConfig, waitFor } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment, WEB_TASK_DEFINITION } from './support/fake-aws/index.js'
import { ecsApp } from './support/fake-aws/app.js'

useFakeAwsEnvironment()

const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/web:{sha}'
const WEB_IMAGE = WEB_TASK_DEFINITION.containerDefinitions[0].image

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

t.test('after a gateway restart, a SHA whose revision is not the family\'s latest reuses it instead of registering again', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  const image = (sha: string) => IMAGE.replace('{sha}', sha)
  const config = (one: string) => testConfig({}, [ecsApp(fake, { prs: [{ number: 1, sha: one }, { number: 2, sha: 'aaaaaaa1' }] }, { image: IMAGE })])

  // The first gateway: SHA a, then a push to SHA b: two revisions, b's the latest.
  const first = await startGateway(config('aaaaaaa1'))
  const env = first.wg.manager.envs.get('example/1')!
  t.equal((await first.get('pr-1.review.test', '/info')).status, 200)
  first.wg.manager.redeploy(env, 'bbbbbbb2', 'push')
  await waitFor(() => env.runningSha === 'bbbbbbb2', 20_000, 'switched to b')
  await first.close()
  t.equal(fake.count('RegisterTaskDefinition'), 2)
  const revs = fake.model.families.get('web')!
  t.same(revs.map(r => r.containerDefinitions[0].image), [WEB_IMAGE, image('aaaaaaa1'), image('bbbbbbb2')], 'base, a, b (latest)')

  // The second gateway knows nothing of them; PR 2 wakes on SHA a.
  const listed = fake.count('ListTaskDefinitions')
  const second = await startGateway(config('bbbbbbb2'))
  t.teardown(() => second.close())
  const res = await second.get('pr-2.review.test', '/info')
  t.equal(res.status, 200)
  t.equal(JSON.parse(res.body).sha, 'aaaaaaa1')
  t.equal(fake.count('RegisterTaskDefinition'), 2, 'RegisterTaskDefinition count unchanged')
  const task = fake.tasks.find(x => fake.tag(x, 'wakegate:pr') === '2')!
  t.equal(task.td.taskDefinitionArn, revs[1].taskDefinitionArn, 'runs the revision registered before the restart')
  t.equal(fake.count('ListTaskDefinitions') - listed, 1, 'one listing of the family')
  t.ok(fake.callsOf('ListTaskDefinitions').every(c => c.params.familyPrefix === 'web' && c.params.sort === 'DESC'), 'newest first, this family')
})

t.test('a revision with the image but an older base definition is not reused', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  const config = testConfig({}, [ecsApp(fake, { prs: [{ number: 1, sha: 'aaaaaaa1' }] }, { image: IMAGE })])
  const first = await startGateway(config)
  t.equal((await first.get('pr-1.review.test', '/info')).status, 200)
  await first.close()
  fake.stopOutside(fake.tasks[0].taskArn) // nothing for the next gateway to adopt
  await waitFor(() => fake.tasks[0].lastStatus === 'STOPPED', 10_000, 'task stopped')

  // The operator changes the base: a new revision of the family with one more variable.
  const base = WEB_TASK_DEFINITION.containerDefinitions[0]
  fake.model.register({ ...WEB_TASK_DEFINITION, containerDefinitions: [{ ...base, environment: [{ name: 'FEATURE', value: 'on' }] }] })
  const second = await startGateway(config)
  t.teardown(() => second.close())
  t.equal((await second.get('pr-1.review.test', '/info')).status, 200)
  t.equal(fake.count('RegisterTaskDefinition'), 2, 'registered again: the old revision lacks the new variable')
  const td = fake.tasks[1].td
  t.same(td.containerDefinitions[0].environment, [{ name: 'FEATURE', value: 'on' }])
  t.equal(td.containerDefinitions[0].image, IMAGE.replace('{sha}', 'aaaaaaa1'))
})
