// `wakegate doctor` against the fakes, through the real CLI and the real AWS SDK and octokit:
// the config, AWS credentials, every IAM action the config needs (real calls and the
// RunTask/StopTask probes), the task definition and container port, reaching a task.
// More ECS cases: doctor-ecs.test.ts; GitHub and Redis: doctor-github.test.ts.
import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './support/harness.js'
import { useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { doctorRunner, ecsConfig, fakeAwsFor, runningTask } from './support/doctor.js'

useFakeAwsEnvironment()
const doctor = doctorRunner(t)
const config = ecsConfig
const world = fakeAwsFor

const BRIDGE_ACTIONS = ['ec2:DescribeInstances', 'ecs:DescribeContainerInstances', 'ecs:DescribeTaskDefinition', 'ecs:DescribeTasks', 'ecs:ListTasks', 'ecs:RunTask', 'ecs:StopTask', 'ecs:TagResource', 'iam:PassRole']

t.test('a healthy setup: every check passes, the probes start and stop nothing', async t => {
  const fake = await world(t)
  await runningTask(fake)
  const before = fake.tasks.map(x => `${x.taskArn} ${x.desiredStatus}`)

  const r = await doctor(config(fake))
  t.equal(r.code, 0, r.err)
  t.same(JSON.parse(r.out).ok, true)
  t.same(r.checks.filter(c => c.status !== 'ok').map(c => `${c.id} ${c.status}`), ['ecs.example.iam.iam:PassRole skip'], 'only the role check is skipped: the task definition passes none')
  t.same(r.checks.filter(c => c.id.startsWith('ecs.example.iam.')).map(c => c.id.slice('ecs.example.iam.'.length)), BRIDGE_ACTIONS, 'one line per action actionsForApp lists')
  t.match(r.get('aws.us-east-1.identity').detail, /arn:aws:sts::123456789012:assumed-role\/wakegate\/test/)
  t.match(r.get('aws.us-east-1.credentials').detail, /AKID…0000/)
  t.match(r.get('ecs.example.container').detail, /container web maps 3000\/tcp/)
  t.match(r.get('ecs.example.reach').detail, /connected to 127\.0\.\d+\.1:\d+/)
  t.match(r.get('ecs.example.iam.ecs:RunTask').detail, /EC2 probe was placed nowhere \(MEMBER\), nothing started/)
  t.match(r.get('ecs.example.iam.ecs:StopTask').detail, /The referenced task was not found/)

  t.same(fake.tasks.map(x => `${x.taskArn} ${x.desiredStatus}`), before, 'no task started, none stopped')
  const [probe] = fake.callsOf('RunTask').slice(1)
  t.equal(probe.params.launchType, 'EC2', 'an explicit launch type: no capacity provider scales out for it')
  t.notOk(probe.params.capacityProviderStrategy)
  t.same(probe.params.placementConstraints, [{ type: 'memberOf', expression: 'attribute:wakegate.doctor == probe' }])
  t.same(probe.params.tags.map((x: { key: string }) => x.key), ['wakegate:app', 'wakegate:pr', 'wakegate:sha', 'wakegate:generation'], 'the tags wakegate sets, so tagging on create is exercised')
  t.equal(probe.params.tags.find((x: { key: string }) => x.key === 'wakegate:pr').value, '0', 'PR 0: reconcile would stop such a task')
  t.match(fake.callsOf('StopTask')[0].params.task, /^arn:aws:ecs:us-east-1:123456789012:task\/review\/0{32}$/)
  t.equal(fake.count('GetCallerIdentity', { ok: true }), 1)
})

t.test('a missing permission fails its check with the fix, in the table too', async t => {
  const fake = await world(t)
  fake.denied.add('ListTasks')
  const r = await doctor(config(fake), { json: false })
  t.equal(r.code, 1)
  t.match(r.out, /^CHECK\s+STATUS\s+DETAIL$/m)
  t.match(r.out, /example: ecs:ListTasks\s+fail\s+AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role\/wakegate\/test is not authorized to perform: ecs:ListTasks/)
  t.match(r.out, /\n\s+fix: add ecs:ListTasks to the gateway's role: see README → AWS setup, or the deploy\/ stack\n/)
  t.match(r.out, /example: ecs:DescribeTasks\s+ok/, 'the other actions are still checked')
  t.match(r.out, /example: cluster\s+ok/, 'the cluster is known from the other calls')
  t.match(r.out, /\d+ ok, \d+ warnings?, 1 failed, \d+ skipped\n$/)
})

t.test('RunTask refused by IAM: the probe says so, and started nothing', async t => {
  const fake = await world(t)
  fake.denied.add('RunTask')
  const r = await doctor(config(fake))
  t.equal(r.code, 1)
  const run = r.get('ecs.example.iam.ecs:RunTask')
  t.equal(run.status, 'fail')
  t.match(run.detail, /not authorized to perform: ecs:RunTask/)
  t.match(run.fix, /^add ecs:RunTask to the gateway's role/)
  t.equal(r.get('ecs.example.iam.ecs:TagResource').status, 'skip', 'not reached')
  t.equal(r.get('ecs.example.iam.ecs:StopTask').status, 'ok')
  t.equal(fake.tasks.length, 0)
})

t.test('RunTask allowed but tagging on create refused: ecs:TagResource fails', async t => {
  const fake = await world(t)
  fake.denied.add('TagResource')
  const r = await doctor(config(fake))
  t.equal(r.code, 1)
  t.equal(r.get('ecs.example.iam.ecs:RunTask').status, 'ok')
  t.match(r.get('ecs.example.iam.ecs:RunTask').detail, /ECS went on to check ecs:TagResource/)
  t.equal(r.get('ecs.example.iam.ecs:TagResource').status, 'fail')
  t.match(r.get('ecs.example.iam.ecs:TagResource').fix, /^add ecs:TagResource to the gateway's role/)
  t.equal(fake.tasks.length, 0)
})

t.test('an invalid config is a failed config check (exit 1), also from WAKEGATE_CONFIG_YAML', async t => {
  const bad = 'apps:\n  - name: Bad_Name\n    host: pr-{pr}.review.test\n    port: 99999\n    backend: { kind: local, command: "true" }\n'
  const r = await doctor(bad)
  t.equal(r.code, 1)
  t.equal(r.checks.length, 1, 'nothing else is checked')
  const c = r.get('config')
  t.equal(c.status, 'fail')
  t.match(c.detail, /apps\[0\]\.name: .*apps\[0\]\.port: /)
  t.ok(c.fix)
  const inline = await doctor('', { env: { WAKEGATE_CONFIG_YAML: bad } })
  t.equal(inline.code, 1)
  t.match(inline.get('config').detail, /^WAKEGATE_CONFIG_YAML is invalid: apps\[0\]\.name/)

  const local = await doctor({ log: { level: 'silent' }, apps: [{ name: 'web', host: 'pr-{pr}.review.test', backend: { kind: 'local', command: 'true', cwd: 'no-such-dir' } }] }, { json: false })
  t.equal(local.code, 1)
  t.match(local.out, /web: working directory\s+fail\s+.*no-such-dir is not a directory\n\s+fix: set backend\.cwd/)
})

t.test('bad usage exits 2', async t => {
  const child = spawn(process.execPath, ['--import=tsx', join(ROOT, 'src/cli.ts'), 'doctor', 'extra'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.on('data', d => { err += d })
  t.equal(await new Promise(resolve => child.once('exit', resolve)), 2)
  t.match(err, /doctor takes no arguments/)
})
