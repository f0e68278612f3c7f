// The gateway: wakegate replicas as a Fargate service on a cluster of their own, behind an
// internet-facing Application Load Balancer, with a wildcard DNS record for the review domain.
//
// Its own cluster: the gateway's IAM policy lets it run, stop and list tasks on the review
// cluster only, so it can never touch its own tasks (reconcile stops tasks it does not know).
import { Aws, Duration, Fn, Size, Token } from 'aws-cdk-lib'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as ecs from 'aws-cdk-lib/aws-ecs'
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as logs from 'aws-cdk-lib/aws-logs'
import * as route53 from 'aws-cdk-lib/aws-route53'
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import type * as ssm from 'aws-cdk-lib/aws-ssm'
import type { Construct } from 'constructs'
import { gatewayPolicy, type PolicyScope } from '../src/backends/ecs/iam-policy.js'
import { createAdminTargets } from './admin-targets.js'
import { GATEWAY_PORTS, type Network } from './network.js'
import { SECRET_KEYS, type Parameters } from './parameters.js'
import type { ReviewCluster } from './review-cluster.js'

export const GATEWAY_CONTAINER = 'wakegate'
export const PUBLIC_HEALTH_PATH = '/__wakegate/healthz'
/** The admin listener's liveness route (src/admin/server.ts), answered without the token. */
export const ADMIN_HEALTH_PATH = '/healthz'

export interface Gateway {
  cluster: ecs.Cluster
  service: ecs.FargateService
  taskDefinition: ecs.FargateTaskDefinition
  taskRole: iam.Role
  executionRole: iam.Role
  /** The scope the task role's policy was built for (tokens of this stack). */
  policyScope: PolicyScope
  logGroup: logs.LogGroup
  loadBalancer: elbv2.ApplicationLoadBalancer
  httpsListener: elbv2.ApplicationListener
  publicTargets: elbv2.ApplicationTargetGroup
  adminTargets: elbv2.ApplicationTargetGroup
}

