// The AWS stack (deploy/): the CloudFormation template users deploy without CDK. One synth
// (as `npm run synth` does it, without its slow validation pass) serves every assertion; the
// committed deploy/wakegate.template.json must be exactly what it writes.
import t, { type Test } from 'tap'
import { readFileSync, rmSync } from 'node:fs'
import { Match, Template } from 'aws-cdk-lib/assertions'
import { CfnResource, type CfnElement } from 'aws-cdk-lib'
import type { IConstruct } from 'constructs'
import { buildStack, synthesize, TEMPLATE_FILE } from '../deploy/stack.js'
import { ADMIN_TARGETS_CODE } from '../deploy/admin-targets.js'
import { EPHEMERAL_PORTS, GATEWAY_PORTS, PLACEHOLDER } from '../deploy/network.js'
import { LOG_RETENTION_DAYS, SECRET_KEYS } from '../deploy/parameters.js'
import { actionsOf, gatewayPolicy, README_SCOPE } from '../src/backends/ecs/iam-policy.js'
import { parseConfigText } from '../src/config/load.js'

const started = performance.now()
const { app, stack } = buildStack({ validate: false })
const synth = synthesize(app, stack)
const synthMs = Math.round(performance.now() - started)
t.teardown(() => rmSync(synth.directory, { recursive: true, force: true }))
const tpl = Template.fromJSON(synth.template)
const template = synth.template as { Parameters: Record<string, any>, Conditions: Record<string, any>, Resources: Record<string, any>, Mappings: Record<string, any>, Outputs: Record<string, any> }
const resources = template.Resources

/** The logical id of a construct's CloudFormation resource (its default child, or its only CfnResource). */
const id = (c: IConstruct) => stack.getLogicalId((c.node.defaultChild ?? c.node.findAll().find(x => x instanceof CfnResource)) as CfnElement)
const ids = {
  reviewCluster: id(stack.review.cluster),
  capacityProvider: id(stack.review.capacityProvider),
  asg: id(stack.review.autoScalingGroup),
  reviewTaskRole: id(stack.review.taskRole),
  reviewExecutionRole: id(stack.review.executionRole),
  gatewayTaskRole: id(stack.gateway.taskRole),
  gatewayExecutionRole: id(stack.gateway.executionRole),
  taskDefinition: id(stack.gateway.taskDefinition),
  service: id(stack.gateway.service),
  logGroup: id(stack.gateway.logGroup),
  httpsListener: id(stack.gateway.httpsListener),
  publicTargets: id(stack.gateway.publicTargets),
  adminTargets: id(stack.gateway.adminTargets),
  albSg: id(stack.network.albSg),
  gatewaySg: id(stack.network.gatewaySg),
  instancesSg: id(stack.network.instancesSg),
  tasksSg: id(stack.network.tasksSg),
  redisSg: id(stack.network.redisSg),
  redis: stack.getLogicalId(stack.redis.replicationGroup),
  starter: stack.getLogicalId(stack.config.starter)
}

// ---- Evaluating the template's intrinsics with sample parameter values -------------------

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:wakegate-AbCdEf'
const PARAMS: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'eu-west-1',
  'AWS::AccountId': '111122223333',
  'AWS::StackName': 'wakegate',
  VpcId: 'vpc-0123',
  ReviewDomain: 'review.example.com',
  HostedZoneId: 'Z0123456789',
  CertificateArn: 'arn:aws:acm:eu-west-1:111122223333:certificate/0f0e0d0c-1111-2222-3333-444455556666',
  GitHubAppId: '123456',
  SecretArn: SECRET_ARN,
  GatewayImage: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/wakegate:0.1.0',
  ExistingConfigParameter: ''
}
/** Sample values of resource attributes and Refs (else `ref:ID` / `att:ID.Attr`). */
const RESOURCES: Record<string, string> = {
  [ids.reviewCluster]: 'wakegate-ReviewCluster-AbC123',
  [ids.capacityProvider]: 'wakegate-ReviewCapacity-XyZ789',
  [`${ids.redis}.PrimaryEndPoint.Address`]: 'master.wakegate-redis.abc123.euw1.cache.amazonaws.com',
  [`${ids.redis}.PrimaryEndPoint.Port`]: '6379',
  [ids.starter]: '/wakegate/wakegate/config'
}

