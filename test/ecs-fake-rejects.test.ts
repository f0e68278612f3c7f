// The fake must fail loudly where the real ECS/EC2 APIs would, so the backend cannot pass
// its tests with requests AWS rejects. All through the real SDK clients.
import t from 'tap'
import { request } from 'undici'
import {
  ECSClient, RunTaskCommand, DescribeTasksCommand, StopTaskCommand, RegisterTaskDefinitionCommand, ListTasksCommand,
  DescribeTaskDefinitionCommand, ListTaskDefinitionsCommand, paginateListTasks, paginateListTaskDefinitions, type RunTaskCommandInput
} from '@aws-sdk/client-ecs'
import { EC2Client, DescribeInstancesCommand } from '@aws-sdk/client-ec2'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'

useFakeAwsEnvironment()

async function setup (t: any, maxAttempts = 1) {
  const fake = await FakeAws.start()
  const ecs = new ECSClient({ endpoint: fake.url, region: 'us-east-1', maxAttempts })
  const ec2 = new EC2Client({ endpoint: fake.url, region: 'us-east-1', maxAttempts })
  t.teardown(async () => { ecs.destroy(); ec2.destroy(); await fake.close() })
  return { fake, ecs, ec2 }
}

/** The AWS error a call fails with: its name and message. */
async function awsError (p: Promise<unknown>): Promise<{ name: string, message: string, status?: number, attempts?: number }> {
  try {
    await p
  } catch (err: any) {
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode, attempts: err.$metadata?.attempts }
  }
  throw new Error('expected the call to fail')
}

const ok: RunTaskCommandInput = { cluster: 'review', taskDefinition: 'web', count: 1, startedBy: 'wakegate' }

t.test('RunTask requests the real API rejects', async t => {
  const { fake, ecs } = await setup(t)
  const run = (input: Partial<RunTaskCommandInput>) => awsError(ecs.send(new RunTaskCommand({ ...ok, ...input } as RunTaskCommandInput)))

  t.match(await run({ taskDefinition: undefined }), { name: 'ClientException', message: /TaskDefinition can not be blank/, status: 400 }, 'no task definition')
  t.match(await run({ count: 11 }), { name: 'InvalidParameterException', message: /between 1 and 10/ }, 'count > 10')
  t.match(await run({ count: 0 }), { name: 'InvalidParameterException' }, 'count < 1')
  t.match(await run({ startedBy: 'x'.repeat(37) }), { name: 'InvalidParameterException', message: /36/ }, 'startedBy > 36 characters')
  t.match(await run({ startedBy: 'has spaces' }), { name: 'InvalidParameterException' }, 'startedBy with characters ECS does not take')
  t.match(await run({ launchType: 'EC2', capacityProviderStrategy: [{ capacityProvider: 'spot', weight: 1 }] }),
    { name: 'InvalidParameterException', message: /both a launch type and capacity provider strategy/ }, 'launchType and capacityProviderStrategy')
  t.match(await run({ capacityProviderStrategy: [{ capacityProvider: 'not-on-this-cluster', weight: 1 }] }), { name: 'InvalidParameterException' }, 'unknown capacity provider')
  t.match(await run({ cluster: 'nope' }), { name: 'ClusterNotFoundException', message: 'Cluster not found.' }, 'unknown cluster')
  t.match(await run({ taskDefinition: 'nope:3' }), { name: 'ClientException', message: /TaskDefinition not found/ }, 'unknown task definition')
  t.match(await run({ propagateTags: 'SERVICE' }), { name: 'InvalidParameterException' }, 'propagateTags SERVICE on RunTask')
  t.match(await run({ tags: [{ key: 'aws:reserved', value: 'x' }] }), { name: 'InvalidParameterException' }, 'aws: tag prefix')
  t.match(await run({ tags: Array.from({ length: 51 }, (_, i) => ({ key: `k${i}`, value: 'v' })) }), { name: 'InvalidParameterException' }, 'more than 50 tags')
  t.match(await run({ overrides: { containerOverrides: [{ name: 'not-a-container' }] } }), { name: 'InvalidParameterException', message: /not a container/ }, 'override for an unknown container')
  t.match(await run({ networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'] } } }), { name: 'InvalidParameterException', message: /networkMode/ }, 'network configuration for a bridge task definition')
  t.match(await run({ clientToken: 'x'.repeat(65) }), { name: 'InvalidParameterException' }, 'clientToken > 64 characters')

  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'vpc', networkMode: 'awsvpc', containerDefinitions: [{ name: 'web', image: 'web:1', portMappings: [{ containerPort: 3000 }] }] }))
  t.match(await run({ taskDefinition: 'vpc' }), { name: 'InvalidParameterException', message: /Network Configuration must be provided/ }, 'awsvpc without network configuration')
  t.match(await run({ taskDefinition: 'web', launchType: 'FARGATE' }), { name: 'InvalidParameterException', message: /FARGATE/ }, 'Fargate with a bridge task definition')

  t.equal(fake.tasks.length, 0, 'nothing was started by any of them')
})

