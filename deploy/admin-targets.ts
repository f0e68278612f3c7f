// The dashboard host admin.<domain> must reach the admin listener, which only the leading
// replica serves (README "Several replicas"). The load balancer's health check on the admin
// port finds the leader; but if ECS registered the tasks in the admin target group, it would
// replace every replica that is not the leader for failing that check. So ECS registers the
// tasks in the public target group only, and this small function keeps the admin target group
// holding every running gateway task (on each ECS task state change of the gateway cluster,
// and once a minute): the health check then sends admin requests to whichever replica leads.
import { Duration } from 'aws-cdk-lib'
import * as ecs from 'aws-cdk-lib/aws-ecs'
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2'
import * as events from 'aws-cdk-lib/aws-events'
import * as targets from 'aws-cdk-lib/aws-events-targets'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as lambda from 'aws-cdk-lib/aws-lambda'
import * as logs from 'aws-cdk-lib/aws-logs'
import type { Construct } from 'constructs'

/** The function's code (Node.js, CommonJS, the AWS SDK of the Lambda runtime), inline in the template. */
export const ADMIN_TARGETS_CODE = `// wakegate: keep the running gateway tasks registered in the admin target group.
const ecs = require('@aws-sdk/client-ecs')
const elb = require('@aws-sdk/client-elastic-load-balancing-v2')
const ecsClient = new ecs.ECSClient({})
const elbClient = new elb.ElasticLoadBalancingV2Client({})
exports.handler = async () => {
  const { CLUSTER, SERVICE, TARGET_GROUP } = process.env
  const Port = Number(process.env.PORT)
  const arns = (await ecsClient.send(new ecs.ListTasksCommand({ cluster: CLUSTER, serviceName: SERVICE, desiredStatus: 'RUNNING' }))).taskArns || []
  const tasks = arns.length ? (await ecsClient.send(new ecs.DescribeTasksCommand({ cluster: CLUSTER, tasks: arns }))).tasks || [] : []
  const want = new Set()
  for (const t of tasks) {
    if (t.lastStatus !== 'RUNNING') continue
    for (const a of t.attachments || []) for (const d of a.details || []) if (d.name === 'privateIPv4Address') want.add(d.value)
  }
  const health = await elbClient.send(new elb.DescribeTargetHealthCommand({ TargetGroupArn: TARGET_GROUP }))
  const have = new Set((health.TargetHealthDescriptions || []).filter(d => !d.TargetHealth || d.TargetHealth.State !== 'draining').map(d => d.Target.Id))
  const add = [...want].filter(ip => !have.has(ip)).map(Id => ({ Id, Port }))
  const remove = [...have].filter(ip => !want.has(ip)).map(Id => ({ Id, Port }))
  if (add.length) await elbClient.send(new elb.RegisterTargetsCommand({ TargetGroupArn: TARGET_GROUP, Targets: add }))
  if (remove.length) await elbClient.send(new elb.DeregisterTargetsCommand({ TargetGroupArn: TARGET_GROUP, Targets: remove }))
  return { registered: add.map(t => t.Id), deregistered: remove.map(t => t.Id) }
}
`

export interface AdminTargetsProps {
  cluster: ecs.Cluster
  service: ecs.FargateService
  targetGroup: elbv2.ApplicationTargetGroup
  port: number
  /** Retention of the function's log group, in days. */
  logRetentionDays: number
}

export function createAdminTargets (scope: Construct, props: AdminTargetsProps): lambda.Function {
  const fn = new lambda.Function(scope, 'AdminTargetsFunction', {
    description: 'wakegate: keeps the running gateway tasks registered in the admin target group',
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline(ADMIN_TARGETS_CODE),
    timeout: Duration.seconds(30),
    memorySize: 128,
    logGroup: new logs.LogGroup(scope, 'AdminTargetsLogs', { retention: props.logRetentionDays as logs.RetentionDays }),
    environment: {
      CLUSTER: props.cluster.clusterName,
      SERVICE: props.service.serviceName,
      TARGET_GROUP: props.targetGroup.targetGroupArn,
      PORT: String(props.port)
    }
  })
  fn.addToRolePolicy(new iam.PolicyStatement({
    sid: 'ListGatewayTasks',
    actions: ['ecs:ListTasks'],
    resources: ['*'],
    conditions: { ArnEquals: { 'ecs:cluster': props.cluster.clusterArn } }
  }))
  fn.addToRolePolicy(new iam.PolicyStatement({
    sid: 'DescribeGatewayTasks',
    actions: ['ecs:DescribeTasks'],
    resources: [props.cluster.arnForTasks('*')]
  }))
  // DescribeTargetHealth has no resource-level permissions.
  fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadAdminTargets', actions: ['elasticloadbalancing:DescribeTargetHealth'], resources: ['*'] }))
  fn.addToRolePolicy(new iam.PolicyStatement({
    sid: 'ChangeAdminTargets',
    actions: ['elasticloadbalancing:RegisterTargets', 'elasticloadbalancing:DeregisterTargets'],
    resources: [props.targetGroup.targetGroupArn]
  }))

  new events.Rule(scope, 'AdminTargetsOnTaskChange', {
    description: 'wakegate: a gateway task started or stopped',
    eventPattern: { source: ['aws.ecs'], detailType: ['ECS Task State Change'], detail: { clusterArn: [props.cluster.clusterArn] } },
    targets: [new targets.LambdaFunction(fn)]
  })
  new events.Rule(scope, 'AdminTargetsEveryMinute', {
    description: 'wakegate: the admin target group, checked once a minute',
    schedule: events.Schedule.rate(Duration.minutes(1)),
    targets: [new targets.LambdaFunction(fn)]
  })
  return fn
}
