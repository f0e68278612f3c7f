// The VPC (imported from parameters) and the security groups between the load balancer, the
// gateway replicas, the review instances and tasks, and Redis.
//
// Subnets are List parameters, whose length is unknown until deploy time, while the L2
// constructs want concrete subnets to choose from. So the imported VPC carries one placeholder
// subnet of each kind, and every resource that names subnets gets the parameter instead
// through an escape hatch (the load balancer's Subnets, the Auto Scaling group's
// VPCZoneIdentifier, the service's awsvpc Subnets); the stack test checks none is left.
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import type { Construct } from 'constructs'
import type { Parameters } from './parameters.js'

export const PLACEHOLDER = 'placeholder-replaced-by-a-parameter'

/** Ports of the gateway container. */
export const GATEWAY_PORTS = {
  /** The public listener: env hosts, webhooks, sign-in. */
  public: 8080,
  /** The admin listener (dashboard, API, /metrics): served by the leading replica only. */
  admin: 9090,
  /** The leader's internal listener: the other replicas pass it webhooks and gateway pages. */
  internal: 8081
} as const

/** Bridge-networked review tasks are published on the ECS-optimized AMI's ephemeral host ports. */
export const EPHEMERAL_PORTS = { from: 32768, to: 65535 } as const

export interface Network {
  vpc: ec2.IVpc
  albSg: ec2.SecurityGroup
  gatewaySg: ec2.SecurityGroup
  instancesSg: ec2.SecurityGroup
  tasksSg: ec2.SecurityGroup
  redisSg: ec2.SecurityGroup
}

export function createNetwork (scope: Construct, params: Parameters): Network {
  const vpc = ec2.Vpc.fromVpcAttributes(scope, 'Vpc', {
    vpcId: params.vpcId.valueAsString,
    availabilityZones: [PLACEHOLDER],
    publicSubnetIds: [PLACEHOLDER],
    publicSubnetRouteTableIds: [PLACEHOLDER],
    privateSubnetIds: [PLACEHOLDER],
    privateSubnetRouteTableIds: [PLACEHOLDER]
  })
  // Outbound: open (the CDK default) for all of them.
  const sg = (id: string, description: string) => new ec2.SecurityGroup(scope, id, { vpc, description })

  // The public entry: HTTPS from anywhere (and HTTP, redirected).
  const albSg = sg('LoadBalancerSecurityGroup', 'wakegate load balancer: HTTPS and HTTP from anywhere')
  const gatewaySg = sg('GatewaySecurityGroup', 'wakegate gateway replicas: the load balancer only, and each other')
  const instancesSg = sg('ReviewInstancesSecurityGroup', 'wakegate review instances: the gateway only, on the ephemeral host ports')
  const tasksSg = sg('ReviewTasksSecurityGroup', 'wakegate awsvpc review tasks: the gateway only, on the app port')
  const redisSg = sg('RedisSecurityGroup', 'wakegate Redis: the gateway only')

  gatewaySg.addIngressRule(albSg, ec2.Port.tcp(GATEWAY_PORTS.public), 'the load balancer to the public listener')
  gatewaySg.addIngressRule(albSg, ec2.Port.tcp(GATEWAY_PORTS.admin), 'the load balancer to the admin listener (the leader)')
  gatewaySg.addIngressRule(gatewaySg, ec2.Port.tcp(GATEWAY_PORTS.internal), 'replicas to the leader\'s internal listener')
  instancesSg.addIngressRule(gatewaySg, ec2.Port.tcpRange(EPHEMERAL_PORTS.from, EPHEMERAL_PORTS.to), 'the gateway to bridge-networked review tasks')
  tasksSg.addIngressRule(gatewaySg, ec2.Port.tcp(params.appPort.valueAsNumber), 'the gateway to awsvpc review tasks')
  redisSg.addIngressRule(gatewaySg, ec2.Port.tcp(6379), 'the gateway replicas')

  return { vpc, albSg, gatewaySg, instancesSg, tasksSg, redisSg }
}