t.test('other operations\' limits and required members', async t => {
  const { ecs } = await setup(t)
  const arns = Array.from({ length: 101 }, (_, i) => `arn:aws:ecs:us-east-1:123456789012:task/review/${String(i).padStart(32, '0')}`)
  t.match(await awsError(ecs.send(new DescribeTasksCommand({ cluster: 'review', tasks: arns }))), { name: 'InvalidParameterException', message: /100/ }, 'DescribeTasks with 101 tasks')
  t.match(await awsError(ecs.send(new DescribeTasksCommand({ cluster: 'review', tasks: [] }))), { name: 'ClientException' }, 'DescribeTasks with none')
  t.match(await awsError(ecs.send(new DescribeTasksCommand({ cluster: 'nope', tasks: arns.slice(0, 1) }))), { name: 'ClusterNotFoundException' })
  t.match(await awsError(ecs.send(new StopTaskCommand({ cluster: 'review', task: arns[0], reason: 'x'.repeat(256) }))), { name: 'InvalidParameterException', message: /255/ }, 'StopTask reason > 255 characters')
  t.match(await awsError(ecs.send(new StopTaskCommand({ cluster: 'review', task: arns[0] }))), { name: 'InvalidParameterException', message: /not found/ }, 'StopTask of an unknown task')
  t.match(await awsError(ecs.send(new ListTasksCommand({ cluster: 'review', startedBy: 'wakegate', desiredStatus: 'RUNNING' }))), { name: 'InvalidParameterException' }, 'startedBy with another filter')
  t.match(await awsError(ecs.send(new ListTasksCommand({ cluster: 'review', maxResults: 101 }))), { name: 'InvalidParameterException' }, 'ListTasks maxResults > 100')
  t.match(await awsError(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'nope' }))), { name: 'ClientException', message: /Unable to describe task definition/ })
  t.match(await awsError(ecs.send(new RegisterTaskDefinitionCommand({ family: '', containerDefinitions: [{ name: 'a', image: 'b' }] }))), { name: 'ClientException', message: /Family/ }, 'RegisterTaskDefinition without family')
  t.match(await awsError(ecs.send(new RegisterTaskDefinitionCommand({ family: 'f', containerDefinitions: [] }))), { name: 'ClientException', message: /Container list cannot be empty/ })
  t.match(await awsError(ecs.send(new RegisterTaskDefinitionCommand({ family: 'f', containerDefinitions: [{ name: 'a' }] }))), { name: 'ClientException', message: /image/ })
})

t.test('ListTasks paginates', async t => {
  const { fake, ecs } = await setup(t)
  for (let i = 0; i < 3; i++) await ecs.send(new RunTaskCommand(ok))
  const pages: string[][] = []
  for await (const page of paginateListTasks({ client: ecs, pageSize: 2 }, { cluster: 'review', startedBy: 'wakegate' })) pages.push(page.taskArns ?? [])
  t.same(pages.map(p => p.length), [2, 1])
  t.same(pages.flat().sort(), fake.tasks.map(x => x.taskArn).sort())
})