function evaluator (overrides: Record<string, string> = {}) {
  const params: Record<string, unknown> = {}
  for (const [name, p] of Object.entries(template.Parameters)) params[name] = p.Default
  Object.assign(params, PARAMS, overrides)
  const ref = (name: string): unknown => name in params ? params[name] : RESOURCES[name] ?? `ref:${name}`
  const att = (res: string, attr: string): unknown => RESOURCES[`${res}.${attr}`] ?? `att:${res}.${attr}`
  const condition = (name: string): boolean => Boolean(ev(template.Conditions[name]))
  const NO_VALUE = Symbol('AWS::NoValue')
  function sub (body: string, vars: Record<string, unknown>): string {
    return body.replace(/\$\{(!?)([^}]+)\}/g, (_m, bang: string, name: string) => {
      if (bang) return '${' + name + '}'
      if (name in vars) return String(ev(vars[name]))
      const dot = name.indexOf('.')
      return String(dot < 0 ? ref(name) : att(name.slice(0, dot), name.slice(dot + 1)))
    })
  }
  function ev (node: any): any {
    if (Array.isArray(node)) return node.map(ev).filter(x => x !== NO_VALUE)
    if (node === null || typeof node !== 'object') return node
    const keys = Object.keys(node)
    if (keys.length === 1) {
      const [k] = keys
      const v = node[k]
      switch (k) {
        case 'Ref': return v === 'AWS::NoValue' ? NO_VALUE : ref(v)
        case 'Fn::GetAtt': return att(v[0], v[1])
        case 'Fn::Join': return (ev(v[1]) as unknown[]).join(v[0])
        case 'Fn::Sub': return typeof v === 'string' ? sub(v, {}) : sub(v[0], v[1])
        case 'Fn::If': return ev(condition(v[0]) ? v[1] : v[2])
        case 'Fn::Equals': return String(ev(v[0])) === String(ev(v[1]))
        case 'Fn::Not': return !ev(v[0])
        case 'Fn::Base64': return ev(v)
        case 'Fn::Select': return ev(v[1])[Number(ev(v[0]))]
        case 'Fn::FindInMap': return template.Mappings[ev(v[0])][ev(v[1])][ev(v[2])]
        case 'Condition': return condition(v)
      }
      if (k.startsWith('Fn::')) throw new Error(`the test does not evaluate ${k}`)
    }
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(node)) {
      const x = ev(v)
      if (x !== NO_VALUE) out[k] = x
    }
    return out
  }
  return { ev, condition }
}
const { ev } = evaluator()

/** Every IAM policy statement of the template (not trust policies), with where it is. */
function allStatements (): Array<{ where: string, statement: any }> {
  const out: Array<{ where: string, statement: any }> = []
  for (const [name, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::IAM::Role') for (const p of r.Properties.Policies ?? []) for (const s of p.PolicyDocument.Statement) out.push({ where: `${name} ${p.PolicyName}`, statement: s })
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') for (const s of r.Properties.PolicyDocument.Statement) out.push({ where: name, statement: s })
  }
  return out
}
const list = <T>(x: T | T[]): T[] => Array.isArray(x) ? x : [x]

/** tpl.hasResourceProperties as an assertion of the test `t`. */
function has (t: Test, type: string, props: unknown, message: string): void {
  try {
    tpl.hasResourceProperties(type, props)
    t.pass(message)
  } catch (err) {
    t.fail(`${message}: ${(err as Error).message}`)
  }
}

// ---- The template as a file ---------------------------------------------------------------

t.test('deploy/wakegate.template.json is a fresh synth', async t => {
  const committed = readFileSync(TEMPLATE_FILE, 'utf8')
  t.ok(committed === synth.text, 'deploy/wakegate.template.json is what deploy/*.ts synthesize (when not: run `npm run synth` and commit the result)')
  t.comment(`synth took ${synthMs} ms`)
})

t.test('deployable with `aws cloudformation deploy --template-file` alone', async t => {
  t.ok(Buffer.byteLength(synth.text) <= 51_200, `the template is ${Buffer.byteLength(synth.text)} bytes; CloudFormation takes at most 51,200 without an S3 bucket`)
  t.notOk(synth.text.includes(PLACEHOLDER), 'every placeholder subnet was replaced by a parameter')
  t.notOk('BootstrapVersion' in template.Parameters, 'no bootstrap version parameter')
  t.notOk('Rules' in template, 'no bootstrap rule')
  t.notOk(Object.values(resources).some((r: any) => r.Type === 'AWS::CDK::Metadata'), 'no CDK metadata resource')
  t.notMatch(synth.text, /aws:cdk:path|aws:asset|cdk-hnb659fds|AssetParameters/, 'no construct paths, assets or bootstrap resources')
  t.notOk(Object.values(template.Parameters).some((p: any) => p.Type === 'AWS::SSM::Parameter::Value<String>' && !p.Default), 'no context lookups')
  const messages = app.synth().getStackArtifact(stack.artifactId).messages
  t.same(messages.filter(m => m.level !== 'info').map(m => `${m.id}: ${String(m.entry.data)}`), [], 'CDK reports no warnings or errors')
})

t.test('the Fn::Join → Fn::Sub compaction changes no value', async t => {
  const cases: Array<Record<string, string>> = [{}, { ExistingConfigParameter: '/team/wakegate', UseSpot: 'false', ReviewInstanceType2: '' }]
  for (const overrides of cases) {
    const { ev } = evaluator(overrides)
    t.same(ev(template.Resources), ev(synth.raw.Resources), `resources ${JSON.stringify(overrides)}`)
    t.same(ev(template.Outputs), ev(synth.raw.Outputs), `outputs ${JSON.stringify(overrides)}`)
  }
  t.notMatch(JSON.stringify(template), /"Fn::Join"/, 'no Fn::Join left')
})

// ---- Load balancer, DNS ---------------------------------------------------------------------

t.test('listeners: HTTPS forwards to the gateway, admin.<domain> to the admin listener, HTTP redirects', async t => {
  has(t, 'AWS::ElasticLoadBalancingV2::Listener', {
    Port: 443,
    Protocol: 'HTTPS',
    Certificates: [{ CertificateArn: { Ref: 'CertificateArn' } }],
    SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
    DefaultActions: [{ Type: 'forward', TargetGroupArn: { Ref: ids.publicTargets } }]
  }, 'HTTPS with the certificate and a TLS 1.2+ policy, forwarding to the gateway')
  const rules = tpl.findResources('AWS::ElasticLoadBalancingV2::ListenerRule')
  t.equal(Object.keys(rules).length, 1, 'one listener rule')
  const rule = ev(Object.values(rules)[0].Properties)
  t.same(rule.Conditions, [{ Field: 'host-header', HostHeaderConfig: { Values: ['admin.review.example.com'] } }], 'host admin.<domain>')
  t.same(rule.Actions, [{ Type: 'forward', TargetGroupArn: `ref:${ids.adminTargets}` }], 'to the admin target group')
  t.equal(rule.ListenerArn, `ref:${ids.httpsListener}`, 'on the HTTPS listener')

  has(t, 'AWS::ElasticLoadBalancingV2::Listener', {
    Port: 80,
    Protocol: 'HTTP',
    DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }]
  }, 'HTTP redirects to HTTPS (301)')
  t.equal(Object.keys(tpl.findResources('AWS::ElasticLoadBalancingV2::Listener')).length, 2, 'no other listener')
  has(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internet-facing', Subnets: { Ref: 'PublicSubnetIds' } }, 'internet-facing, in the public subnets')

  const admin = resources[ids.adminTargets].Properties
  t.match(admin, { Port: GATEWAY_PORTS.admin, TargetType: 'ip', HealthCheckPath: '/healthz' }, 'admin target group: ip targets on 9090, GET /healthz')
  t.notOk('HealthCheckPort' in admin, 'checked on the admin port itself (only the leader listens there)')
})

