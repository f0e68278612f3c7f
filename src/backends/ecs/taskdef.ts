// Per-SHA images: when the app config gives an image template, each SHA runs a task
// definition revision derived from the base one with only the app container's image
// changed. Registered once per image (a PR's pushes each register one revision; a SHA
// woken again, or by another PR, reuses it), also across gateway restarts: before
// registering, the family's newest revisions are searched for one that is already it.
import {
  DescribeTaskDefinitionCommand, RegisterTaskDefinitionCommand, paginateListTaskDefinitions,
  type ECSClient, type RegisterTaskDefinitionRequest, type Tag, type TaskDefinition
} from '@aws-sdk/client-ecs'
import type { Logger } from 'pino'
import { BackendError, expandTemplate, type TaskSpec } from '../backend.js'
import { awsError } from './errors.js'
import { TAG, type EcsConfig } from './config.js'
import { sizeOfTaskDefinition, type SizeAnswer } from '../../cost/size.js'

const MAX_CACHED = 1_000
/** How many of the family's newest ACTIVE revisions are searched before registering. */
export const REVISIONS_SEARCHED = 10

type Definition = Omit<RegisterTaskDefinitionRequest, 'tags'>

/** What RegisterTaskDefinition would be given to recreate `td`, with this app container image if given. */
function definition (td: TaskDefinition, container: string, image?: string): Definition {
  return {
    family: td.family,
    taskRoleArn: td.taskRoleArn,
    executionRoleArn: td.executionRoleArn,
    networkMode: td.networkMode,
    containerDefinitions: td.containerDefinitions?.map(c => c.name === container && image ? { ...c, image } : c),
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
    enableFaultInjection: td.enableFaultInjection
  }
}

/** JSON with sorted keys, empty lists and absent members dropped: equal definitions compare equal. */
function canonical (v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined && x !== null && !(Array.isArray(x) && x.length === 0))
    return `{${entries.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`
  }
  return JSON.stringify(v)
}

/** The family of a task definition ARN (…:task-definition/family:revision). */
function familyOf (arn: string): string | undefined {
  return /task-definition\/([^/:]+):\d+$/.exec(arn)?.[1]
}

export class TaskDefinitions {
  /** image → task definition ARN (a promise, so concurrent wakes of one SHA register once). */
  private readonly byImage = new Map<string, Promise<string>>()
  /** Revisions never change: each is described at most once per process. */
  private readonly revisions = new Map<string, Promise<TaskDefinition | undefined>>()

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
    // The base may already be this image (the family's latest, registered before a restart).
    if (container.image === image && td.taskDefinitionArn) return td.taskDefinitionArn
    const wanted = definition(td, this.cfg.container, image)
    const existing = await this.find(td.family, td.taskDefinitionArn, canonical(wanted))
    if (existing) {
      this.log.info({ taskDefinition: existing, image }, 'reusing per-SHA task definition revision')
      return existing
    }

    const tags: Tag[] = (base.tags ?? []).filter(t => t.key !== TAG.sha)
    tags.push({ key: TAG.sha, value: sha })
    const out = await this.ecs.send(new RegisterTaskDefinitionCommand({ ...wanted, tags }))
      .catch(err => { throw awsError('RegisterTaskDefinition', err) })
    const arn = out.taskDefinition?.taskDefinitionArn
    if (!arn) throw new BackendError('RegisterTaskDefinition returned no task definition ARN')
    this.revisions.set(arn, Promise.resolve(out.taskDefinition))
    this.log.info({ taskDefinition: arn, image }, 'registered per-SHA task definition revision')
    return arn
  }

  /**
   * An ACTIVE revision among the family's newest REVISIONS_SEARCHED that equals `wanted`
   * (same definition, this image). Only an optimisation: if the search fails, the caller
   * registers a revision as it would have anyway.
   */
  private async find (family: string, base: string | undefined, wanted: string): Promise<string | undefined> {
    const arns: string[] = []
    try {
      // Newest first. familyPrefix is the full family name; the filter also copes with
      // listings that match it as a prefix (other families sort around this one).
      const pages = paginateListTaskDefinitions({ client: this.ecs, pageSize: REVISIONS_SEARCHED }, { familyPrefix: family, status: 'ACTIVE', sort: 'DESC' })
      let n = 0
      for await (const page of pages) {
        for (const arn of page.taskDefinitionArns ?? []) if (familyOf(arn) === family && arn !== base) arns.push(arn)
        if (arns.length >= REVISIONS_SEARCHED || ++n >= 3) break
      }
    } catch (err) {
      this.log.warn({ err: awsError('ListTaskDefinitions', err), family }, 'cannot search existing revisions; registering one')
      return undefined
    }
    for (const arn of arns.slice(0, REVISIONS_SEARCHED)) {
      const td = await this.revision(arn)
      if (td && canonical(definition(td, this.cfg.container)) === wanted) return td.taskDefinitionArn ?? arn
    }
    return undefined
  }

  /** The configured definition's task size (for cost), described once per process; a failed call is asked again. */
  size (): Promise<SizeAnswer> {
    this.sized ??= this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: this.cfg.taskDefinition })).then(
      out => out.taskDefinition ? sizeOfTaskDefinition(out.taskDefinition) : { problem: `task definition ${this.cfg.taskDefinition} came back empty` },
      err => { this.sized = undefined; throw awsError('DescribeTaskDefinition', err) })
    return this.sized
  }

  private sized: Promise<SizeAnswer> | undefined

  private revision (arn: string): Promise<TaskDefinition | undefined> {
    let p = this.revisions.get(arn)
    if (!p) {
      if (this.revisions.size >= MAX_CACHED) this.revisions.delete(this.revisions.keys().next().value as string)
      p = this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn })).then(out => out.taskDefinition, err => {
        this.revisions.delete(arn)
        this.log.warn({ err: awsError('DescribeTaskDefinition', err), taskDefinition: arn }, 'cannot describe a revision; skipping it')
        return undefined
      })
      this.revisions.set(arn, p)
    }
    return p
  }
}
