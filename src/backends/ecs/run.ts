// The RunTask request for one env@sha (and for the prewarm tasks of a SHA), and the way
// back: a TaskRef rebuilt from a task's tags.
import { randomUUID } from 'node:crypto'
import type { RunTaskRequest, Tag, Task } from '@aws-sdk/client-ecs'
import type { PrewarmSpec, TaskRef, TaskSpec } from '../backend.js'
import { TAG, type EcsConfig } from './config.js'

/** Marks a prewarm task (its value: the SHA); such a task belongs to no env. */
export const PREWARM_TAG = 'wakegate:prewarm'

/** The operator's extra tags (never ones posing as wakegate's). */
function extraTags (cfg: EcsConfig): Tag[] {
  return Object.entries(cfg.tags ?? {})
    .filter(([k]) => !k.startsWith('wakegate:'))
    .map(([key, value]) => ({ key, value }))
}

function awsvpc (cfg: EcsConfig): Pick<RunTaskRequest, 'networkConfiguration'> {
  const net = cfg.networkConfiguration
  if (!net) return {}
  return {
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: net.subnets,
        securityGroups: net.securityGroups,
        assignPublicIp: net.assignPublicIp === undefined ? undefined : net.assignPublicIp ? 'ENABLED' : 'DISABLED'
      }
    }
  }
}

export function runTaskInput (spec: TaskSpec, cfg: EcsConfig, taskDefinition: string): RunTaskRequest {
  const tags = extraTags(cfg)
  tags.push(
    { key: TAG.app, value: spec.app },
    { key: TAG.pr, value: String(spec.pr) },
    { key: TAG.sha, value: spec.sha },
    { key: TAG.generation, value: String(spec.generation) }
  )
  const environment = Object.entries(spec.env)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }))
  return {
    cluster: cfg.cluster,
    taskDefinition,
    count: 1,
    // Exactly one of them; neither means the cluster's default capacity provider strategy.
    ...(cfg.capacityProviderStrategy ? { capacityProviderStrategy: cfg.capacityProviderStrategy } : cfg.launchType ? { launchType: cfg.launchType } : {}),
    ...(cfg.platformVersion ? { platformVersion: cfg.platformVersion } : {}),
    ...awsvpc(cfg),
    overrides: { containerOverrides: [{ name: cfg.container, environment }] },
    startedBy: cfg.startedBy.slice(0, 36),
    tags,
    enableECSManagedTags: true,
    propagateTags: 'TASK_DEFINITION',
    // The SDK retries throttled and failed calls; the token makes a retried RunTask that
    // did reach ECS return the same task instead of starting a second one.
    clientToken: `${spec.app.slice(0, 20)}-${spec.pr}-${spec.generation}-${randomUUID()}`.slice(0, 64)
  }
}

/** Tasks of a prewarm carry this startedBy, so listings of the env tasks never see them. */
export function prewarmStartedBy (cfg: EcsConfig): string {
  return `${cfg.startedBy.slice(0, 28)}-prewarm`
}

/**
 * `count` prewarm tasks of the SHA's revision, one per container instance (distinctInstance
 * within the group, across calls too), the app container running the configured no-op
 * command. Always the EC2 launch type (EXTERNAL stays EXTERNAL), never a capacity provider
 * strategy: a task a strategy cannot place waits in PROVISIONING and managed scaling would
 * add instances for it; prewarm warms the instances there are, and ECS reports the tasks
 * it cannot place as failures.
 */
export function prewarmTaskInput (spec: PrewarmSpec, cfg: EcsConfig, taskDefinition: string, count: number): RunTaskRequest {
  const command = cfg.prewarm?.command ?? ['true']
  return {
    cluster: cfg.cluster,
    taskDefinition,
    count,
    launchType: cfg.launchType === 'EXTERNAL' ? 'EXTERNAL' : 'EC2',
    ...awsvpc(cfg),
    placementConstraints: [{ type: 'distinctInstance' }],
    group: `wakegate-prewarm:${spec.app}:${spec.sha}`.slice(0, 255),
    overrides: { containerOverrides: [{ name: cfg.container, command }] },
    startedBy: prewarmStartedBy(cfg),
    tags: [...extraTags(cfg), { key: TAG.app, value: spec.app }, { key: PREWARM_TAG, value: spec.sha }],
    enableECSManagedTags: true,
    clientToken: `prewarm-${spec.app.slice(0, 20)}-${randomUUID()}`.slice(0, 64)
  }
}

export function isPrewarmTask (task: Task): boolean {
  return task.tags?.some(t => t.key === PREWARM_TAG) === true
}

/**
 * A task found by list() back as a TaskRef. Tasks without wakegate's tags come back with
 * app '' (and pr 0): carrying our startedBy but no env, they are orphans to stop.
 */
export function refFromTask (task: Task): TaskRef {
  const tag = (k: string) => task.tags?.find(t => t.key === k)?.value
  const pr = Number(tag(TAG.pr))
  const generation = Number(tag(TAG.generation))
  return {
    id: task.taskArn ?? '',
    app: tag(TAG.app) ?? '',
    pr: Number.isInteger(pr) && pr > 0 ? pr : 0,
    sha: tag(TAG.sha) ?? '',
    generation: Number.isInteger(generation) && generation >= 0 ? generation : 0
  }
}