t.test('a wildcard DNS record points at the load balancer', async t => {
  const [record] = Object.values(tpl.findResources('AWS::Route53::RecordSet')).map(r => ev(r.Properties))
  t.match(record, { Name: '*.review.example.com', Type: 'A', HostedZoneId: 'Z0123456789', AliasTarget: { DNSName: `att:${id(stack.gateway.loadBalancer)}.DNSName` } })
})

// ---- Security groups ------------------------------------------------------------------------

interface Ingress { group: string, from: unknown, to: unknown, protocol: string, source?: string, cidr?: string, cidr6?: string }
function ingressRules (): Ingress[] {
  const out: Ingress[] = []
  const sgOf = (x: any) => x?.['Fn::GetAtt']?.[0] as string | undefined
  for (const [name, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::EC2::SecurityGroup') {
      for (const i of r.Properties.SecurityGroupIngress ?? []) out.push({ group: name, from: i.FromPort, to: i.ToPort, protocol: i.IpProtocol, source: sgOf(i.SourceSecurityGroupId), cidr: i.CidrIp, cidr6: i.CidrIpv6 })
    }
    if (r.Type === 'AWS::EC2::SecurityGroupIngress') {
      const i = r.Properties
      out.push({ group: sgOf(i.GroupId)!, from: i.FromPort, to: i.ToPort, protocol: i.IpProtocol, source: sgOf(i.SourceSecurityGroupId), cidr: i.CidrIp, cidr6: i.CidrIpv6 })
    }
  }
  return out
}

t.test('security groups: nothing but the gateway reaches the instances, tasks and Redis', async t => {
  const rules = ingressRules()
  const of = (group: string) => rules.filter(r => r.group === group).map(({ group: _g, ...r }) => r)
  for (const group of [ids.instancesSg, ids.tasksSg, ids.gatewaySg, ids.redisSg]) {
    t.notOk(of(group).some(r => r.cidr === '0.0.0.0/0' || r.cidr6 === '::/0'), `${group}: no ingress from anywhere`)
    t.notOk(of(group).some(r => r.cidr !== undefined || r.cidr6 !== undefined), `${group}: security groups only`)
  }
  t.same(of(ids.instancesSg), [{ from: EPHEMERAL_PORTS.from, to: EPHEMERAL_PORTS.to, protocol: 'tcp', source: ids.gatewaySg, cidr: undefined, cidr6: undefined }],
    'instances: exactly the gateway, on 32768–65535')
  t.same(of(ids.tasksSg), [{ from: { Ref: 'ReviewAppPort' }, to: { Ref: 'ReviewAppPort' }, protocol: 'tcp', source: ids.gatewaySg, cidr: undefined, cidr6: undefined }],
    'awsvpc tasks: exactly the gateway, on the app port')
  t.same(of(ids.redisSg), [{ from: 6379, to: 6379, protocol: 'tcp', source: ids.gatewaySg, cidr: undefined, cidr6: undefined }], 'Redis: exactly the gateway')
  t.same(of(ids.gatewaySg).map(r => [r.source, r.from, r.to]).sort(), [
    [ids.albSg, 8080, 8080],
    [ids.albSg, 9090, 9090],
    [ids.gatewaySg, 8081, 8081]
  ].sort(), 'gateway: the load balancer on 8080 and 9090, the other replicas on the internal port')
  t.same(of(ids.albSg).map(r => [r.cidr, r.from]).sort(), [['0.0.0.0/0', 443], ['0.0.0.0/0', 80]], 'load balancer: 80 and 443 from anywhere')
})

