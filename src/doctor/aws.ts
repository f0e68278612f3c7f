// AWS as the gateway will see it, once per distinct region/endpoint of the ecs apps: the
// region is known, credentials resolve from the default provider chain, and STS says whose
// they are. STS not answering is only a warning: a VPC without an STS endpoint runs the
// gateway fine, since it never calls STS itself.
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import type { AppConfig } from '../config/load.js'
import { createClients, type AwsClients, type EcsConfig } from '../backends/ecs/config.js'
import { attempt } from './aws-call.js'
import { check, message, withTimeout, type Check } from './check.js'

/** Apps sharing SDK clients: the same region and endpoints. */
export interface AwsGroup {
  /** `us-east-1`, or `us-east-1#2` when two groups share a region (different endpoints). */
  name: string
  /** The endpoint override, if any (LocalStack, a VPC endpoint). */
  endpoint?: string
  cfg: EcsConfig
  apps: Array<{ app: AppConfig, cfg: EcsConfig }>
  clients: AwsClients
  /** Set by identityChecks: region and credentials resolved (the app checks can run). */
  usable: boolean
  /** Who STS says the credentials are, when it answered. */
  identity?: { account: string, arn: string, partition: string }
}

// Two attempts: a lost packet is retried, a refusal (IAM, validation) is reported at once.
const MAX_ATTEMPTS = 2
// The instance metadata service or a container credentials endpoint can be slow to answer.
const CREDENTIALS_TIMEOUT = 15_000

export function awsGroups (apps: AppConfig[]): AwsGroup[] {
  const groups = new Map<string, AwsGroup>()
  for (const app of apps) {
    const cfg = app.backend
    if (cfg.kind !== 'ecs') continue
    const key = JSON.stringify([cfg.region ?? '', cfg.endpoint ?? '', cfg.ec2Endpoint ?? cfg.endpoint ?? ''])
    let g = groups.get(key)
    if (!g) {
      const region = cfg.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'default-region'
      const same = [...groups.values()].filter(x => x.name.split('#')[0] === region).length
      g = {
        name: same ? `${region}#${same + 1}` : region,
        endpoint: cfg.endpoint,
        cfg,
        apps: [],
        clients: createClients({ ...cfg, maxAttempts: MAX_ATTEMPTS }),
        usable: false
      }
      groups.set(key, g)
    }
    g.apps.push({ app, cfg })
  }
  return [...groups.values()]
}

/** Region, credentials and the principal of one group; sets group.usable and group.identity. */
export async function identityChecks (g: AwsGroup): Promise<Check[]> {
  const id = (s: string) => `aws.${g.name}.${s}`
  const title = (s: string) => `AWS ${s} (${g.name})`
  const out: Check[] = []

  let region: string
  try {
    region = await g.clients.ecs.config.region()
    out.push(check(id('region'), title('region'), 'ok', `${region}${g.cfg.region ? '' : ' (from the environment)'}${g.endpoint ? `, endpoint ${g.endpoint}` : ''}`))
  } catch (err) {
    out.push(check(id('region'), title('region'), 'fail', message(err), 'set backend.region in the config, or AWS_REGION where the gateway runs'))
    out.push(check(id('credentials'), title('credentials'), 'skip', 'no region'))
    out.push(check(id('identity'), title('identity'), 'skip', 'no region'))
    return out
  }

  try {
    const creds = await withTimeout('the AWS credential provider chain', CREDENTIALS_TIMEOUT, g.clients.ecs.config.credentials())
    const key = creds.accessKeyId
    const kind = creds.sessionToken ? 'temporary credentials' : 'long-term credentials'
    const expires = creds.expiration ? `, expire ${creds.expiration.toISOString()}` : ''
    out.push(check(id('credentials'), title('credentials'), 'ok', `${kind}, access key ${key.slice(0, 4)}…${key.slice(-4)}${expires}`))
  } catch (err) {
    out.push(check(id('credentials'), title('credentials'), 'fail', message(err),
      'give the gateway credentials through the default chain: its ECS task role or EC2 instance role, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY'))
    out.push(check(id('identity'), title('identity'), 'skip', 'no credentials'))
    return out
  }
  g.usable = true

  const sts = new STSClient({
    region,
    endpoint: g.cfg.endpoint,
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000 }
  })
  const who = await attempt(() => sts.send(new GetCallerIdentityCommand({})))
  sts.destroy()
  if (who.ok && who.value.Arn && who.value.Account) {
    const arn = who.value.Arn
    g.identity = { arn, account: who.value.Account, partition: arn.split(':')[1] || 'aws' }
    out.push(check(id('identity'), title('identity'), 'ok', `${arn} (account ${who.value.Account})`))
  } else if (!who.ok && who.kind === 'credentials') {
    g.usable = false
    out.push(check(id('identity'), title('identity'), 'fail', `AWS refused the credentials: ${who.text}`,
      'the access key is unknown, revoked or expired: refresh the credentials (or the profile/role they come from)'))
  } else {
    out.push(check(id('identity'), title('identity'), 'warn', `STS did not answer, the principal is unknown: ${who.ok ? 'no Arn in the answer' : who.text}`,
      'harmless for the gateway, which never calls STS; to see the principal, allow the STS endpoint (or add com.amazonaws.<region>.sts to the VPC)'))
  }
  return out
}

export function closeGroups (groups: AwsGroup[]): void {
  for (const g of groups) {
    g.clients.ecs.destroy()
    g.clients.ec2.destroy()
  }
}
