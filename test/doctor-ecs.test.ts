// `wakegate doctor`'s ECS checks against the fake, through the real CLI and the real AWS SDK:
// the task definition and its container port, reaching a running task, bridge address
// lookups, the Fargate probe and per-SHA images, STS down and a missing cluster.
// The healthy run, IAM refusals and the config: doctor.test.ts; GitHub and Redis: doctor-github.test.ts.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs'
import { ROOT, waitFor } from './support/harness.js'
import { FakeAws, WEB_TASK_DEFINITION, useFakeAwsEnvironment, type FakeAwsOptions } from './support/fake-aws/index.js'
import { ecsApp } from './support/fake-aws/app.js'
import { freePortOn } from './support/fake-aws/model.js'
import type { Check } from '../src/doctor/index.js'

useFakeAwsEnvironment()
const dir = mkdtempSync(join(tmpdir(), 'wakegate-doctor-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

interface Run { code: number | null, out: string, err: string, checks: Check[], get: (id: string) => Check }

/** `wakegate doctor -c <config> [--json]` in a child process (the fakes keep serving in this one). */
async function doctor (config: unknown, opts: { json?: boolean, env?: Record<string, string> } = {}): Promise<Run> {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config))
  const args = ['--import=tsx', join(ROOT, 'src/cli.ts'), 'doctor', ...(opts.env?.WAKEGATE_CONFIG_YAML ? [] : ['-c', file]), ...(opts.json === false ? [] : ['--json'])]
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', d => { out += d })
  child.stderr.on('data', d => { err += d })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  const checks: Check[] = opts.json === false ? [] : JSON.parse(out || '{"checks":[]}').checks
  const get = (id: string) => {
    const c = checks.find(x => x.id === id)
    if (!c) throw new Error(`no check ${id} in: ${checks.map(x => x.id).join(', ')}\n${err}`)
    return c
  }
  return { code, out, err, checks, get }
}

function config (fake: FakeAws, backend: Record<string, unknown> = {}, app: Record<string, unknown> = {}) {
  return { log: { level: 'silent' }, apps: [ecsApp(fake, app, backend)] }
}

async function world (t: Test, opts: FakeAwsOptions = {}): Promise<FakeAws> {
  const fake = await FakeAws.start(opts)
  t.teardown(() => fake.close())
  return fake
}

/** A RUNNING task of the example app, started as the gateway starts them. */
async function runningTask (fake: FakeAws, taskDefinition = 'web'): Promise<string> {
  const ecs = new ECSClient({ region: 'us-east-1', endpoint: fake.url })
  const out = await ecs.send(new RunTaskCommand({
    cluster: 'review',
    taskDefinition,
    startedBy: 'wakegate',
    tags: [{ key: 'wakegate:app', value: 'example' }, { key: 'wakegate:pr', value: '1' }]
  }))
  ecs.destroy()
  const arn = out.tasks![0].taskArn!
  await waitFor(() => fake.task(arn).lastStatus === 'RUNNING', 10_000, 'the task to run')
  return arn
}

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
