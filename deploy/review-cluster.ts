// The review cluster: where each pull request's task runs. EC2 instances from an Auto Scaling
// group (On-Demand base plus Spot above it, several instance types), scaled by an ECS capacity
// provider from zero to ReviewMaxInstances; and the two roles review task definitions use.
import { CfnParameter, Fn, Stack } from 'aws-cdk-lib'
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as ecs from 'aws-cdk-lib/aws-ecs'
import * as iam from 'aws-cdk-lib/aws-iam'
import type { Construct } from 'constructs'
import type { Network } from './network.js'
import type { Parameters } from './parameters.js'

export interface ReviewCluster {
  cluster: ecs.Cluster
  capacityProvider: ecs.AsgCapacityProvider
  autoScalingGroup: autoscaling.AutoScalingGroup
  instanceRole: iam.Role
  taskRole: iam.Role
  executionRole: iam.Role
}

export function createReviewCluster (scope: Construct, params: Parameters, net: Network): ReviewCluster {
  const cluster = new ecs.Cluster(scope, 'ReviewCluster', { vpc: net.vpc })

  // Exactly the managed policy for the ECS agent. `withoutPolicyUpdates` keeps CDK from adding
  // an inline copy of the same permissions (some of them on "*") when the capacity provider is
  // attached below.
  const instanceRole = new iam.Role(scope, 'ReviewInstanceRole', {
    assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
    managedPolicies: [
      iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonEC2ContainerServiceforEC2Role'),
      iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')
    ]
  })

  // The AMI comes from AWS's public SSM parameter, read at deploy time: give that template
  // parameter a readable name.
  const machineImage = ecs.EcsOptimizedImage.amazonLinux2023()
  machineImage.getImage(scope)
  for (const c of Stack.of(scope).node.findAll()) {
    if (c instanceof CfnParameter && c.type === 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>') {
      c.overrideLogicalId('ReviewInstanceAmi')
      c.description = 'ECS-optimized Amazon Linux 2023 AMI of the review instances (x86_64): the public SSM parameter, read at each deploy.'
    }
  }

  const userData = ec2.UserData.forLinux()
  userData.addCommands(
    // A Spot interruption notice drains the instance: its tasks stop, and the next request of
    // their environments wakes them on another instance.
    'echo ECS_ENABLE_SPOT_INSTANCE_DRAINING=true >> /etc/ecs/ecs.config',
    // awsvpc review tasks do not reach the instance metadata either (bridge ones: the hop limit below).
    'echo ECS_AWSVPC_BLOCK_IMDS=true >> /etc/ecs/ecs.config'
  )
  const launchTemplate = new ec2.LaunchTemplate(scope, 'ReviewLaunchTemplate', {
    machineImage,
    userData,
    role: instanceRole.withoutPolicyUpdates(),
    securityGroup: net.instancesSg,
    // IMDSv2 with one hop: the ECS agent (host network) reaches the instance metadata, the
    // bridge-networked review containers do not, so PR code never gets the instance role.
    requireImdsv2: true,
    httpPutResponseHopLimit: 1
  })

  const autoScalingGroup = new autoscaling.AutoScalingGroup(scope, 'ReviewInstances', {
    vpc: net.vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    minCapacity: params.minInstances.valueAsNumber,
    maxCapacity: params.maxInstances.valueAsNumber,
    // Managed termination protection: the capacity provider scales in only empty instances.
    newInstancesProtectedFromScaleIn: true,
    mixedInstancesPolicy: {
      launchTemplate,
      instancesDistribution: {
        onDemandBaseCapacity: params.onDemandBase.valueAsNumber,
        onDemandPercentageAboveBaseCapacity: 0, // replaced below: 0 with Spot, 100 without
        spotAllocationStrategy: autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED
      },
      launchTemplateOverrides: [{ instanceType: new ec2.InstanceType(params.instanceTypes[0].valueAsString) }]
    }
  })
  const cfnAsg = autoScalingGroup.node.defaultChild as autoscaling.CfnAutoScalingGroup
  cfnAsg.addPropertyOverride('VPCZoneIdentifier', params.privateSubnets.valueAsList)
  cfnAsg.addPropertyOverride('MixedInstancesPolicy.InstancesDistribution.OnDemandPercentageAboveBaseCapacity',
    Fn.conditionIf(params.spotCondition.logicalId, 0, 100))
  // Up to three instance types: the second and third are left out when their parameter is empty.
  const [type1, type2, type3] = params.instanceTypes
  const [has2, has3] = params.instanceTypeConditions
  cfnAsg.addPropertyOverride('MixedInstancesPolicy.LaunchTemplate.Overrides', [
    { InstanceType: type1.valueAsString },
    Fn.conditionIf(has2.logicalId, { InstanceType: type2.valueAsString }, Fn.ref('AWS::NoValue')),
    Fn.conditionIf(has3.logicalId, { InstanceType: type3.valueAsString }, Fn.ref('AWS::NoValue'))
  ])

  const capacityProvider = new ecs.AsgCapacityProvider(scope, 'ReviewCapacity', {
    autoScalingGroup,
    enableManagedScaling: true,
    enableManagedTerminationProtection: true,
    enableManagedDraining: true,
    targetCapacityPercent: 100
  })
  cluster.addAsgCapacityProvider(capacityProvider)
  cluster.addDefaultCapacityProviderStrategy([{ capacityProvider: capacityProvider.capacityProviderName, weight: 1 }])

  // Review task definitions run with these (the gateway may pass exactly these two).
  const ecsTasks = new iam.ServicePrincipal('ecs-tasks.amazonaws.com')
  const taskRole = new iam.Role(scope, 'ReviewTaskRole', {
    assumedBy: ecsTasks,
    description: 'Task role of wakegate review task definitions: attach what your app needs'
  })
  const executionRole = new iam.Role(scope, 'ReviewExecutionRole', {
    assumedBy: ecsTasks,
    description: 'Execution role of wakegate review task definitions (image pulls, logs)',
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonECSTaskExecutionRolePolicy')]
  })

  return { cluster, capacityProvider, autoScalingGroup, instanceRole, taskRole, executionRole }
}
