// Per-SHA images: when the app config gives an image template, each SHA runs a task
// definition revision derived from the base one with only the app container's image
// changed. Registered once per image (a PR's pushes each register one revision; a SHA
// woken again, or by another PR, reuses it).
import { DescribeTaskDefinitionCommand, RegisterTaskDefinitionCommand, type ECSClient, type RegisterTaskDefinitionRequest, type Tag } from '@aws-sdk/client-ecs'
import type { Logger } from 'pino'
import { BackendError, expandTemplate, type TaskSpec } from '../backend.js'
import { awsError } from './errors.js'
import { TAG, type EcsConfig } from './config.js'

const MAX_CACHED = 1_000

export class TaskDefinitions {
  /** image → task definition ARN (a promise, so concurrent wakes of one SHA register once). */
  private readonly byImage = new Map<string, Promise<string>>()

  constructor (private readonly ecs: ECSClient, private readonly cfg: EcsConfig, private readonly log: Logger) {}

  /** The task definition to run for this spec: the configured one, or its per-SHA revision. */
  forSpec (spec: Pick<TaskSpec, 'app' | 'pr' | 'branch' | 'sha'>): Promise<string> {
    if (!this.cfg.image) return Promise.resolve(this.cfg.taskDefinition)
    const image = expandTemplate(this.cfg.image, spec)
    let p = this.byImage.get(image)
    if (!p) {
      if (this.byImage.size >= MAX_CACHED) this.byImage.delete(this.byImage.keys().next().value as string)
      p = this.register(image, spec.sha)
      this.byImage.set(image, p)
      // A failed registration is not remembered: the next wake tries again.
      p.catch(() => { if (this.byImage.get(image) === p) this.byImage.delete(image) })
    }
    return p
  }

  private async register (image: string, sha: string): Promise<string> {
    const base = await this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: this.cfg.taskDefinition, include: ['TAGS'] }))
      .catch(err => { throw awsError('DescribeTaskDefinition', err) })
    const td = base.taskDefinition
    if (!td?.family || !td.containerDefinitions) throw new BackendError(`task definition ${this.cfg.taskDefinition} came back without a family or containers`, true)
    const container = td.containerDefinitions.find(c => c.name === this.cfg.container)
    if (!container) {
      const names = td.containerDefinitions.map(c => c.name).join(', ')
      throw new BackendError(`task definition ${td.taskDefinitionArn} has no container named "${this.cfg.container}" (it has: ${names})`, true)
    }
    // The latest revision may already be this image (registered before a gateway restart).
    if (container.image === image && td.taskDefinitionArn) return td.taskDefinitionArn

    const tags: Tag[] = (base.tags ?? []).filter(t => t.key !== TAG.sha)
    tags.push({ key: TAG.sha, value: sha })
    const input: RegisterTaskDefinitionRequest = {
      family: td.family,
      taskRoleArn: td.taskRoleArn,
      executionRoleArn: td.executionRoleArn,
      networkMode: td.networkMode,
      containerDefinitions: td.containerDefinitions.map(c => c.name === this.cfg.container ? { ...c, image } : c),
      volumes: td.volumes,
      placementConstraints: td.placementConstraints,
      requiresCompatibilities: td.requiresCompatibilities,
      cpu: td.cpu,
      memory: td.memory,
      pidMode: td.pidMode,
      ipcMode: td.ipcMode,
      proxyConfiguration: td.proxyConfiguration,
      inferenceAccelerators: td.inferenceAccelerators,
      ephemeralStorage: td.ephemeralStorage,
      runtimePlatform: td.runtimePlatform,
      enableFaultInjection: td.enableFaultInjection,
      tags
    }
    const out = await this.ecs.send(new RegisterTaskDefinitionCommand(input))
      .catch(err => { throw awsError('RegisterTaskDefinition', err) })
    const arn = out.taskDefinition?.taskDefinitionArn
    if (!arn) throw new BackendError('RegisterTaskDefinition returned no task definition ARN')
    this.log.info({ taskDefinition: arn, image }, 'registered per-SHA task definition revision')
    return arn
  }
}