// ---- IAM --------------------------------------------------------------------------------------

t.test('the gateway task role has exactly the policy of src/backends/ecs/iam-policy.ts', async t => {
  const role = resources[ids.gatewayTaskRole].Properties
  t.equal(role.Policies.length, 1, 'one inline policy')
  t.notOk(role.ManagedPolicyArns, 'no managed policies')
  const attached = Object.entries(resources).filter(([, r]) => /^AWS::IAM::(Managed)?Policy$/.test(r.Type) && JSON.stringify([r.Properties.Roles, r.Properties.Users, r.Properties.Groups]).includes(`"${ids.gatewayTaskRole}"`))
  t.same(attached.map(([n]) => n), [], 'no other policy is attached to it')
  t.same(ev(role.AssumeRolePolicyDocument).Statement, [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' } }])

  const expected = gatewayPolicy({
    partition: 'aws',
    region: 'eu-west-1',
    account: '111122223333',
    cluster: RESOURCES[ids.reviewCluster],
    family: 'review-*',
    passRoles: [`att:${ids.reviewTaskRole}.Arn`, `att:${ids.reviewExecutionRole}.Arn`]
  }, { perSha: true })
  const actual = ev(role.Policies[0].PolicyDocument)
  t.same(actual, expected, 'same statements: Sids, actions, resources and conditions, built from the template\'s values')
  t.same(role.Policies[0].PolicyDocument.Statement.map((s: any) => s.Sid), expected.Statement.map(s => s.Sid), 'in the same order')
  t.same(actionsOf(role.Policies[0].PolicyDocument.Statement), actionsOf(gatewayPolicy(README_SCOPE, { perSha: true }).Statement), 'the README\'s actions, no more')
})

t.test('no write action on Resource "*", anywhere', async t => {
  // Read actions (Describe*, List*, Get*) are the only ones allowed on "*"; none is excepted.
  const read = (action: string) => /^[a-z0-9-]+:(Describe|List|Get)/.test(action)
  const statements = allStatements()
  t.ok(statements.length > 10, `${statements.length} statements`)
  for (const { where, statement } of statements) {
    if (!list(statement.Resource).includes('*')) continue
    const writes = list<string>(statement.Action).filter(a => !read(a))
    t.same(writes, [], `${where} ${statement.Sid ?? ''}: only reads on "*"`)
  }
  t.notOk(statements.some(({ statement }) => statement.NotResource || statement.NotAction), 'no NotResource or NotAction')
})

t.test('iam:PassRole only for the two review task roles', async t => {
  const passing = allStatements().filter(({ statement }) => list<string>(statement.Action).some(a => a === 'iam:PassRole' || a === 'iam:*' || a === '*'))
  t.equal(passing.length, 1, 'one statement passes roles')
  t.same(ev(passing[0].statement.Resource), [`att:${ids.reviewTaskRole}.Arn`, `att:${ids.reviewExecutionRole}.Arn`])
  t.same(passing[0].statement.Condition, { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } })
})

t.test('the gateway execution role reads exactly the secret and the config parameter', async t => {
  const policies = Object.values(resources).filter((r: any) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: ids.gatewayExecutionRole }]))
  t.equal(policies.length, 1)
  const statements = ev(policies[0].Properties.PolicyDocument).Statement
  const on = (prefix: string) => statements.filter((s: any) => list<string>(s.Action).some(a => a.startsWith(prefix)))
  t.same(on('secretsmanager:').map((s: any) => s.Resource), [SECRET_ARN], 'the secret, by its full ARN')
  t.same(on('ssm:').map((s: any) => s.Resource), ['arn:aws:ssm:eu-west-1:111122223333:parameter/wakegate/wakegate/config'], 'the config parameter')
  const own = evaluator({ ExistingConfigParameter: '/team/wakegate' }).ev(policies[0].Properties.PolicyDocument).Statement
  t.same(own.filter((s: any) => list<string>(s.Action).some(a => a.startsWith('ssm:'))).map((s: any) => s.Resource),
    ['arn:aws:ssm:eu-west-1:111122223333:parameter/team/wakegate'], 'or the one ExistingConfigParameter names')
  t.same(on('logs:').map((s: any) => s.Resource), [`att:${ids.logGroup}.Arn`], 'writes its log group')
})

