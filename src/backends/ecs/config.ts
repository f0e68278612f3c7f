// The ecs backend's resolved settings, and the AWS SDK clients built from them.
import { ECSClient } from '@aws-sdk/client-ecs'
import { EC2Client } from '@aws-sdk/client-ec2'
import type { AppConfig } from '../../config/load.js'

export type EcsConfig = Extract<AppConfig['backend'], { kind: 'ecs' }>

/** Tag keys that mark a task as wakegate's and name its env. */
export const TAG = {
  app: 'wakegate:app',
  pr: 'wakegate:pr',
  sha: 'wakegate:sha',
  generation: 'wakegate:generation'
} as const

export interface AwsClients { ecs: ECSClient, ec2: EC2Client }

/**
 * Region and credentials come from the default provider chain unless the config names a
 * region. Retries are the SDK's own: `maxAttempts` attempts with exponential backoff and
 * full jitter for throttling, 5xx and network errors (retry mode "standard", or whatever
 * AWS_RETRY_MODE / the profile's retry_mode says, e.g. "adaptive"). Nothing is retried on
 * top of that, so access denied or a missing cluster costs exactly one call.
 */
export function createClients (cfg: EcsConfig): AwsClients {
  const common = {
    region: cfg.region,
    maxAttempts: cfg.maxAttempts,
    // A hung connection must not hold a wake until its start timeout.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 20_000 }
  }
  return {
    ecs: new ECSClient({ ...common, endpoint: cfg.endpoint }),
    // One endpoint for both (LocalStack, the test fake) unless EC2 has its own.
    ec2: new EC2Client({ ...common, endpoint: cfg.ec2Endpoint ?? cfg.endpoint })
  }
}
