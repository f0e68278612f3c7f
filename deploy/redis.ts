// The Redis the gateway replicas share (README "Several replicas"): ElastiCache, one primary
// and one replica in two Availability Zones with automatic failover, TLS in transit. Only the
// gateway's security group reaches it. The store needs one primary (no cluster mode).
import * as elasticache from 'aws-cdk-lib/aws-elasticache'
import type { Construct } from 'constructs'
import type { Network } from './network.js'
import type { Parameters } from './parameters.js'

export interface Redis {
  replicationGroup: elasticache.CfnReplicationGroup
  /** The primary endpoint's host name and port (they follow a failover). */
  host: string
  port: string
}

export function createRedis (scope: Construct, params: Parameters, net: Network): Redis {
  const subnetGroup = new elasticache.CfnSubnetGroup(scope, 'RedisSubnets', {
    description: 'wakegate Redis: the private subnets',
    subnetIds: params.privateSubnets.valueAsList
  })
  const replicationGroup = new elasticache.CfnReplicationGroup(scope, 'Redis', {
    replicationGroupDescription: 'wakegate: envs, leader lease and events shared by the gateway replicas',
    engine: 'redis',
    engineVersion: '7.1',
    cacheNodeType: params.redisNodeType.valueAsString,
    numCacheClusters: 2,
    automaticFailoverEnabled: true,
    multiAzEnabled: true,
    transitEncryptionEnabled: true,
    atRestEncryptionEnabled: true,
    port: 6379,
    cacheSubnetGroupName: subnetGroup.ref,
    securityGroupIds: [net.redisSg.securityGroupId]
  })
  return {
    replicationGroup,
    host: replicationGroup.attrPrimaryEndPointAddress,
    port: replicationGroup.attrPrimaryEndPointPort
  }
}