t.test('review task roles: trusted by ECS tasks, the execution role with the ECS managed policy', async t => {
  for (const role of [ids.reviewTaskRole, ids.reviewExecutionRole]) {
    t.same(ev(resources[role].Properties.AssumeRolePolicyDocument).Statement, [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' } }])
  }
  t.same(ev(resources[ids.reviewExecutionRole].Properties.ManagedPolicyArns), ['arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy'])
  t.notOk(resources[ids.reviewTaskRole].Properties.Policies ?? resources[ids.reviewTaskRole].Properties.ManagedPolicyArns, 'the task role starts empty')
  t.same(ev(resources[id(stack.review.instanceRole)].Properties.ManagedPolicyArns), [
    'arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role',
    'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore'
  ], 'instances: the ECS agent\'s managed policy (and Session Manager), nothing inline')
  t.notOk(resources[id(stack.review.instanceRole)].Properties.Policies)
})

// ---- Review capacity ----------------------------------------------------------------------

t.test('the Auto Scaling group uses Spot above the base when UseSpot is true', async t => {
  const asg = resources[ids.asg].Properties
  const dist = asg.MixedInstancesPolicy.InstancesDistribution
  t.same(dist.OnDemandPercentageAboveBaseCapacity, { 'Fn::If': ['SpotAboveBase', 0, 100] })
  t.same(template.Conditions.SpotAboveBase, { 'Fn::Equals': [{ Ref: 'UseSpot' }, 'true'] })
  t.same(template.Parameters.UseSpot.AllowedValues, ['true', 'false'])
  t.same(dist.OnDemandBaseCapacity, { Ref: 'OnDemandBaseCapacity' })
  t.equal(dist.SpotAllocationStrategy, 'price-capacity-optimized')
  t.equal(evaluator({ UseSpot: 'true' }).ev(dist).OnDemandPercentageAboveBaseCapacity, 0, 'Spot: 0% on-demand above the base')
  t.equal(evaluator({ UseSpot: 'false' }).ev(dist).OnDemandPercentageAboveBaseCapacity, 100, 'no Spot: all on-demand')
  t.equal(asg.NewInstancesProtectedFromScaleIn, true)
  t.same(asg.VPCZoneIdentifier, { Ref: 'PrivateSubnetIds' })

  const overrides = (o: Record<string, string>) => evaluator(o).ev(asg.MixedInstancesPolicy.LaunchTemplate.Overrides)
  t.same(overrides({}), [{ InstanceType: 'm6i.large' }, { InstanceType: 'm5.large' }, { InstanceType: 'm6a.large' }], 'three instance types by default')
  t.same(overrides({ ReviewInstanceType2: '', ReviewInstanceType3: '' }), [{ InstanceType: 'm6i.large' }], 'empty ones are left out')

  const lt = resources[asg.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateId.Ref].Properties.LaunchTemplateData
  t.same(lt.ImageId, { Ref: 'ReviewInstanceAmi' })
  t.match(template.Parameters.ReviewInstanceAmi, { Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>', Default: '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id' })
  t.match(ev(lt.UserData), /ECS_CLUSTER=wakegate-ReviewCluster-AbC123/, 'instances join the review cluster')
  t.same(lt.MetadataOptions, { HttpPutResponseHopLimit: 1, HttpTokens: 'required' }, 'containers cannot reach the instance metadata')
})

t.test('the capacity provider: managed scaling and managed termination protection', async t => {
  has(t, 'AWS::ECS::CapacityProvider', {
    AutoScalingGroupProvider: {
      AutoScalingGroupArn: { Ref: ids.asg },
      ManagedScaling: Match.objectLike({ Status: 'ENABLED' }),
      ManagedTerminationProtection: 'ENABLED'
    }
  }, 'managed scaling and managed termination protection ENABLED')
  has(t, 'AWS::ECS::ClusterCapacityProviderAssociations', {
    Cluster: { Ref: ids.reviewCluster },
    CapacityProviders: [{ Ref: ids.capacityProvider }]
  }, 'on the review cluster')
})

// ---- The gateway --------------------------------------------------------------------------

t.test('the gateway service', async t => {
  const service = resources[ids.service].Properties
  t.same(service.DesiredCount, { Ref: 'GatewayReplicas' })
  t.match(template.Parameters.GatewayReplicas, { Type: 'Number', MinValue: 2 })
  t.equal(service.LaunchType, 'FARGATE')
  t.same(service.NetworkConfiguration.AwsvpcConfiguration, { AssignPublicIp: 'DISABLED', SecurityGroups: [{ 'Fn::GetAtt': [ids.gatewaySg, 'GroupId'] }], Subnets: { Ref: 'PrivateSubnetIds' } })
  t.same(service.LoadBalancers, [{ ContainerName: 'wakegate', ContainerPort: 8080, TargetGroupArn: { Ref: ids.publicTargets } }],
    'ECS registers the public port only (the admin target group is kept by AdminTargets)')
  t.match(service.DeploymentConfiguration, { MinimumHealthyPercent: 100, MaximumPercent: 200 })

  const tg = resources[ids.publicTargets].Properties
  t.match(tg, { Port: 8080, TargetType: 'ip', HealthCheckPath: '/__wakegate/healthz' })
  t.same(tg.TargetGroupAttributes.find((a: any) => a.Key === 'deregistration_delay.timeout_seconds').Value, { Ref: 'DrainTimeoutSeconds' }, 'deregistration delay: the drain timeout')

  const [container] = resources[ids.taskDefinition].Properties.ContainerDefinitions
  t.same(container.StopTimeout, { 'Fn::FindInMap': ['StopTimeoutOfGrace', { Ref: 'ShutdownGraceSeconds' }, 'StopTimeout'] }, 'stopTimeout: looked up from the shutdown grace')
  for (const grace of template.Parameters.ShutdownGraceSeconds.AllowedValues) {
    const stop = template.Mappings.StopTimeoutOfGrace[grace].StopTimeout
    t.equal(stop, Number(grace) + 10, `grace ${grace} s → SIGKILL 10 s after it`)
    t.ok(stop <= 120, 'within what Fargate allows')
  }
  t.same(container.PortMappings.map((p: any) => p.ContainerPort), [8080, 9090, 8081])
  t.same(container.Image, { Ref: 'GatewayImage' })
})

t.test('the gateway log group keeps LogRetentionDays', async t => {
  t.same(resources[ids.logGroup].Properties.RetentionInDays, { Ref: 'LogRetentionDays' })
  t.same(template.Parameters.LogRetentionDays.AllowedValues, LOG_RETENTION_DAYS.map(String))
  t.equal(template.Parameters.LogRetentionDays.Default, 30)
  const [container] = resources[ids.taskDefinition].Properties.ContainerDefinitions
  t.match(container.LogConfiguration, { LogDriver: 'awslogs', Options: { 'awslogs-group': { Ref: ids.logGroup } } })
})

t.test('secrets come only from the secret and the config parameter', async t => {
  const secretLooking = /secret|key|token|password/i
  const named = Object.keys(template.Parameters).filter(n => secretLooking.test(n))
  t.same(named, ['SecretArn'], 'no parameter looks like a secret but the secret\'s ARN')
  const p = template.Parameters.SecretArn
  t.equal(p.Type, 'String')
  const pattern = new RegExp(p.AllowedPattern)
  t.ok(pattern.test(SECRET_ARN), 'a full secret ARN is accepted')
  t.notOk(pattern.test('hunter2hunter2hunter2'), 'a secret value is not')
  t.notOk(pattern.test('arn:aws:secretsmanager:eu-west-1:111122223333:secret:wakegate'), 'nor a partial ARN')
  t.notOk(Object.values(template.Parameters).some((x: any) => secretLooking.test(String(x.Default ?? ''))), 'no default looks like a secret')

  const [container] = resources[ids.taskDefinition].Properties.ContainerDefinitions
  const secrets = ev(container.Secrets) as Array<{ Name: string, ValueFrom: string }>
  const expected = [
    { Name: 'WAKEGATE_CONFIG_YAML', ValueFrom: 'arn:aws:ssm:eu-west-1:111122223333:parameter/wakegate/wakegate/config' },
    ...SECRET_KEYS.map(([key, env]) => ({ Name: env, ValueFrom: `${SECRET_ARN}:${key}::` }))
  ]
  t.same(secrets, expected, 'each variable from a key of the secret, the config from its parameter')
  for (const s of container.Secrets) t.match(JSON.stringify(s.ValueFrom), /SecretArn|StarterConfig|ExistingConfigParameter/)
  t.same(SECRET_KEYS.map(([, env]) => env).sort(), ['WAKEGATE_ADMIN_TOKEN', 'WAKEGATE_GITHUB_CLIENT_ID', 'WAKEGATE_GITHUB_CLIENT_SECRET', 'WAKEGATE_GITHUB_PRIVATE_KEY', 'WAKEGATE_GITHUB_WEBHOOK_SECRET', 'WAKEGATE_SESSION_KEY'])

  const environments = Object.values(resources).flatMap((r: any) => [
    ...(r.Properties?.ContainerDefinitions ?? []).flatMap((c: any) => (c.Environment ?? []).map((e: any) => [e.Name, e.Value])),
    ...Object.entries(r.Properties?.Environment?.Variables ?? {})
  ])
  for (const [name, value] of environments) t.notMatch(`${name}=${JSON.stringify(value)}`, secretLooking, `environment ${name}`)
})

t.test('Redis: a primary and a replica, failover, TLS, the gateway only', async t => {
  has(t, 'AWS::ElastiCache::ReplicationGroup', {
    Engine: 'redis',
    NumCacheClusters: 2,
    AutomaticFailoverEnabled: true,
    MultiAZEnabled: true,
    TransitEncryptionEnabled: true,
    SecurityGroupIds: [{ 'Fn::GetAtt': [ids.redisSg, 'GroupId'] }]
  }, 'two nodes, failover, TLS, its security group')
  has(t, 'AWS::ElastiCache::SubnetGroup', { SubnetIds: { Ref: 'PrivateSubnetIds' } }, 'in the private subnets')
})

// ---- The configuration --------------------------------------------------------------------

const SECRET_ENV = {
  WAKEGATE_GITHUB_WEBHOOK_SECRET: 'webhook-secret-0123456789',
  WAKEGATE_GITHUB_PRIVATE_KEY: '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----\n',
  WAKEGATE_SESSION_KEY: '0123456789abcdef'.repeat(4),
  WAKEGATE_GITHUB_CLIENT_ID: 'Iv23liExample0123456',
  WAKEGATE_GITHUB_CLIENT_SECRET: 'client-secret-0123456789',
  WAKEGATE_ADMIN_TOKEN: 'admin-token-0123456789'
}

t.test('the starter config is a valid wakegate config', async t => {
  const starter = resources[ids.starter]
  t.equal(starter.Condition, 'CreateStarterConfig', 'written only when no config parameter of one\'s own is named')
  t.equal(starter.Properties.Type, 'String')
  const yaml = ev(starter.Properties.Value) as string
  t.notMatch(yaml, /ref:|att:/, 'every value filled in')
  for (const env of Object.keys(SECRET_ENV)) t.ok(yaml.includes('${' + env + '}'), `${env} comes from the environment`)
  t.ok(Buffer.byteLength(yaml) < 4096, 'fits a standard SSM parameter')

  const config = parseConfigText(yaml, SECRET_ENV, '/', 'starter')
  t.match(config, {
    listen: { host: '0.0.0.0', port: 8080 },
    public: { scheme: 'https' },
    admin: { host: '0.0.0.0', port: 9090, token: SECRET_ENV.WAKEGATE_ADMIN_TOKEN },
    proxy: { xForwarded: 'append', shutdownGrace: 30_000 },
    store: { kind: 'redis', url: 'rediss://master.wakegate-redis.abc123.euw1.cache.amazonaws.com:6379', internalPort: GATEWAY_PORTS.internal },
    github: { auth: { appId: 123456 }, webhookHost: 'hooks.review.example.com', webhookSecret: SECRET_ENV.WAKEGATE_GITHUB_WEBHOOK_SECRET },
    access: { trustedProxies: 1, authHost: 'auth.review.example.com' }
  })
  t.equal(config.apps.length, 1)
  const [app] = config.apps
  t.match(app, { name: 'app', host: 'pr-{pr}.review.example.com', repo: 'OWNER/REPO', port: 3000, drainTimeout: 300_000 })
  t.same(app.backend, {
    ...app.backend,
    kind: 'ecs',
    cluster: 'wakegate-ReviewCluster-AbC123',
    taskDefinition: 'review-app',
    container: 'app',
    capacityProviderStrategy: [{ capacityProvider: 'wakegate-ReviewCapacity-XyZ789', weight: 1 }]
  })

  const other = parseConfigText(evaluator({ ShutdownGraceSeconds: '90', DrainTimeoutSeconds: '600', ReviewTaskFamilyPrefix: 'pr-' }).ev(starter.Properties.Value), SECRET_ENV, '/', 'starter')
  t.equal(other.proxy.shutdownGrace, 90_000, 'shutdownGrace follows ShutdownGraceSeconds')
  t.equal(other.apps[0].drainTimeout, 600_000, 'drainTimeout follows DrainTimeoutSeconds')
  t.match(other.apps[0].backend, { taskDefinition: 'pr-app' })
})

t.test('outputs', async t => {
  const outputs = ev(template.Outputs) as Record<string, { Value: string }>
  const value = (name: string) => outputs[name]?.Value
  t.equal(value('WebhookUrl'), 'https://hooks.review.example.com/_wakegate/github')
  t.equal(value('DashboardUrl'), 'https://admin.review.example.com/')
  t.equal(value('ExampleReviewUrl'), 'https://pr-1.review.example.com/')
  t.equal(value('SignInCallbackUrl'), 'https://auth.review.example.com/__wakegate/auth/callback')
  t.equal(value('ReviewClusterName'), 'wakegate-ReviewCluster-AbC123')
  t.equal(value('CapacityProviderName'), 'wakegate-ReviewCapacity-XyZ789')
  t.equal(value('ReviewTaskRoleArn'), `att:${ids.reviewTaskRole}.Arn`)
  t.equal(value('ReviewExecutionRoleArn'), `att:${ids.reviewExecutionRole}.Arn`)
  t.equal(value('ConfigParameterName'), '/wakegate/wakegate/config')
  t.equal(evaluator({ ExistingConfigParameter: '/team/wakegate' }).ev(template.Outputs).ConfigParameterName.Value, '/team/wakegate')
  t.equal(value('LoadBalancerDnsName'), `att:${id(stack.gateway.loadBalancer)}.DNSName`)
  for (const name of ['GatewayClusterName', 'GatewayServiceName', 'GatewayTaskFamily', 'GatewaySecurityGroupId', 'GatewayLogGroupName', 'ReviewTasksSecurityGroupId']) t.ok(value(name), name)
})

// ---- The admin target group's keeper ------------------------------------------------------

interface FakeAws {
  tasks: Array<{ lastStatus: string, ip: string }>
  targets: Array<{ ip: string, state: string }>
}

async function runAdminTargets (aws: FakeAws): Promise<{ result: any, calls: Array<[string, any]> }> {
  const calls: Array<[string, any]> = []
  const command = (name: string) => ({ [name]: class { constructor (readonly input: any) { calls.push([name, input]) } } })[name]
  const client = (answers: Record<string, (input: any) => unknown>) => class { async send (cmd: any) { return answers[cmd.constructor.name](cmd.input) } }
  const ecs = {
    ListTasksCommand: command('ListTasksCommand'),
    DescribeTasksCommand: command('DescribeTasksCommand'),
    ECSClient: client({
      ListTasksCommand: () => ({ taskArns: aws.tasks.map((_t, i) => `arn:task/${i}`) }),
      DescribeTasksCommand: (input: any) => ({ tasks: input.tasks.map((arn: string) => aws.tasks[Number(arn.split('/')[1])]).map((task: any) => ({ lastStatus: task.lastStatus, attachments: [{ details: [{ name: 'subnetId', value: 'subnet-1' }, { name: 'privateIPv4Address', value: task.ip }] }] })) })
    })
  }
  const elb = {
    DescribeTargetHealthCommand: command('DescribeTargetHealthCommand'),
    RegisterTargetsCommand: command('RegisterTargetsCommand'),
    DeregisterTargetsCommand: command('DeregisterTargetsCommand'),
    ElasticLoadBalancingV2Client: client({
      DescribeTargetHealthCommand: () => ({ TargetHealthDescriptions: aws.targets.map(x => ({ Target: { Id: x.ip, Port: 9090 }, TargetHealth: { State: x.state } })) }),
      RegisterTargetsCommand: () => ({}),
      DeregisterTargetsCommand: () => ({})
    })
  }
  const modules: Record<string, unknown> = { '@aws-sdk/client-ecs': ecs, '@aws-sdk/client-elastic-load-balancing-v2': elb }
  const exports: { handler?: () => Promise<unknown> } = {}
  const env = { CLUSTER: 'gateway-cluster', SERVICE: 'gateway', TARGET_GROUP: 'arn:tg/admin', PORT: '9090' }
  new Function('require', 'exports', 'process', ADMIN_TARGETS_CODE)((name: string) => modules[name], exports, { env })
  const result = await exports.handler!()
  return { result, calls }
}

t.test('AdminTargets keeps every running gateway task in the admin target group', async t => {
  const fn = Object.values(tpl.findResources('AWS::Lambda::Function'))
  t.equal(fn.length, 1)
  t.equal(fn[0].Properties.Code.ZipFile, ADMIN_TARGETS_CODE, 'the code in the template is the code tested here')
  t.same(ev(fn[0].Properties.Environment.Variables), { CLUSTER: `ref:${id(stack.gateway.cluster)}`, SERVICE: `att:${ids.service}.Name`, TARGET_GROUP: `ref:${ids.adminTargets}`, PORT: '9090' })

  const { result, calls } = await runAdminTargets({
    tasks: [{ lastStatus: 'RUNNING', ip: '10.0.1.5' }, { lastStatus: 'RUNNING', ip: '10.0.2.6' }, { lastStatus: 'PROVISIONING', ip: '10.0.3.7' }],
    targets: [{ ip: '10.0.2.6', state: 'healthy' }, { ip: '10.0.9.9', state: 'unhealthy' }, { ip: '10.0.8.8', state: 'draining' }]
  })
  t.same(result, { registered: ['10.0.1.5'], deregistered: ['10.0.9.9'] })
  t.same(calls.find(c => c[0] === 'ListTasksCommand')![1], { cluster: 'gateway-cluster', serviceName: 'gateway', desiredStatus: 'RUNNING' })
  t.same(calls.find(c => c[0] === 'RegisterTargetsCommand')![1], { TargetGroupArn: 'arn:tg/admin', Targets: [{ Id: '10.0.1.5', Port: 9090 }] })
  t.same(calls.find(c => c[0] === 'DeregisterTargetsCommand')![1], { TargetGroupArn: 'arn:tg/admin', Targets: [{ Id: '10.0.9.9', Port: 9090 }] })

  const idle = await runAdminTargets({ tasks: [], targets: [{ ip: '10.0.2.6', state: 'healthy' }] })
  t.same(idle.result, { registered: [], deregistered: ['10.0.2.6'] })
  t.notOk(idle.calls.some(c => c[0] === 'DescribeTasksCommand'), 'no DescribeTasks without tasks')

  const steady = await runAdminTargets({ tasks: [{ lastStatus: 'RUNNING', ip: '10.0.1.5' }], targets: [{ ip: '10.0.1.5', state: 'unhealthy' }] })
  t.same(steady.result, { registered: [], deregistered: [] }, 'nothing changes when the group is right (a follower is unhealthy there, as it should be)')

  const rules = Object.values(tpl.findResources('AWS::Events::Rule')).map(r => ev(r.Properties))
  t.ok(rules.some(r => r.ScheduleExpression === 'rate(1 minute)'), 'once a minute')
  t.ok(rules.some(r => r.EventPattern?.['detail-type']?.[0] === 'ECS Task State Change' && r.EventPattern.detail.clusterArn[0] === `att:${id(stack.gateway.cluster)}.Arn`), 'and on each task change of the gateway cluster')
})
