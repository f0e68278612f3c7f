// The stack's CloudFormation parameters: everything that differs between one AWS account and
// another. Secrets are never parameters: they come from one Secrets Manager secret (SecretArn).
import { CfnCondition, CfnMapping, CfnParameter, Fn, type Stack } from 'aws-cdk-lib'

/** The retention periods CloudWatch Logs accepts (AWS::Logs::LogGroup RetentionInDays). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]

/** JSON keys of the secret, and the environment variable of the gateway container each one fills. */
export const SECRET_KEYS: ReadonlyArray<readonly [jsonKey: string, envVar: string]> = [
  ['webhookSecret', 'WAKEGATE_GITHUB_WEBHOOK_SECRET'],
  ['privateKey', 'WAKEGATE_GITHUB_PRIVATE_KEY'],
  ['sessionKey', 'WAKEGATE_SESSION_KEY'],
  ['clientId', 'WAKEGATE_GITHUB_CLIENT_ID'],
  ['clientSecret', 'WAKEGATE_GITHUB_CLIENT_SECRET'],
  ['adminToken', 'WAKEGATE_ADMIN_TOKEN']
]

/**
 * Shutdown grace → the container's stop timeout: ECS sends SIGKILL after the stop timeout,
 * and after the grace wakegate still closes connections, hands a leader's lease over and
 * closes Redis, so the kill comes 10 s after the grace.
 */
export const STOP_TIMEOUT_OF_GRACE: Record<string, number> = { 10: 20, 20: 30, 30: 40, 45: 55, 60: 70, 90: 100, 110: 120 }

const INSTANCE_TYPE = '[a-z][a-z0-9-]*\\.[a-z0-9]+'

export class Parameters {
  readonly vpcId: CfnParameter
  readonly publicSubnets: CfnParameter
  readonly privateSubnets: CfnParameter
  readonly domain: CfnParameter
  readonly hostedZoneId: CfnParameter
  readonly certificateArn: CfnParameter
  readonly githubAppId: CfnParameter
  readonly secretArn: CfnParameter
  readonly gatewayImage: CfnParameter
  readonly gatewayReplicas: CfnParameter
  readonly existingConfig: CfnParameter
  readonly instanceTypes: [CfnParameter, CfnParameter, CfnParameter]
  readonly useSpot: CfnParameter
  readonly onDemandBase: CfnParameter
  readonly minInstances: CfnParameter
  readonly maxInstances: CfnParameter
  readonly familyPrefix: CfnParameter
  readonly appPort: CfnParameter
  readonly redisNodeType: CfnParameter
  readonly logRetention: CfnParameter
  readonly drainTimeout: CfnParameter
  readonly shutdownGrace: CfnParameter
  readonly stopTimeouts: CfnMapping

  /** UseSpot is "true": instances above the on-demand base are Spot. */
  readonly spotCondition: CfnCondition
  /** ExistingConfigParameter is empty: the stack writes the starter config and the gateway reads it. */
  readonly starterConfigCondition: CfnCondition
  /** The optional second and third instance types are set. */
  readonly instanceTypeConditions: [CfnCondition, CfnCondition]

