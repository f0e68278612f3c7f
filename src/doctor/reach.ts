// Can the gateway open a connection to a task? One RUNNING task of the app, its address
// resolved as the ecs backend resolves it (the ENI for awsvpc; for bridge/host the host port
// on the container instance's private IP, through the same HostResolver), and a TCP connect.
import { connect } from 'node:net'
import type { Task } from '@aws-sdk/client-ecs'
import { TAG, type EcsConfig } from '../backends/ecs/config.js'
import type { HostResolver } from '../backends/ecs/hosts.js'
import { eniAddress, hostPort } from '../backends/ecs/status.js'
import { attempt, iamFix, type Failure } from './aws-call.js'
import { check, type Check } from './check.js'

const CONNECT_TIMEOUT = 3_000

/** A task of this app that runs and is meant to keep running. */
export function runningTask (tasks: Task[], app: string): Task | undefined {
  return tasks.find(t => t.lastStatus === 'RUNNING' && t.desiredStatus === 'RUNNING' && t.tags?.some(x => x.key === TAG.app && x.value === app))
}

export interface ReachResult {
  reach: Check
  /** How the container instance lookups went (bridge/host only): per IAM action. */
  lookups: Map<string, { ok: true } | Failure>
}

/** `noTask`: why there is no task to try, when there is none. */
export async function reachCheck (id: string, title: string, cfg: EcsConfig, port: number, task: Task | undefined, hosts: HostResolver, noTask: string): Promise<ReachResult> {
  const lookups: ReachResult['lookups'] = new Map()
  if (!task?.taskArn) return { lookups, reach: check(id, title, 'skip', noTask) }
  const short = task.taskArn.split('/').pop()
  const eni = eniAddress(task)
  let host: string
  let target = port
  if (eni) {
    host = eni
  } else {
    const bound = hostPort(task, cfg.container, port)
    if (!bound || !task.containerInstanceArn) {
      return {
        lookups,
        reach: check(id, title, 'fail', `task ${short} runs but container "${cfg.container}" publishes no host port for container port ${port}`,
          'check apps[].port, backend.container and the task definition\'s portMappings')
      }
    }
    target = bound
    const r = await attempt(() => hosts.resolve([task.containerInstanceArn!]))
    if (!r.ok) {
      // EC2 says UnauthorizedOperation, ECS AccessDeniedException: which lookup was refused.
      const ec2 = r.name === 'UnauthorizedOperation' || /DescribeInstances failed/.test(String((r.err as Error)?.message))
      if (ec2) lookups.set('ecs:DescribeContainerInstances', { ok: true })
      lookups.set(ec2 ? 'ec2:DescribeInstances' : 'ecs:DescribeContainerInstances', r)
      return { lookups, reach: check(id, title, 'skip', `the task's address could not be looked up: ${r.text}`) }
    }
    lookups.set('ecs:DescribeContainerInstances', { ok: true })
    lookups.set('ec2:DescribeInstances', { ok: true })
    const ip = r.value.get(task.containerInstanceArn)
    if (!ip) return { lookups, reach: check(id, title, 'warn', `no private IP found for container instance ${task.containerInstanceArn}`) }
    host = ip
  }

  const where = `${host}:${target}`
  const err = await tryConnect(host, target)
  if (!err) return { lookups, reach: check(id, title, 'ok', `connected to ${where} (task ${short})`) }
  const open = eni
    ? `allow the gateway's security group on port ${port} (awsvpc) in the tasks' security group (backend.networkConfiguration.securityGroups)`
    : 'allow the gateway\'s security group on 32768–65535 (bridge) in the container instances\' security group'
  const fix = err === 'ECONNREFUSED'
    ? `nothing accepted the connection: check that the app listens on 0.0.0.0:${port} in container ${cfg.container}; a host firewall may also refuse it — ${open}`
    : open
  return { lookups, reach: check(id, title, 'fail', `cannot connect to ${where} (task ${short}): ${err}`, fix) }
}

/** undefined when a TCP connection opens, else the error code (ETIMEDOUT after 3 s). */
export function tryConnect (host: string, port: number): Promise<string | undefined> {
  return new Promise(resolve => {
    const s = connect({ host, port })
    const done = (err?: string) => { s.destroy(); resolve(err) }
    s.setTimeout(CONNECT_TIMEOUT, () => done('ETIMEDOUT'))
    s.once('connect', () => done())
    s.once('error', e => done((e as NodeJS.ErrnoException).code ?? e.message))
  })
}

/** One IAM line for a bridge/host address lookup. */
export function lookupCheck (id: string, title: string, action: string, r: { ok: true } | Failure | undefined, noTask: boolean): Check {
  if (!r) return check(id, title, 'skip', noTask ? 'no running task to describe: the address lookup is checked when one runs' : 'not reached')
  if (!('kind' in r)) return check(id, title, 'ok', 'allowed (looked up the running task\'s instance)')
  if (r.kind === 'denied') return check(id, title, 'fail', r.text, iamFix(action))
  return check(id, title, 'warn', `could not tell: ${r.text}`)
}
