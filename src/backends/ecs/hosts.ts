// bridge/host networking: a task's address is its container instance's EC2 private IP.
// container instance → EC2 instance id → private IP never changes for the life of the
// instance, so both steps are cached (promises, so concurrent rounds share one lookup) and a
// second task on the same instance costs no AWS call. Lookups are batched per round.
import { DescribeContainerInstancesCommand, type ECSClient } from '@aws-sdk/client-ecs'
import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2'
import { awsError } from './errors.js'

const MAX_CACHED = 2_000

function chunks<T> (items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

class PromiseCache {
  private readonly map = new Map<string, Promise<string | undefined>>()
  get (k: string) { return this.map.get(k) }
  /** A lookup that fails or finds nothing is forgotten, so the next round asks again. */
  set (k: string, p: Promise<string | undefined>) {
    if (this.map.size >= MAX_CACHED) this.map.delete(this.map.keys().next().value as string)
    this.map.set(k, p)
    p.then(v => { if (v === undefined && this.map.get(k) === p) this.map.delete(k) }, () => { if (this.map.get(k) === p) this.map.delete(k) })
  }
}

export class HostResolver {
  private readonly instanceOf = new PromiseCache() // container instance ARN → EC2 instance id
  private readonly ipOf = new PromiseCache() // EC2 instance id → private IPv4

  constructor (private readonly ecs: ECSClient, private readonly ec2: EC2Client, private readonly cluster: string) {}

  /** Private IP per container instance ARN; ARNs that cannot be resolved (yet) are absent. */
  async resolve (containerInstances: string[]): Promise<Map<string, string>> {
    const arns = [...new Set(containerInstances)]
    const ids = await this.lookup(arns, this.instanceOf, todo => this.describeContainerInstances(todo))
    const instanceIds = [...new Set([...ids.values()])]
    const ips = await this.lookup(instanceIds, this.ipOf, todo => this.describeInstances(todo))
    const out = new Map<string, string>()
    for (const [arn, id] of ids) {
      const ip = ips.get(id)
      if (ip) out.set(arn, ip)
    }
    return out
  }

  /** Cached values plus one batched fetch for the keys nobody is looking up yet. */
  private async lookup (keys: string[], cache: PromiseCache, fetch: (todo: string[]) => Promise<Map<string, string>>): Promise<Map<string, string>> {
    const todo = keys.filter(k => !cache.get(k))
    if (todo.length) {
      const batch = fetch(todo)
      for (const k of todo) cache.set(k, batch.then(m => m.get(k)))
    }
    const out = new Map<string, string>()
    await Promise.all(keys.map(async k => {
      const v = await cache.get(k)
      if (v) out.set(k, v)
    }))
    return out
  }

  private async describeContainerInstances (arns: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    for (const part of chunks(arns, 100)) {
      const res = await this.ecs.send(new DescribeContainerInstancesCommand({ cluster: this.cluster, containerInstances: part }))
        .catch(err => { throw awsError('DescribeContainerInstances', err) })
      for (const ci of res.containerInstances ?? []) {
        if (ci.containerInstanceArn && ci.ec2InstanceId) out.set(ci.containerInstanceArn, ci.ec2InstanceId)
      }
    }
    return out
  }

  private async describeInstances (ids: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    for (const part of chunks(ids, 100)) {
      const res = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: part }))
        .catch(err => { throw awsError('DescribeInstances', err) })
      for (const r of res.Reservations ?? []) {
        for (const i of r.Instances ?? []) {
          if (i.InstanceId && i.PrivateIpAddress) out.set(i.InstanceId, i.PrivateIpAddress)
        }
      }
    }
    return out
  }
}
