// The gateway's configuration lives in one SSM String parameter and reaches the container as
// WAKEGATE_CONFIG_YAML (src/cli.ts reads it). With ExistingConfigParameter empty the stack
// writes a starter there, built from the stack's parameters and resources; with a name, the
// gateway reads that parameter instead and the stack writes nothing (so a stack update never
// overwrites a config someone edited: see docs/deploy-aws.md).
import { Fn } from 'aws-cdk-lib'
import * as ssm from 'aws-cdk-lib/aws-ssm'
import type { Construct } from 'constructs'
import { GATEWAY_PORTS } from './network.js'
import type { Parameters } from './parameters.js'

/**
 * The starter, as the body of an Fn::Sub: `${Name}` are filled from STARTER_VARIABLES (and
 * `${AWS::StackName}`), `${!VAR}` come out as `${VAR}`, which wakegate fills from the
 * container's environment (the secrets).
 */
export const STARTER_CONFIG = `# wakegate configuration: the starter of the stack \${AWS::StackName}.
# Replace the example app with yours (docs/deploy-aws.md). Secrets come from the
# environment (Secrets Manager), never from this file.
listen: { host: 0.0.0.0, port: ${GATEWAY_PORTS.public} }
public: { scheme: https }
admin:
  host: 0.0.0.0
  port: ${GATEWAY_PORTS.admin}
  token: "\${!WAKEGATE_ADMIN_TOKEN}"
  publicUrl: "https://admin.\${Domain}"
store:
  kind: redis
  url: "rediss://\${RedisHost}:\${RedisPort}"
  internalPort: ${GATEWAY_PORTS.internal}
proxy:
  xForwarded: append
  shutdownGrace: \${ShutdownGrace}s
access:
  trustedProxies: 1
  authHost: "auth.\${Domain}"
  sessionKey: "\${!WAKEGATE_SESSION_KEY}"
  github:
    clientId: "\${!WAKEGATE_GITHUB_CLIENT_ID}"
    clientSecret: "\${!WAKEGATE_GITHUB_CLIENT_SECRET}"
  default:
    github: { permission: read }
github:
  auth:
    appId: \${AppId}
    privateKey: "\${!WAKEGATE_GITHUB_PRIVATE_KEY}"
  webhookSecret: "\${!WAKEGATE_GITHUB_WEBHOOK_SECRET}"
  webhookHost: "hooks.\${Domain}"
apps:
  - name: app
    host: "pr-{pr}.\${Domain}"
    repo: OWNER/REPO
    port: \${AppPort}
    startTimeout: 10m
    drainTimeout: \${DrainTimeout}s
    backend:
      kind: ecs
      cluster: "\${ReviewCluster}"
      taskDefinition: "\${FamilyPrefix}app"
      container: app
      capacityProviderStrategy:
        - { capacityProvider: "\${CapacityProvider}", weight: 1 }
`

/** The names STARTER_CONFIG substitutes. */
export const STARTER_VARIABLES = ['Domain', 'RedisHost', 'RedisPort', 'ShutdownGrace', 'AppId', 'AppPort', 'DrainTimeout', 'ReviewCluster', 'FamilyPrefix', 'CapacityProvider'] as const

export interface ConfigParameter {
  /** The starter parameter (created only under the CreateStarterConfig condition). */
  starter: ssm.CfnParameter
  /** The parameter the gateway reads: the starter, or the one ExistingConfigParameter names. */
  parameter: ssm.IStringParameter
}

export function createConfigParameter (scope: Construct, params: Parameters, values: Record<typeof STARTER_VARIABLES[number], string>): ConfigParameter {
  const starter = new ssm.CfnParameter(scope, 'StarterConfig', {
    name: Fn.sub('/wakegate/${AWS::StackName}/config'),
    type: 'String',
    tier: 'Standard',
    description: 'wakegate starter configuration (read by the gateway as WAKEGATE_CONFIG_YAML)',
    value: Fn.sub(STARTER_CONFIG, values)
  })
  starter.cfnOptions.condition = params.starterConfigCondition
  // Ref of the starter (its name) inside the If makes the gateway wait for it.
  const name = Fn.conditionIf(params.starterConfigCondition.logicalId, starter.ref, params.existingConfig.valueAsString).toString()
  // Both names start with "/": the ARN is arn:…:parameter/NAME.
  const parameter = ssm.StringParameter.fromStringParameterAttributes(scope, 'Config', { parameterName: name, simpleName: false })
  return { starter, parameter }
}
