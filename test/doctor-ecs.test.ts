// `wakegate doctor`'s ECS checks against the fake, through the real CLI and the real AWS SDK:
// the task definition and its container port, reaching a running task, bridge address
// lookups, the Fargate probe and per-SHA images, STS down and a missing cluster.
// The healthy run, IAM refusals and the config: doctor.test.ts; GitHub and Redis: doctor-github.test.ts.
import t from 'tap'
import { WEB_TASK_DEFINITION, useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { freePortOn } from './support/fake-aws/model.js'
import { doctorRunner, ecsConfig, fakeAwsFor, runningTask } from './support/doctor.js'

useFakeAwsEnvironment()
const doctor = doctorRunner(t)
const config = ecsConfig
const world = fakeAwsFor

t.test('the container maps no app port: the container check fails with its fix', async t => {
  const td = { ...WEB_TASK_DEFINITION, containerDefinitions: [{ ...WEB_TASK_DEFINITION.containerDefinitions[0], portMappings: [{ containerPort: 8080, hostPort: 0, protocol: 'tcp' }] }] }
  const fake = await world(t, { taskDefinitions: [td] })
  const r = await doctor(config(fake))
  t.equal(r.code, 1)
  const c = r.get('ecs.example.container')
  t.equal(c.status, 'fail')
  t.equal(c.detail, 'container web maps no port 3000 (it maps 8080)')
  t.equal(c.fix, 'add a portMapping { containerPort: 3000 } to container web, or set apps[].port to the port it listens on')
  t.equal(r.get('ecs.example.reach').status, 'skip', 'no running task to try')
  t.match(r.get('ecs.example.reach').detail, /no running task/)
  t.equal(r.get('ecs.example.iam.ecs:DescribeContainerInstances').status, 'skip')
})

t.test('a wrong container name and a missing task definition are named', async t => {
  const fake = await world(t)
  const wrong = await doctor(config(fake, { container: 'api' }))
  t.equal(wrong.code, 1)
  t.match(wrong.get('ecs.example.container').detail, /web:1 has no container "api" \(it has: web\)/)
  const probes = fake.count('RunTask')
  const missing = await doctor(config(fake, { taskDefinition: 'nope' }))
  t.equal(missing.get('ecs.example.taskdef').status, 'fail')
  t.match(missing.get('ecs.example.taskdef').detail, /task definition nope not found/)
  t.equal(missing.get('ecs.example.iam.ecs:RunTask').status, 'skip', 'no probe of a task definition that does not exist')
  t.equal(fake.count('RunTask'), probes)
  t.equal(fake.tasks.length, 0)
})

t.test('a running task whose host port nothing listens on: the reach check fails with the security group fix', async t => {
  const fake = await world(t)
  const arn = await runningTask(fake)
  const task = fake.task(arn)
  // ECS reports the binding; nothing listens there.
  task.port = await freePortOn(task.ip)
  const r = await doctor(config(fake))
  t.equal(r.code, 1)
  const reach = r.get('ecs.example.reach')
  t.equal(reach.status, 'fail')
  t.match(reach.detail, new RegExp(`cannot connect to ${task.ip.replace(/\./g, '\\.')}:${task.port} .*ECONNREFUSED`))
  t.match(reach.fix, /allow the gateway's security group on 32768–65535 \(bridge\)/)
  t.equal(r.get('ecs.example.iam.ec2:DescribeInstances').status, 'ok', 'the address was looked up')
})

t.test('bridge address lookup refused: the EC2 action fails, the ECS one passes', async t => {
  const fake = await world(t)
  await runningTask(fake)
  fake.denied.add('DescribeInstances')
  const r = await doctor(config(fake))
  t.equal(r.code, 1)
  t.equal(r.get('ecs.example.iam.ecs:DescribeContainerInstances').status, 'ok')
  t.equal(r.get('ecs.example.iam.ec2:DescribeInstances').status, 'fail')
  t.match(r.get('ecs.example.iam.ec2:DescribeInstances').fix, /^add ec2:DescribeInstances/)
  t.equal(r.get('ecs.example.reach').status, 'skip')
})

t.test('Fargate and per-SHA images: a FARGATE probe ECS rejects, task definitions listed, registering not probed', async t => {
  const fargate = {
    family: 'web-fargate',
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    containerDefinitions: [{ name: 'web', image: 'x/web:latest', essential: true, portMappings: [{ containerPort: 3000, protocol: 'tcp' }] }]
  }
  const fake = await world(t, { taskDefinitions: [fargate] })
  const r = await doctor(config(fake, {
    taskDefinition: 'web-fargate',
    image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/web:{sha}',
    capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
    networkConfiguration: { subnets: ['subnet-0fake'] }
  }))
  t.equal(r.code, 0, r.err)
  t.same(r.checks.filter(c => c.id.startsWith('ecs.example.iam.')).map(c => `${c.id.slice(16)} ${c.status}`), [
    'ecs:DescribeTaskDefinition ok', 'ecs:DescribeTasks ok', 'ecs:ListTaskDefinitions ok', 'ecs:ListTasks ok',
    'ecs:RegisterTaskDefinition skip', 'ecs:RunTask ok', 'ecs:StopTask ok', 'ecs:TagResource ok', 'iam:PassRole skip'
  ], 'awsvpc: no address lookups needed; per SHA: the task definition actions')
  t.equal(r.get('ecs.example.iam.ecs:RegisterTaskDefinition').detail, 'not checked (would register a revision)')
  t.match(r.get('ecs.example.iam.ecs:RunTask').detail, /FARGATE probe .*Placement constraints are not supported with FARGATE launch type/)
  t.equal(fake.callsOf('RunTask')[0].params.launchType, 'FARGATE')
  t.equal(fake.tasks.length, 0, 'nothing started')
  t.equal(fake.count('RegisterTaskDefinition'), 0, 'no revision registered')
})

t.test('STS unreachable is a warning; a missing cluster fails', async t => {
  const fake = await world(t)
  fake.faults = { fraction: 1, kind: 'server', actions: ['GetCallerIdentity'] }
  const r = await doctor(config(fake, { cluster: 'nope' }))
  t.equal(r.code, 1)
  t.equal(r.get('aws.us-east-1.identity').status, 'warn')
  t.match(r.get('aws.us-east-1.identity').fix, /never calls STS/)
  const cluster = r.get('ecs.example.cluster')
  t.equal(cluster.status, 'fail')
  t.match(cluster.detail, /cluster nope not found in us-east-1/)
  t.match(cluster.fix, /backend\.cluster/)
  t.equal(fake.count('RunTask'), 0)
})
