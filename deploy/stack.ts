// The wakegate AWS stack: one CloudFormation template that needs no CDK to deploy (no assets,
// no bootstrap, no lookups; everything account-specific is a parameter). `npm run synth`
// writes it to deploy/wakegate.template.json; test/deploy-stack.test.ts checks it is current.
import { App, BootstraplessSynthesizer, CfnOutput, Stack, Validations, type StackProps } from 'aws-cdk-lib'
import type { Construct } from 'constructs'
import { createGateway, type Gateway } from './gateway-service.js'
import { createNetwork, type Network } from './network.js'
import { compactJoins, formatJson } from './compact.js'
import { Parameters } from './parameters.js'
import { createRedis, type Redis } from './redis.js'
import { createReviewCluster, type ReviewCluster } from './review-cluster.js'
import { createConfigParameter, type ConfigParameter } from './starter-config.js'

export const STACK_NAME = 'wakegate'
export const TEMPLATE_FILE = new URL('./wakegate.template.json', import.meta.url)

export class WakegateStack extends Stack {
  readonly params: Parameters
  readonly network: Network
  readonly review: ReviewCluster
  readonly redis: Redis
  readonly config: ConfigParameter
  readonly gateway: Gateway

  constructor (scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props)
    this.templateOptions.description = 'wakegate: a review environment per GitHub pull request, on ECS (docs/deploy-aws.md)'
    const params = this.params = new Parameters(this)
    this.network = createNetwork(this, params)
    this.review = createReviewCluster(this, params, this.network)
    this.redis = createRedis(this, params, this.network)
    this.config = createConfigParameter(this, params, {
      Domain: params.domain.valueAsString,
      RedisHost: this.redis.host,
      RedisPort: this.redis.port,
      ShutdownGrace: params.shutdownGrace.valueAsString,
      AppId: params.githubAppId.valueAsString,
      AppPort: params.appPort.valueAsString,
      DrainTimeout: params.drainTimeout.valueAsString,
      ReviewCluster: this.review.cluster.clusterName,
      FamilyPrefix: params.familyPrefix.valueAsString,
      CapacityProvider: this.review.capacityProvider.capacityProviderName
    })
    this.gateway = createGateway(this, params, this.network, this.review, this.config.parameter)
    this.outputs()
    this.parameterGroups()
    // The two findings of CDK's template validation (reported on the stack as a whole), and why
    // they are not problems.
    Validations.of(this).acknowledge(
      { id: 'CloudFormation-Validate::W1001', reason: 'StarterConfig is referenced only in the branch of an Fn::If taken under its own condition (CreateStarterConfig)' },
      { id: 'CloudFormation-Validate::W2509', reason: 'SecretArn is the ARN of the secret, not a secret: NoEcho would only hide it' }
    )
  }

  private outputs (): void {
    const domain = this.params.domain.valueAsString
    const out = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description })
    out('WebhookUrl', `https://hooks.${domain}/_wakegate/github`, 'Webhook URL of the GitHub App')
    out('SignInCallbackUrl', `https://auth.${domain}/__wakegate/auth/callback`, 'Callback URL of the GitHub App (sign-in)')
    out('DashboardUrl', `https://admin.${domain}/`, 'The dashboard and admin API (bearer token: adminToken)')
    out('ExampleReviewUrl', `https://pr-1.${domain}/`, 'Where the review environment of PR 1 opens')
    out('ConfigParameterName', this.config.parameter.parameterName, 'SSM parameter the gateway reads its configuration from')
    out('ReviewClusterName', this.review.cluster.clusterName, 'ECS cluster of the review tasks (backend.cluster)')
    out('CapacityProviderName', this.review.capacityProvider.capacityProviderName, 'Capacity provider of the review cluster (backend.capacityProviderStrategy)')
    out('ReviewTaskRoleArn', this.review.taskRole.roleArn, 'taskRoleArn of review task definitions')
    out('ReviewExecutionRoleArn', this.review.executionRole.roleArn, 'executionRoleArn of review task definitions')
    out('ReviewTasksSecurityGroupId', this.network.tasksSg.securityGroupId, 'Security group of awsvpc review tasks (backend.networkConfiguration)')
    out('GatewayClusterName', this.gateway.cluster.clusterName, 'ECS cluster of the gateway replicas')
    out('GatewayServiceName', this.gateway.service.serviceName, 'ECS service of the gateway replicas')
    out('GatewayTaskFamily', this.gateway.taskDefinition.family, 'Task definition family of the gateway (wakegate doctor runs as a task of it)')
    out('GatewaySecurityGroupId', this.network.gatewaySg.securityGroupId, 'Security group of the gateway replicas')
    out('GatewayLogGroupName', this.gateway.logGroup.logGroupName, 'CloudWatch log group of the gateway')
    out('LoadBalancerDnsName', this.gateway.loadBalancer.loadBalancerDnsName, 'DNS name of the load balancer (*.<domain> points at it)')
  }

  /** How the CloudFormation console groups the parameters. */
  private parameterGroups (): void {
    const p = this.params
    const group = (label: string, params: Array<{ logicalId: string }>) => ({ Label: { default: label }, Parameters: params.map(x => x.logicalId) })
    this.templateOptions.metadata = {
      'AWS::CloudFormation::Interface': {
        ParameterGroups: [
          group('Network', [p.vpcId, p.publicSubnets, p.privateSubnets]),
          group('Domain', [p.domain, p.hostedZoneId, p.certificateArn]),
          group('GitHub and secrets', [p.githubAppId, p.secretArn]),
          group('Gateway', [p.gatewayImage, p.gatewayReplicas, p.existingConfig, p.drainTimeout, p.shutdownGrace, p.logRetention, p.redisNodeType]),
          group('Review tasks', [...p.instanceTypes, p.useSpot, p.onDemandBase, p.minInstances, p.maxInstances, p.familyPrefix, p.appPort])
        ]
      }
    }
  }
}

/**
 * The app and stack exactly as `npm run synth` builds them (the tests use this too).
 * `validate`: run CDK's built-in template validation at synth (it takes seconds; the output is
 * the same either way).
 */
export function buildStack ({ validate = true }: { validate?: boolean } = {}): { app: App, stack: WakegateStack } {
  const app = new App({
    analyticsReporting: false,
    builtinCloudFormationValidation: validate,
    context: { 'aws:cdk:enable-path-metadata': false, 'aws:cdk:version-reporting': false }
  })
  const stack = new WakegateStack(app, STACK_NAME, { synthesizer: new BootstraplessSynthesizer() })
  return { app, stack }
}

export interface Synthesized {
  /** The cloud assembly's directory (a temporary one unless the CDK CLI set CDK_OUTDIR). */
  directory: string
  /** The template as CDK synthesizes it. */
  raw: any
  /** The same with its Fn::Joins written as Fn::Subs (compact.ts): what is committed. */
  template: any
  /** deploy/wakegate.template.json: `formatJson` (2-space JSON, short values on one line) and a final newline. */
  text: string
}

export function synthesize (app: App, stack: WakegateStack): Synthesized {
  const assembly = app.synth()
  const raw = assembly.getStackByName(stack.stackName).template
  const template = compactJoins(raw)
  return { directory: assembly.directory, raw, template, text: formatJson(template) + '\n' }
}