  constructor (stack: Stack) {
    const p = (id: string, props: ConstructorParameters<typeof CfnParameter>[2]) => new CfnParameter(stack, id, props)

    this.vpcId = p('VpcId', { type: 'AWS::EC2::VPC::Id', description: 'The VPC everything runs in.' })
    this.publicSubnets = p('PublicSubnetIds', {
      type: 'List<AWS::EC2::Subnet::Id>',
      description: 'Public subnets (two or more Availability Zones) for the internet-facing load balancer.'
    })
    this.privateSubnets = p('PrivateSubnetIds', {
      type: 'List<AWS::EC2::Subnet::Id>',
      description: 'Private subnets (two or more Availability Zones) with a route to the internet (NAT) for the gateway, the review instances and Redis.'
    })
    this.domain = p('ReviewDomain', {
      type: 'String',
      description: 'Lowercase domain of the review environments, e.g. review.example.com: pr-N.<domain>, webhooks at hooks.<domain>, sign-in at auth.<domain>, the dashboard at admin.<domain>.',
      allowedPattern: '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$',
      constraintDescription: 'a lowercase domain name such as review.example.com'
    })
    this.hostedZoneId = p('HostedZoneId', {
      type: 'AWS::Route53::HostedZone::Id',
      description: 'Route 53 hosted zone holding the domain (the zone of review.example.com or example.com): the stack adds *.<domain>.'
    })
    this.certificateArn = p('CertificateArn', {
      type: 'String',
      description: 'ARN of an ACM certificate for *.<domain>, issued in this stack\'s region.',
      allowedPattern: '^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$',
      constraintDescription: 'an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)'
    })
    this.githubAppId = p('GitHubAppId', {
      type: 'String',
      description: 'The GitHub App\'s numeric App ID (its settings page, "About").',
      allowedPattern: '^[1-9][0-9]*$',
      constraintDescription: 'a number'
    })
    this.secretArn = p('SecretArn', {
      type: 'String',
      description: 'Full ARN (ending in -XXXXXX) of the Secrets Manager secret with the JSON keys webhookSecret, privateKey, sessionKey, clientId, clientSecret, adminToken (default aws/secretsmanager key).',
      allowedPattern: '^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$',
      constraintDescription: 'the full secret ARN as `aws secretsmanager create-secret` prints it'
    })
    this.gatewayImage = p('GatewayImage', {
      type: 'String',
      description: 'wakegate image (linux/amd64), e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/wakegate:0.1.0; a new one rolls the replicas.',
      allowedPattern: '^[^\\s]+$',
      minLength: 1,
      constraintDescription: 'an image reference without spaces'
    })
    this.gatewayReplicas = p('GatewayReplicas', {
      type: 'Number',
      default: 2,
      minValue: 2,
      maxValue: 10,
      description: 'Gateway replicas (at least 2, sharing state through Redis): a deploy or a lost task never takes every environment down.'
    })
    this.existingConfig = p('ExistingConfigParameter', {
      type: 'String',
      default: '',
      description: 'Empty: the stack writes a starter config to /wakegate/<stack name>/config and the gateway reads it. Or the name (starting with /) of your own SSM String parameter holding the config: the gateway reads that.',
      allowedPattern: '^((/[A-Za-z0-9_.-]+)+)?$',
      constraintDescription: 'empty, or a parameter name such as /wakegate/config'
    })
    const types = ['m6i.large', 'm5.large', 'm6a.large']
    this.instanceTypes = [1, 2, 3].map(n => p(`ReviewInstanceType${n}`, {
      type: 'String',
      default: types[n - 1],
      description: n === 1
        ? 'Instance type for the review tasks (x86_64). The capacity provider launches this type or the two below.'
        : `Another x86_64 instance type the Auto Scaling group may launch, of the same size as the first (more types: more Spot pools), or empty.`,
      allowedPattern: n === 1 ? `^${INSTANCE_TYPE}$` : `^(${INSTANCE_TYPE})?$`,
      constraintDescription: 'an EC2 instance type such as m6i.large'
    })) as [CfnParameter, CfnParameter, CfnParameter]
    this.useSpot = p('UseSpot', {
      type: 'String',
      default: 'true',
      allowedValues: ['true', 'false'],
      description: 'true: review instances above the on-demand base are Spot (price-capacity-optimized); false: all on-demand.'
    })
    this.onDemandBase = p('OnDemandBaseCapacity', {
      type: 'Number',
      default: 0,
      minValue: 0,
      description: 'Review instances that are always on-demand before any Spot instance is launched.'
    })
    this.minInstances = p('ReviewMinInstances', {
      type: 'Number',
      default: 0,
      minValue: 0,
      description: 'Review instances kept running without tasks (0: a wake after a quiet time waits for an instance to boot).'
    })
    this.maxInstances = p('ReviewMaxInstances', {
      type: 'Number',
      default: 10,
      minValue: 1,
      description: 'Most review instances the capacity provider may run.'
    })
    this.familyPrefix = p('ReviewTaskFamilyPrefix', {
      type: 'String',
      default: 'review-',
      description: 'The gateway may run (and register revisions of) task definition families with this prefix, no others.',
      allowedPattern: '^[A-Za-z0-9_-]{1,200}$',
      constraintDescription: 'letters, digits, - and _'
    })
    this.appPort = p('ReviewAppPort', {
      type: 'Number',
      default: 3000,
      minValue: 1,
      maxValue: 65535,
      description: 'Port the example app listens on; the awsvpc tasks security group lets the gateway in on it.'
    })
    this.redisNodeType = p('RedisNodeType', {
      type: 'String',
      default: 'cache.t4g.micro',
      description: 'ElastiCache node type of the Redis the replicas share (a primary and a replica).',
      allowedPattern: '^cache\\.[a-z0-9-]+\\.[a-z0-9]+$',
      constraintDescription: 'an ElastiCache node type such as cache.t4g.micro'
    })
    this.logRetention = p('LogRetentionDays', {
      type: 'Number',
      default: 30,
      allowedValues: LOG_RETENTION_DAYS.map(String),
      description: 'Days the gateway\'s logs are kept in CloudWatch Logs.'
    })
    this.drainTimeout = p('DrainTimeoutSeconds', {
      type: 'Number',
      default: 300,
      minValue: 0,
      maxValue: 3600,
      description: 'Seconds open connections (WebSockets) keep going through a replica being replaced (deregistration delay); the example app\'s drainTimeout.'
    })
    this.shutdownGrace = p('ShutdownGraceSeconds', {
      type: 'Number',
      default: 30,
      allowedValues: Object.keys(STOP_TIMEOUT_OF_GRACE),
      description: 'Seconds a stopping replica gives requests in flight (proxy.shutdownGrace); the container\'s stopTimeout is 10 s longer, for the hand-over that follows (Fargate allows at most 120).'
    })
    // CloudFormation has no arithmetic: the stop timeout of each grace is looked up.
    this.stopTimeouts = new CfnMapping(stack, 'StopTimeoutOfGrace', {
      mapping: Object.fromEntries(Object.entries(STOP_TIMEOUT_OF_GRACE).map(([grace, stop]) => [grace, { StopTimeout: stop }]))
    })

    this.spotCondition = new CfnCondition(stack, 'SpotAboveBase', { expression: Fn.conditionEquals(this.useSpot.valueAsString, 'true') })
    this.starterConfigCondition = new CfnCondition(stack, 'CreateStarterConfig', { expression: Fn.conditionEquals(this.existingConfig.valueAsString, '') })
    this.instanceTypeConditions = [1, 2].map(i => new CfnCondition(stack, `HasReviewInstanceType${i + 1}`, {
      expression: Fn.conditionNot(Fn.conditionEquals(this.instanceTypes[i].valueAsString, ''))
    })) as [CfnCondition, CfnCondition]
  }
}
