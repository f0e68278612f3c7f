// Harmless probes of the two ECS actions that change something: StopTask and RunTask. Each is
// a real call, so IAM evaluates it exactly as it will for the gateway, but built so that
// ECS cannot carry it out:
//
// - StopTask names a task id of 32 zeros. ECS authorizes the call on the task's ARN first
//   (cluster/id, which the gateway's policy covers), then answers that the task was not found.
//   AccessDenied means the permission is missing; "not found" means it is there.
// - RunTask is sent as the gateway sends it (its task definition, network configuration,
//   startedBy, tags, overrides) with two changes. An explicit launch type replaces any capacity
//   provider strategy, so no capacity provider can scale out an Auto Scaling group for it. And
//   a placement constraint no instance satisfies (memberOf `attribute:wakegate.doctor == probe`)
//   leaves ECS nothing to place it on: EC2 and EXTERNAL answer with MEMBER failures, and
//   Fargate rejects placement constraints outright. ECS checks the caller's permissions
//   (ecs:RunTask, then iam:PassRole for the task's roles and ecs:TagResource for the tags)
//   before it places anything, so a refusal names what is missing and anything else means
//   allowed. Should a task start all the same, it is stopped at once, and its tags
//   (wakegate:pr = 0) make the gateway's reconcile stop it too.
import { randomUUID } from 'node:crypto'
import { RunTaskCommand, StopTaskCommand, type ECSClient, type LaunchType, type RunTaskRequest, type TaskDefinition } from '@aws-sdk/client-ecs'
import type { EcsConfig } from '../backends/ecs/config.js'
import { runTaskInput } from '../backends/ecs/run.js'
import { attempt, type Failure } from './aws-call.js'

export const PROBE_TASK_ID = '00000000000000000000000000000000'
export const PROBE_CONSTRAINT = { type: 'memberOf' as const, expression: 'attribute:wakegate.doctor == probe' }

export type ProbeResult =
  | { allowed: true, detail: string }
  | { allowed: false, failure: Failure }

/** The probe task's ARN when the account is known (the resource IAM evaluates), else its id. */
export function probeTaskRef (cfg: EcsConfig, region: string, identity?: { account: string, partition: string }): string {
  const cluster = cfg.cluster.replace(/^arn:[^:]+:ecs:[^:]+:\d+:cluster\//, '')
  return identity ? `arn:${identity.partition}:ecs:${region}:${identity.account}:task/${cluster}/${PROBE_TASK_ID}` : PROBE_TASK_ID
}

export async function stopTaskProbe (ecs: ECSClient, cfg: EcsConfig, task: string): Promise<ProbeResult> {
  const r = await attempt(() => ecs.send(new StopTaskCommand({ cluster: cfg.cluster, task, reason: 'wakegate doctor: permission probe of a task that does not exist' })))
  if (r.ok) return { allowed: true, detail: 'allowed (StopTask of the probe id answered)' }
  if (r.kind === 'invalid') return { allowed: true, detail: `allowed: probed with a task that does not exist, ECS answered "${r.text.replace(/^\w+: /, '')}"` }
  return { allowed: false, failure: r }
}

/**
 * The launch type the probe states: the app's own; FARGATE for Fargate capacity providers, a
 * Fargate-only task definition or awsvpc networking; EC2 otherwise.
 */
export function probeLaunchType (cfg: EcsConfig, td: TaskDefinition | undefined): LaunchType {
  if (cfg.launchType) return cfg.launchType
  const providers = cfg.capacityProviderStrategy?.map(s => s.capacityProvider) ?? []
  if (providers.length && providers.every(p => /^FARGATE/.test(p))) return 'FARGATE'
  const required = td?.requiresCompatibilities ?? []
  if (required.includes('FARGATE') && !required.includes('EC2')) return 'FARGATE'
  if (required.includes('EC2') && !required.includes('FARGATE')) return 'EC2'
  return cfg.networkConfiguration || td?.networkMode === 'awsvpc' ? 'FARGATE' : 'EC2'
}

export function probeRunTaskInput (app: { name: string, port: number }, cfg: EcsConfig, launchType: LaunchType): RunTaskRequest {
  const sent = runTaskInput({ app: app.name, pr: 0, branch: 'wakegate-doctor', sha: 'doctor', generation: 0, port: app.port, env: {} }, cfg, cfg.taskDefinition)
  const { capacityProviderStrategy: _strategy, platformVersion, ...rest } = sent
  return {
    ...rest,
    launchType,
    ...(launchType === 'FARGATE' && platformVersion ? { platformVersion } : {}),
    placementConstraints: [PROBE_CONSTRAINT],
    clientToken: `wakegate-doctor-${randomUUID()}`
  }
}

export interface RunProbeResult {
  result: ProbeResult
  launchType: LaunchType
  /** Tasks the probe started against every expectation (already asked to stop). */
  started: string[]
}

export async function runTaskProbe (ecs: ECSClient, app: { name: string, port: number }, cfg: EcsConfig, td: TaskDefinition | undefined): Promise<RunProbeResult> {
  const launchType = probeLaunchType(cfg, td)
  const r = await attempt(() => ecs.send(new RunTaskCommand(probeRunTaskInput(app, cfg, launchType))))
  if (!r.ok) {
    if (r.kind === 'invalid') return { launchType, started: [], result: { allowed: true, detail: `allowed: ECS rejected the ${launchType} probe after authorizing it ("${r.text.replace(/^\w+: /, '')}"), nothing started` } }
    return { launchType, started: [], result: { allowed: false, failure: r } }
  }
  const started = (r.value.tasks ?? []).map(t => t.taskArn).filter((a): a is string => !!a)
  for (const task of started) {
    await attempt(() => ecs.send(new StopTaskCommand({ cluster: cfg.cluster, task, reason: 'wakegate doctor: the permission probe must not run' })))
  }
  if (started.length) return { launchType, started, result: { allowed: true, detail: `allowed, but the probe started ${started.join(', ')} (stopped again)` } }
  const reasons = [...new Set((r.value.failures ?? []).map(f => f.reason ?? 'unknown'))].join(', ') || 'no failure given'
  return { launchType, started, result: { allowed: true, detail: `allowed: the ${launchType} probe was placed nowhere (${reasons}), nothing started` } }
}
