// The ECS fake's image pulls and placement, through the real SDK: what the prewarm tests
// rely on. Pull time per instance with a cache, shared pulls, distinctInstance, count,
// command overrides that run instead of the app.
import t, { type Test } from 'tap'
import { DescribeTasksCommand, ECSClient, RunTaskCommand, type RunTaskCommandInput, type Task } from '@aws-sdk/client-ecs'
import { waitFor } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment, WEB_TASK_DEFINITION, type FakeAwsOptions } from './support/fake-aws/index.js'

useFakeAwsEnvironment()

const PULL_MS = 600
const IMAGE = WEB_TASK_DEFINITION.containerDefinitions[0].image

async function start (t: Test, opts: FakeAwsOptions) {
  const fake = await FakeAws.start(opts)
  t.teardown(() => fake.close())
  const ecs = new ECSClient({ endpoint: fake.url, region: 'us-east-1' })
  t.teardown(() => ecs.destroy())
  const run = (over: Partial<RunTaskCommandInput> = {}) => ecs.send(new RunTaskCommand({ cluster: 'review', taskDefinition: 'web', startedBy: 'test', ...over }))
  const describe = async (arns: string[]): Promise<Task[]> => (await ecs.send(new DescribeTasksCommand({ cluster: 'review', tasks: arns }))).tasks ?? []
  const settled = async (arns: string[], status: string): Promise<Task[]> => (await waitFor(async () => {
    const tasks = await describe(arns)
    return tasks.length === arns.length && tasks.every(x => x.lastStatus === status) ? tasks : undefined
  }, 15_000, `tasks ${status}`))!
  return { fake, run, describe, settled }
}

/** The pull phase ECS reports, in ms. */
const pullOf = (task: Task) => task.pullStoppedAt!.getTime() - task.pullStartedAt!.getTime()

t.test('a pull takes pullMs on an instance without the image, next to nothing once it is there', async t => {
  const { fake, run, settled } = await start(t, { clusters: [{ name: 'review', instances: 1 }], pull: { pullMs: PULL_MS, cachedMs: 0 } })
  const first = (await run()).tasks![0]
  const [a] = await settled([first.taskArn!], 'RUNNING')
  t.ok(pullOf(a) >= PULL_MS, `first pull ${pullOf(a)} ms`)
  t.ok(a.createdAt!.getTime() <= a.pullStartedAt!.getTime() && a.pullStoppedAt!.getTime() <= a.startedAt!.getTime(), 'createdAt ≤ pullStartedAt ≤ pullStoppedAt ≤ startedAt')
  const second = (await run()).tasks![0]
  const [b] = await settled([second.taskArn!], 'RUNNING')
  t.ok(pullOf(b) < PULL_MS, `cached pull ${pullOf(b)} ms`)
  const inst = fake.instances[0]
  t.equal(inst.pulls, 1, 'the instance pulled the image once')
  t.ok(inst.images.has(IMAGE), 'and keeps it')
})

t.test('tasks needing an image the instance is pulling wait for that one pull', async t => {
  const { fake, run, settled } = await start(t, { clusters: [{ name: 'review', instances: 1 }], pull: { pullMs: PULL_MS } })
  const out = await run({ count: 3 })
  t.equal(out.tasks!.length, 3)
  const tasks = await settled(out.tasks!.map(x => x.taskArn!), 'RUNNING')
  t.equal(fake.instances[0].pulls, 1, 'one pull for three tasks')
  const ends = tasks.map(x => x.pullStoppedAt!.getTime())
  t.ok(Math.max(...ends) - Math.min(...ends) < PULL_MS, 'their pulls end together')
})

t.test('images are pulled per instance; preloaded ones and per-image pull times count', async t => {
  const big = 'registry.example/big:1'
  const { fake, run, settled } = await start(t, {
    pull: { pullMs: PULL_MS, preloaded: [IMAGE], images: { [big]: { sizeMB: 90 } }, bandwidthMBps: 100 },
    taskDefinitions: [WEB_TASK_DEFINITION, { ...WEB_TASK_DEFINITION, family: 'big', containerDefinitions: [{ ...WEB_TASK_DEFINITION.containerDefinitions[0], image: big }] }]
  })
  const warm = (await run({ count: 2 })).tasks!
  const tasks = await settled(warm.map(x => x.taskArn!), 'RUNNING')
  t.not(tasks[0].containerInstanceArn, tasks[1].containerInstanceArn, 'one on each instance')
  for (const x of tasks) t.ok(pullOf(x) < PULL_MS, 'preloaded: no pull')
  t.same(fake.instances.map(i => i.pulls), [0, 0])
  const [b] = await settled([(await run({ taskDefinition: 'big' })).tasks![0].taskArn!], 'RUNNING')
  t.ok(pullOf(b) >= 900, `90 MB at 100 MB/s: ${pullOf(b)} ms`)
  t.equal(fake.instances.reduce((n, i) => n + i.pulls, 0), 1, 'pulled on one instance only')
})