export function createGateway (scope: Construct, params: Parameters, net: Network, review: ReviewCluster, config: ssm.IStringParameter): Gateway {
  const domain = params.domain.valueAsString
  const cluster = new ecs.Cluster(scope, 'GatewayCluster', { vpc: net.vpc })

  const logGroup = new logs.LogGroup(scope, 'GatewayLogs', { retention: params.logRetention.valueAsNumber as logs.RetentionDays })

  // The task role: exactly the README's least-privilege policy, from its one source.
  const policyScope: PolicyScope = {
    partition: Aws.PARTITION,
    region: Aws.REGION,
    account: Aws.ACCOUNT_ID,
    cluster: review.cluster.clusterName,
    family: `${params.familyPrefix.valueAsString}*`,
    passRoles: [review.taskRole.roleArn, review.executionRole.roleArn]
  }
  const ecsTasks = new iam.ServicePrincipal('ecs-tasks.amazonaws.com')
  const taskRole = new iam.Role(scope, 'GatewayTaskRole', {
    assumedBy: ecsTasks,
    description: 'wakegate gateway: runs, watches and stops review tasks',
    inlinePolicies: { 'wakegate-gateway': iam.PolicyDocument.fromJson(gatewayPolicy(policyScope, { perSha: true })) }
  })
  // The execution role reads the secret and the config parameter (granted below by the
  // container's secrets), writes the log group, and pulls the image from this account's ECR.
  const executionRole = new iam.Role(scope, 'GatewayExecutionRole', {
    assumedBy: ecsTasks,
    description: 'wakegate gateway: starts its container (image, logs, secret, config)'
  })
  executionRole.addToPolicy(new iam.PolicyStatement({
    sid: 'PullFromThisAccountsEcr',
    actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
    resources: [`arn:${Aws.PARTITION}:ecr:${Aws.REGION}:${Aws.ACCOUNT_ID}:repository/*`]
  }))
  // GetAuthorizationToken has no resource-level permissions.
  executionRole.addToPolicy(new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }))

  const taskDefinition = new ecs.FargateTaskDefinition(scope, 'GatewayTask', {
    family: Fn.sub('${AWS::StackName}-gateway'),
    cpu: 512,
    memoryLimitMiB: 1024,
    runtimePlatform: { operatingSystemFamily: ecs.OperatingSystemFamily.LINUX, cpuArchitecture: ecs.CpuArchitecture.X86_64 },
    taskRole,
    executionRole
  })
  const secret = secretsmanager.Secret.fromSecretCompleteArn(scope, 'Secret', params.secretArn.valueAsString)
  taskDefinition.addContainer(GATEWAY_CONTAINER, {
    image: ecs.ContainerImage.fromRegistry(params.gatewayImage.valueAsString),
    essential: true,
    portMappings: [
      { containerPort: GATEWAY_PORTS.public, name: 'public' },
      { containerPort: GATEWAY_PORTS.admin, name: 'admin' },
      { containerPort: GATEWAY_PORTS.internal, name: 'internal' }
    ],
    secrets: {
      WAKEGATE_CONFIG_YAML: ecs.Secret.fromSsmParameter(config),
      ...Object.fromEntries(SECRET_KEYS.map(([key, env]) => [env, ecs.Secret.fromSecretsManager(secret, key)]))
    },
    // ECS sends SIGTERM, waits this long, then SIGKILL: proxy.shutdownGrace + 10 s.
    stopTimeout: Duration.seconds(Token.asNumber(params.stopTimeouts.findInMap(params.shutdownGrace.valueAsString, 'StopTimeout'))),
    logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'gateway', mode: ecs.AwsLogDriverMode.NON_BLOCKING, maxBufferSize: Size.mebibytes(25) })
  })

  const service = new ecs.FargateService(scope, 'Gateway', {
    cluster,
    taskDefinition,
    desiredCount: params.gatewayReplicas.valueAsNumber,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    securityGroups: [net.gatewaySg],
    assignPublicIp: false,
    // A rolling deploy starts the new replicas before the old ones stop.
    minHealthyPercent: 100,
    maxHealthyPercent: 200,
    circuitBreaker: { rollback: true },
    healthCheckGracePeriod: Duration.seconds(30)
  })
  const cfnService = service.node.defaultChild as ecs.CfnService
  cfnService.addPropertyOverride('NetworkConfiguration.AwsvpcConfiguration.Subnets', params.privateSubnets.valueAsList)

  const loadBalancer = new elbv2.ApplicationLoadBalancer(scope, 'LoadBalancer', {
    vpc: net.vpc,
    internetFacing: true,
    vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
    securityGroup: net.albSg
  })
  ;(loadBalancer.node.defaultChild as elbv2.CfnLoadBalancer).addPropertyOverride('Subnets', params.publicSubnets.valueAsList)

  const publicTargets = new elbv2.ApplicationTargetGroup(scope, 'PublicTargets', {
    vpc: net.vpc,
    targetType: elbv2.TargetType.IP,
    protocol: elbv2.ApplicationProtocol.HTTP,
    port: GATEWAY_PORTS.public,
    // A replica being replaced keeps its open connections (WebSockets, event streams) this long.
    deregistrationDelay: Duration.seconds(params.drainTimeout.valueAsNumber),
    healthCheck: { path: PUBLIC_HEALTH_PATH, interval: Duration.seconds(10), timeout: Duration.seconds(5), healthyThresholdCount: 2, unhealthyThresholdCount: 3 }
  })
  publicTargets.addTarget(service.loadBalancerTarget({ containerName: GATEWAY_CONTAINER, containerPort: GATEWAY_PORTS.public }))

  // Registered by the AdminTargets function, not by ECS (admin-targets.ts says why); healthy
  // only on the leader.
  const adminTargets = new elbv2.ApplicationTargetGroup(scope, 'AdminTargets', {
    vpc: net.vpc,
    targetType: elbv2.TargetType.IP,
    protocol: elbv2.ApplicationProtocol.HTTP,
    port: GATEWAY_PORTS.admin,
    deregistrationDelay: Duration.seconds(10),
    healthCheck: { path: ADMIN_HEALTH_PATH, interval: Duration.seconds(5), timeout: Duration.seconds(2), healthyThresholdCount: 2, unhealthyThresholdCount: 2 }
  })

  const httpsListener = loadBalancer.addListener('Https', {
    protocol: elbv2.ApplicationProtocol.HTTPS,
    port: 443,
    certificates: [elbv2.ListenerCertificate.fromArn(params.certificateArn.valueAsString)],
    sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
    defaultAction: elbv2.ListenerAction.forward([publicTargets])
  })
  httpsListener.addAction('Admin', {
    priority: 10,
    conditions: [elbv2.ListenerCondition.hostHeaders([`admin.${domain}`])],
    action: elbv2.ListenerAction.forward([adminTargets])
  })
  loadBalancer.addRedirect({ sourceProtocol: elbv2.ApplicationProtocol.HTTP, sourcePort: 80, targetProtocol: elbv2.ApplicationProtocol.HTTPS, targetPort: 443 })

  new route53.CfnRecordSet(scope, 'WildcardRecord', {
    hostedZoneId: params.hostedZoneId.valueAsString,
    name: `*.${domain}`,
    type: 'A',
    aliasTarget: { dnsName: loadBalancer.loadBalancerDnsName, hostedZoneId: loadBalancer.loadBalancerCanonicalHostedZoneId, evaluateTargetHealth: false }
  })

  createAdminTargets(scope, { cluster, service, targetGroup: adminTargets, port: GATEWAY_PORTS.admin, logRetentionDays: params.logRetention.valueAsNumber })

  return { cluster, service, taskDefinition, taskRole, executionRole, policyScope, logGroup, loadBalancer, httpsListener, publicTargets, adminTargets }
}