t.test('ListTaskDefinitions: one family, newest first with sort DESC, paginated, limits checked', async t => {
  const { ecs } = await setup(t)
  for (const image of ['web:a', 'web:b']) await ecs.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'web', image }] }))
  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'web-admin', containerDefinitions: [{ name: 'web', image: 'admin' }] }))
  const pages: string[][] = []
  for await (const page of paginateListTaskDefinitions({ client: ecs, pageSize: 2 }, { familyPrefix: 'web', sort: 'DESC' })) pages.push(page.taskDefinitionArns ?? [])
  t.same(pages.map(p => p.map(a => a.split('/').pop())), [['web:3', 'web:2'], ['web:1']], 'only the family, newest first')
  const all = await ecs.send(new ListTaskDefinitionsCommand({}))
  t.same(all.taskDefinitionArns!.map(a => a.split('/').pop()), ['web:1', 'web:2', 'web:3', 'web-admin:1'], 'ASC by default: family, then revision')
  t.match(await awsError(ecs.send(new ListTaskDefinitionsCommand({ maxResults: 101 }))), { name: 'InvalidParameterException' }, 'maxResults > 100')
  t.match(await awsError(ecs.send(new ListTaskDefinitionsCommand({ sort: 'NEWEST' as 'DESC' }))), { name: 'SerializationException' }, 'unknown sort')
})

t.test('EC2 DescribeInstances: query protocol in, XML out, errors the SDK parses', async t => {
  const { fake, ec2 } = await setup(t)
  const [a, b] = fake.instances
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [a.ec2InstanceId, b.ec2InstanceId] }))
  const got = out.Reservations!.flatMap(r => r.Instances!).map(i => [i.InstanceId, i.PrivateIpAddress, i.State?.Name])
  t.same(got, [[a.ec2InstanceId, a.privateIp, 'running'], [b.ec2InstanceId, b.privateIp, 'running']])
  const call = fake.callsOf('DescribeInstances')[0].params
  t.equal(call.Version, '2016-11-15')
  t.same([call['InstanceId.1'], call['InstanceId.2']], [a.ec2InstanceId, b.ec2InstanceId])
  t.match(await awsError(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] }))), { name: 'InvalidInstanceID.NotFound', message: /does not exist/ })
  t.match(await awsError(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['bogus'] }))), { name: 'InvalidInstanceID.Malformed' })
})

t.test('throttling looks like AWS throttling to the SDK: retried, then ThrottlingException / RequestLimitExceeded', async t => {
  const { fake, ecs, ec2 } = await setup(t, 2)
  fake.faults = { fraction: 1, kind: 'throttle' }
  t.match(await awsError(ecs.send(new ListTasksCommand({ cluster: 'review' }))), { name: 'ThrottlingException', status: 400, attempts: 2 }, 'ECS: retried once, then given up')
  t.match(await awsError(ec2.send(new DescribeInstancesCommand({ InstanceIds: [fake.instances[0].ec2InstanceId] }))), { name: 'RequestLimitExceeded', status: 503, attempts: 2 }, 'EC2 likewise')
  fake.faults = undefined
  fake.denied.add('ListTasks')
  t.match(await awsError(ecs.send(new ListTasksCommand({ cluster: 'review' }))), { name: 'AccessDeniedException', attempts: 1 }, 'access denied is not retried')
})

t.test('requests that are not signed, or not ECS, are refused', async t => {
  const { fake } = await setup(t)
  const post = async (headers: Record<string, string>, body = '{}') => {
    const res = await request(fake.url + '/', { method: 'POST', headers, body })
    return { status: res.statusCode, body: await res.body.json() as any }
  }
  const unsigned = await post({ 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListTasks', 'content-type': 'application/x-amz-json-1.1' })
  t.equal(unsigned.status, 403)
  t.equal(unsigned.body.__type, 'MissingAuthenticationTokenException')
  const fakeSig = { authorization: `AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`, 'x-amz-date': '20250101T000000Z' }
  const unknown = await post({ ...fakeSig, 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.LaunchRockets', 'content-type': 'application/x-amz-json-1.1' })
  t.equal(unknown.body.__type, 'UnknownOperationException')
  const wrongType = await post({ ...fakeSig, 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListTasks', 'content-type': 'application/json' })
  t.equal(wrongType.body.__type, 'SerializationException')
  const notJson = await post({ ...fakeSig, 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListTasks', 'content-type': 'application/x-amz-json-1.1' }, '{oops')
  t.equal(notJson.body.__type, 'SerializationException')
})