t.test('distinctInstance: one task of the group per instance, the rest reported as failures', async t => {
  const { fake, run, settled } = await start(t, { pull: { pullMs: PULL_MS } })
  const placement = { placementConstraints: [{ type: 'distinctInstance' as const }], group: 'warm:1' }
  const out = await run({ count: 3, ...placement })
  t.equal(out.tasks!.length, 2, 'two instances, two tasks')
  t.equal(out.failures!.length, 1, 'the third is not placed')
  t.match(out.failures![0], { arn: /:container-instance\/review\//, reason: /DistinctInstance/ })
  t.not(out.tasks![0].containerInstanceArn, out.tasks![1].containerInstanceArn)
  // The group's tasks are still pulling: another call of the group finds no instance free.
  const again = await run({ count: 1, ...placement })
  t.equal(again.tasks!.length, 0)
  t.equal(again.failures!.length, 1)
  const other = await run({ count: 2, placementConstraints: placement.placementConstraints, group: 'warm:2' })
  t.equal(other.tasks!.length, 2, 'another group is placed beside them')
  await settled(out.tasks!.map(x => x.taskArn!), 'RUNNING')
  t.equal(fake.count('RunTask', { ok: true }), 3)
})

t.test('a command override runs instead of the app: the task exits 0 soon after RUNNING', async t => {
  const { fake, run, settled } = await start(t, { pull: { pullMs: PULL_MS } })
  const out = await run({ overrides: { containerOverrides: [{ name: 'web', command: ['true'] }] } })
  const [x] = await settled([out.tasks![0].taskArn!], 'STOPPED')
  t.equal(x.containers![0].exitCode, 0)
  t.equal(x.stopCode, 'EssentialContainerExited')
  t.ok(x.startedAt, 'it was RUNNING')
  t.ok(pullOf(x) >= PULL_MS, 'after pulling the image')
  const task = fake.task(x.taskArn!)
  t.equal(task.child?.spawnfile, 'true', 'the command ran, not the app')
  t.ok(task.instance!.images.has(IMAGE), 'the image stays on the instance')
})

t.test('a command the image lacks fails the task to start, after the pull', async t => {
  const { fake, run, settled } = await start(t, { pull: { pullMs: PULL_MS } })
  const out = await run({ overrides: { containerOverrides: [{ name: 'web', command: ['wakegate-no-such-command'] }] } })
  const [x] = await settled([out.tasks![0].taskArn!], 'STOPPED')
  t.equal(x.stopCode, 'TaskFailedToStart')
  t.match(x.containers![0].reason, /CannotStartContainerError: .*exec: "wakegate-no-such-command": executable file not found in \$PATH/)
  t.ok(x.pullStoppedAt, 'the pull itself finished')
  t.ok(fake.task(x.taskArn!).instance!.images.has(IMAGE))
})

t.test('Fargate keeps no image: every task pulls in full', async t => {
  const { run, settled } = await start(t, {
    pull: { pullMs: PULL_MS },
    taskDefinitions: [{ family: 'web', networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'], cpu: '256', memory: '512', containerDefinitions: [{ name: 'web', image: IMAGE, essential: true, portMappings: [{ containerPort: 3000, protocol: 'tcp' }] }] }]
  })
  const fargate = { launchType: 'FARGATE' as const, networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0a'] } } }
  for (let i = 0; i < 2; i++) {
    const [x] = await settled([(await run(fargate)).tasks![0].taskArn!], 'RUNNING')
    t.ok(pullOf(x) >= PULL_MS, `task ${i + 1}: ${pullOf(x)} ms`)
  }
})

t.test('without a pull model every pull takes half of delays.pending and nothing is cached', async t => {
  const { fake, run, settled } = await start(t, { clusters: [{ name: 'review', instances: 1 }], delays: { pending: 400 } })
  for (let i = 0; i < 2; i++) {
    const [x] = await settled([(await run()).tasks![0].taskArn!], 'RUNNING')
    t.ok(pullOf(x) >= 200, `task ${i + 1}: ${pullOf(x)} ms`)
  }
  t.equal(fake.instances[0].pulls, 0)
})
