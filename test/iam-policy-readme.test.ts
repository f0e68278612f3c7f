// The README's IAM policy is the one the code defines (src/backends/ecs/iam-policy.ts), which
// the AWS stack attaches and doctor checks: the blocks parse to exactly that policy.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { README_SCOPE, actionsForApp, gatewayPolicy, perShaStatements } from '../src/backends/ecs/iam-policy.js'
import { ROOT } from './support/harness.js'

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')

function jsonBlockAfter (marker: string): unknown {
  const at = readme.indexOf(marker)
  if (at < 0) throw new Error(`README has no "${marker}"`)
  const m = /```json\n([\s\S]*?)\n```/.exec(readme.slice(at))
  if (!m) throw new Error(`no json block after "${marker}"`)
  return JSON.parse(m[1])
}

t.test('the minimal policy in the README is gatewayPolicy for its example', async t => {
  t.same(jsonBlockAfter('The minimal IAM policy for the gateway'), gatewayPolicy(README_SCOPE))
})

t.test('the per-SHA statements in the README are perShaStatements', async t => {
  t.same(jsonBlockAfter('Only with per-SHA images'), perShaStatements(README_SCOPE))
})

t.test('no write action is allowed on every resource', async t => {
  for (const s of gatewayPolicy(README_SCOPE, { perSha: true }).Statement) {
    const actions = Array.isArray(s.Action) ? s.Action : [s.Action]
    const writes = actions.filter(a => !/^[a-z0-9]+:(Describe|List|Get)/.test(a))
    if (writes.length) t.not(s.Resource, '*', `${s.Sid}: ${writes.join(', ')}`)
  }
})

t.test('the actions an app needs follow its settings', async t => {
  const bridge = actionsForApp({})
  t.ok(bridge.includes('ec2:DescribeInstances') && bridge.includes('ecs:DescribeContainerInstances'), 'bridge apps look up instance addresses')
  t.notOk(bridge.includes('ecs:RegisterTaskDefinition'), 'no registering without per-SHA images')
  const fargate = actionsForApp({ launchType: 'FARGATE', image: 'repo/app:{sha}' })
  t.notOk(fargate.includes('ec2:DescribeInstances'), 'awsvpc tasks have their own address')
  t.ok(fargate.includes('ecs:RegisterTaskDefinition') && fargate.includes('ecs:ListTaskDefinitions'), 'per-SHA images register revisions')
  t.ok(fargate.includes('ecs:RunTask') && fargate.includes('iam:PassRole'))
})
