// Runs each env's task on an AWS ECS cluster: RunTask with the PR's branch/SHA, DescribeTasks
// batched across every waking env, the address from the ENI (awsvpc) or the container
// instance's private IP + host port (bridge/host), StopTask with wakegate's reason.
// Tasks outlive the gateway: the next one finds them through list() and adopts them.
// One EcsBackend serves every app on one cluster (backends/index.ts groups them), so a
// status round or a reconcile listing covers all of their tasks in one go.
import { DescribeTasksCommand, RunTaskCommand, StopTaskCommand, paginateListTasks, type DescribeTasksResponse, type Task } from '@aws-sdk/client-ecs'
import type { Logger } from 'pino'
import type { Backend, PrewarmSpec, TaskRef, TaskSpec, TaskStatus } from './backend.js'
import { BackendError } from './backend.js'
import { createClients, type AwsClients, type EcsConfig } from './ecs/config.js'
import { awsError, runTaskFailure } from './ecs/errors.js'
import { HostResolver } from './ecs/hosts.js'
import { isPrewarmTask, refFromTask, runTaskInput } from './ecs/run.js'
import { Prewarmer } from './ecs/prewarm.js'
import { eniAddress, hostPort, toStatus } from './ecs/status.js'
import { TaskDefinitions } from './ecs/taskdef.js'
import type { SizeAnswer } from '../cost/size.js'

export type { EcsConfig } from './ecs/config.js'

export interface EcsApp {
  app: string
  /** The app's container port. */
  port: number
  config: EcsConfig
}

export interface EcsBackendOptions {
  /** Apps on one cluster: the same region, endpoints and cluster name. */
  apps: EcsApp[]
  log: Logger
}

/** Apps with the same key share one backend: clients, status rounds, listings. */
export function clusterKey (cfg: EcsConfig): string {
  return JSON.stringify([cfg.region ?? '', cfg.endpoint ?? '', cfg.ec2Endpoint ?? cfg.endpoint ?? '', cfg.cluster])
}

interface AppSide { port: number, cfg: EcsConfig, taskDefs: TaskDefinitions }

/** DescribeTasks takes at most 100 tasks a call. */
const DESCRIBE_MAX = 100

