// The RunTask request for one env@sha, and the way back: a TaskRef rebuilt from a task's tags.
import { randomUUID } from 'node:crypto'
import type { RunTaskRequest, Tag, Task } from '@aws-sdk/client-ecs'
import type { TaskRef, TaskSpec } from '../backend.js'
import { TAG, type EcsConfig } from './config.js'

export function runTaskInput (spec: TaskSpec, cfg: EcsConfig, taskDefinition: string): RunTaskRequest {
  const tags: Tag[] = Object.entries(cfg.tags ?? {})
    .filter(([k]) => !k.startsWith('wakegate:'))
    .map(([key, value]) => ({ key, value }))
  tags.push(
    { key: TAG.app, value: spec.app },
    { key: TAG.pr, value: String(spec.pr) },
    { key: TAG.sha, value: spec.sha },
    { key: TAG.generation, value: String(spec.generation) }
  )
  const environment = Object.entries(spec.env)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }))
  const net = cfg.networkConfiguration
  return {
    cluster: cfg.cluster,
    taskDefinition,
    count: 1,
    // Exactly one of them; neither means the cluster's default capacity provider strategy.
    ...(cfg.capacityProviderStrategy ? { capacityProviderStrategy: cfg.capacityProviderStrategy } : cfg.launchType ? { launchType: cfg.launchType } : {}),
    ...(cfg.platformVersion ? { platformVersion: cfg.platformVersion } : {}),
    ...(net
      ? {
          networkConfiguration: {
            awsvpcConfiguration: {
              subnets: net.subnets,
              securityGroups: net.securityGroups,
              assignPublicIp: net.assignPublicIp === undefined ? undefined : net.assignPublicIp ? 'ENABLED' : 'DISABLED'
            }
          }
        }
      : {}),
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