function chunks<T> (items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

export class EcsBackend implements Backend {
  readonly kind = 'ecs'
  readonly outlivesGateway = true
  private readonly clients: AwsClients
  private readonly cluster: string
  private readonly log: Logger
  private readonly hosts: HostResolver
  private readonly apps = new Map<string, AppSide>()
  private readonly prewarmer: Prewarmer
  private closed = false

  constructor (opts: EcsBackendOptions) {
    const first = opts.apps[0]?.config
    if (!first) throw new Error('EcsBackend needs at least one app')
    const key = clusterKey(first)
    if (opts.apps.some(a => clusterKey(a.config) !== key)) throw new Error('EcsBackend: apps on different clusters')
    this.cluster = first.cluster
    this.log = opts.log
    // Shared clients: the most patient retry setting of the apps.
    this.clients = createClients({ ...first, maxAttempts: Math.max(...opts.apps.map(a => a.config.maxAttempts)) })
    this.hosts = new HostResolver(this.clients.ecs, this.clients.ec2, this.cluster)
    this.prewarmer = new Prewarmer(this.clients.ecs, this.cluster, opts.log.child({ part: 'prewarm' }))
    for (const a of opts.apps) {
      this.apps.set(a.app, { port: a.port, cfg: a.config, taskDefs: new TaskDefinitions(this.clients.ecs, a.config, opts.log.child({ app: a.app })) })
    }
  }

  private side (app: string): AppSide {
    const side = this.apps.get(app)
    if (!side) throw new BackendError(`app "${app}" does not run on ECS cluster ${this.cluster}`, true)
    return side
  }

  /** The app's task size from its task definition, for cost (cost/size.ts). */
  async taskSize (app: string): Promise<SizeAnswer> {
    return this.side(app).taskDefs.size()
  }

  /** Pulls the SHA's image onto the container instances (apps with `prewarm`, on EC2). */
  prewarm (spec: PrewarmSpec): void {
    const side = this.apps.get(spec.app)
    if (side) this.prewarmer.prewarm(side, spec)
  }

  get prewarmCounts (): Prewarmer['counts'] { return this.prewarmer.counts }

  async start (spec: TaskSpec): Promise<TaskRef> {
    const { cfg, taskDefs } = this.side(spec.app)
    const taskDefinition = await taskDefs.forSpec(spec)
    const input = runTaskInput(spec, cfg, taskDefinition)
    const out = await this.clients.ecs.send(new RunTaskCommand(input)).catch(err => { throw awsError('RunTask', err) })
    const task = out.tasks?.[0]
    if (!task?.taskArn) {
      const err = out.failures?.length ? runTaskFailure(out.failures) : new BackendError('RunTask started no task and reported no failure')
      this.log.error({ env: `${spec.app}/${spec.pr}`, failures: out.failures }, err.message)
      throw err
    }
    this.log.info({ env: `${spec.app}/${spec.pr}`, task: task.taskArn, taskDefinition, generation: spec.generation }, 'RunTask started a task')
    return { id: task.taskArn, app: spec.app, pr: spec.pr, sha: spec.sha, generation: spec.generation }
  }

  /** Tasks of all this cluster's apps in one batch; each is read with its own app's settings. */
  async describe (refs: TaskRef[]): Promise<TaskStatus[]> {
    if (refs.length === 0) return []
    const { tasks, missing } = await this.describeTasks([...new Set(refs.map(r => r.id))], false)
    const ours = refs.flatMap(ref => {
      const task = tasks.get(ref.id)
      const side = this.apps.get(ref.app)
      return task && side ? [{ task, side }] : []
    })
    const endpoints = await this.endpoints(ours)
    return refs.map(ref => {
      const task = tasks.get(ref.id)
      if (!task) return { ref, phase: 'stopped', reason: `ECS no longer knows the task (${missing.get(ref.id) ?? 'MISSING'})` }
      const side = this.apps.get(ref.app)
      // A task of no app here (reconcile found it): its phase is all that matters.
      if (!side) return toStatus(ref, task, '', undefined)
      const unreachable = this.unreachable(task, side)
      // Waiting would only end at the start timeout with a vaguer message.
      if (unreachable) return { ref, phase: 'stopped', reason: unreachable }
      return toStatus(ref, task, side.cfg.container, endpoints.get(ref.id))
    })
  }

  /** One DescribeTasks per 100 ARNs, in parallel. */
  private async describeTasks (arns: string[], withTags: boolean): Promise<{ tasks: Map<string, Task>, missing: Map<string, string> }> {
    const tasks = new Map<string, Task>()
    const missing = new Map<string, string>()
    await Promise.all(chunks(arns, DESCRIBE_MAX).map(async part => {
      const out: DescribeTasksResponse = await this.clients.ecs.send(new DescribeTasksCommand({ cluster: this.cluster, tasks: part, ...(withTags ? { include: ['TAGS'] } : {}) }))
        .catch(err => { throw awsError('DescribeTasks', err) })
      for (const t of out.tasks ?? []) if (t.taskArn) tasks.set(t.taskArn, t)
      for (const f of out.failures ?? []) if (f.arn) missing.set(f.arn, f.reason ?? 'MISSING')
    }))
    return { tasks, missing }
  }

  /**
   * host:port of every RUNNING task. A transient failure to look up container instances
   * leaves those tasks pending for this round; a permanent one (access denied) fails the call.
   */
  private async endpoints (tasks: Array<{ task: Task, side: AppSide }>): Promise<Map<string, { host: string, port: number }>> {
    const out = new Map<string, { host: string, port: number }>()
    const bridged: Array<{ task: Task, port: number }> = []
    for (const { task, side } of tasks) {
      if (task.lastStatus !== 'RUNNING' || task.desiredStatus === 'STOPPED' || !task.taskArn) continue
      const eni = eniAddress(task)
      if (eni) { out.set(task.taskArn, { host: eni, port: side.port }); continue }
      const port = hostPort(task, side.cfg.container, side.port)
      if (port && task.containerInstanceArn) bridged.push({ task, port })
    }
    if (bridged.length === 0) return out
    let ips: Map<string, string>
    try {
      ips = await this.hosts.resolve(bridged.map(b => b.task.containerInstanceArn!))
    } catch (err) {
      if (err instanceof BackendError && err.permanent) throw err
      this.log.warn({ err }, 'container instance address lookup failed; will retry next round')
      return out
    }
    for (const { task, port } of bridged) {
      const ip = ips.get(task.containerInstanceArn!)
      if (ip) out.set(task.taskArn!, { host: ip, port })
    }
    return out
  }

  /** A running task the gateway can never reach: the app's port is not published. */
  private unreachable (task: Task, { cfg, port }: AppSide): string | undefined {
    if (task.lastStatus !== 'RUNNING' || task.desiredStatus === 'STOPPED' || eniAddress(task)) return undefined
    if (hostPort(task, cfg.container, port) && task.containerInstanceArn) return undefined
    return `the task runs but container "${cfg.container}" publishes no host port for container port ${port} ` +
      '(check the app\'s port, backend.container and the task definition\'s portMappings)'
  }

  async stop (ref: TaskRef, reason: string): Promise<void> {
    // Shown in the console and in DescribeTasks' stoppedReason; ECS takes 255 characters.
    const text = (/^wakegate\b/i.test(reason) ? reason : `wakegate: ${reason}`).slice(0, 255)
    try {
      await this.clients.ecs.send(new StopTaskCommand({ cluster: this.cluster, task: ref.id, reason: text }))
      this.log.info({ env: `${ref.app}/${ref.pr}`, task: ref.id, reason: text }, 'StopTask')
    } catch (err) {
      // Already gone: nothing to stop.
      if ((err as Error).name === 'InvalidParameterException' && /not found/i.test((err as Error).message)) return
      throw awsError('StopTask', err)
    }
  }

  /**
   * Every task started with our startedBy (ListTasks, paginated: one listing of the cluster
   * for all its apps, one per startedBy when they differ), with its env from its tags.
   */
  async list (): Promise<TaskRef[]> {
    const arns: string[] = []
    try {
      for (const startedBy of new Set([...this.apps.values()].map(a => a.cfg.startedBy.slice(0, 36)))) {
        for await (const page of paginateListTasks({ client: this.clients.ecs, pageSize: 100 }, { cluster: this.cluster, startedBy })) {
          arns.push(...(page.taskArns ?? []))
        }
      }
    } catch (err) {
      throw awsError('ListTasks', err)
    }
    if (arns.length === 0) return []
    const { tasks } = await this.describeTasks([...new Set(arns)], true)
    // Prewarm tasks belong to no env: never adopted, never stopped as orphans.
    return [...tasks.values()].filter(t => t.desiredStatus !== 'STOPPED' && !isPrewarmTask(t)).map(refFromTask)
  }

  /** Tasks keep running for the next gateway; only the SDK clients' sockets are closed. */
  async close (): Promise<void> {
    if (this.closed) return // every app on the cluster closes its backend
    this.closed = true
    this.prewarmer.close()
    this.clients.ecs.destroy()
    this.clients.ec2.destroy()
  }
}
