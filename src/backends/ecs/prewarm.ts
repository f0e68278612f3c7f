// Image prewarm (ECS on EC2): after a push to an env that is not running, the new SHA's
// image is pulled onto the cluster's container instances before anyone visits, so the
// next wake starts from a cached image. It runs short tasks of the SHA's own task
// definition revision (registered the way a wake would, so the wake reuses it), one per
// instance, whose app container runs a no-op command instead of the app. Best effort:
// nothing here can fail or delay an env; outcomes are logged and counted.
import { DescribeTasksCommand, RunTaskCommand, StopTaskCommand, type ECSClient, type Task } from '@aws-sdk/client-ecs'
import type { Logger } from 'pino'
import { BackendError, expandTemplate, type PrewarmSpec } from '../backend.js'
import type { EcsConfig } from './config.js'
import { awsError } from './errors.js'
import { prewarmTaskInput } from './run.js'
import { stoppedReason } from './status.js'
import type { TaskDefinitions } from './taskdef.js'

/**
 * started: placed by RunTask; completed: the image got pulled and the command ran (or the
 * container was running, then stopped by wakegate); failed: stopped otherwise (a failed
 * pull, a command the image lacks); unplaced: asked for but no instance was left for it;
 * timed-out: not running within the timeout, stopped; error: an AWS call of the prewarm failed.
 */
export const PREWARM_OUTCOMES = ['started', 'completed', 'failed', 'unplaced', 'timed-out', 'error'] as const
export type PrewarmOutcome = typeof PREWARM_OUTCOMES[number]

/** RunTask places at most 10 tasks a call. */
const RUN_MAX = 10
const DESCRIBE_MAX = 100
/** SHAs remembered as warmed, so another env on the same SHA does not pull it again. */
const WARMED_MAX = 1_000
/** Prewarm is not in a hurry: its tasks are described this many times less often than a wake's. */
const POLL_FACTOR = 5

export interface PrewarmApp { cfg: EcsConfig, taskDefs: TaskDefinitions }

interface Job {
  key: string
  /** Envs that still want this SHA warmed; a newer push of each takes it out. */
  envs: Set<string>
}

/** Fargate keeps no image between tasks: nothing to warm. */
function fargateOnly (cfg: EcsConfig): boolean {
  if (cfg.capacityProviderStrategy) return cfg.capacityProviderStrategy.every(s => s.capacityProvider.startsWith('FARGATE'))
  return cfg.launchType === 'FARGATE'
}

function chunks<T> (items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

export class Prewarmer {
  /** Tasks by app and outcome (metrics read these). */
  readonly counts = new Map<string, Record<PrewarmOutcome, number>>()
  /** In flight, by app + image: one prewarm per SHA however many envs push it. */
  private readonly jobs = new Map<string, Job>()
  /** env key → the job it last asked for. */
  private readonly wanted = new Map<string, Job>()
  private readonly warmed = new Set<string>()
  private readonly toldFargate = new Set<string>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private closed = false

  constructor (private readonly ecs: ECSClient, private readonly cluster: string, private readonly log: Logger) {}

  prewarm (side: PrewarmApp, spec: PrewarmSpec): void {
    const { cfg } = side
    if (this.closed || !cfg.prewarm?.enabled || !cfg.image) return
    if (fargateOnly(cfg)) {
      if (!this.toldFargate.has(spec.app)) this.log.debug({ app: spec.app }, 'prewarm skipped: Fargate keeps no image cache to warm')
      this.toldFargate.add(spec.app)
      return
    }
    const image = expandTemplate(cfg.image, spec)
    const key = `${spec.app}\n${image}`
    const env = `${spec.app}/${spec.pr}`
    // This env now wants another SHA: the one it asked for before is not warmed for it.
    const before = this.wanted.get(env)
    if (before && before.key !== key) before.envs.delete(env)
    this.wanted.delete(env)
    if (this.warmed.has(key)) { this.log.debug({ env, image }, 'prewarm: image already warmed'); return }
    let job = this.jobs.get(key)
    if (job) {
      job.envs.add(env)
      this.wanted.set(env, job)
      return
    }
    job = { key, envs: new Set([env]) }
    this.jobs.set(key, job)
    this.wanted.set(env, job)
    const j = job
    this.run(side, spec, image, j).catch(err => {
      this.add(spec.app, 'error')
      this.log.warn({ err, env, image }, 'prewarm failed; the next wake pulls the image itself')
    }).finally(() => {
      this.jobs.delete(key)
      for (const e of j.envs) if (this.wanted.get(e) === j) this.wanted.delete(e)
    })
  }

  private async run (side: PrewarmApp, spec: PrewarmSpec, image: string, job: Job): Promise<void> {
    const { cfg } = side
    const p = cfg.prewarm!
    const taskDefinition = await side.taskDefs.forSpec(spec)
    if (this.closed) return
    if (job.envs.size === 0) {
      this.log.info({ app: spec.app, image }, 'prewarm superseded by a newer push before it started')
      return
    }
    const arns: string[] = []
    let left = p.instances
    let unplaced = 0
    const reasons = new Set<string>()
    while (left > 0 && !this.closed) {
      const count = Math.min(left, RUN_MAX)
      const out = await this.ecs.send(new RunTaskCommand(prewarmTaskInput(spec, cfg, taskDefinition, count)))
        .catch(err => { throw awsError('RunTask', err) })
      const placed = (out.tasks ?? []).flatMap(t => t.taskArn ? [t.taskArn] : [])
      arns.push(...placed)
      this.add(spec.app, 'started', placed.length)
      this.add(spec.app, 'unplaced', count - placed.length)
      unplaced += count - placed.length
      for (const f of out.failures ?? []) if (f.reason) reasons.add(f.reason)
      left -= count
      // Fewer placed than asked: every instance ECS can place on has one of the group.
      if (placed.length < count) break
    }
    this.log.info({ app: spec.app, image, taskDefinition, tasks: arns.length, unplaced, ...(reasons.size ? { reasons: [...reasons] } : {}) }, 'prewarm: pulling the image onto the container instances')
    const done = await this.watch(spec.app, cfg, arns, p.timeout)
    if (done > 0) {
      if (this.warmed.size >= WARMED_MAX) this.warmed.delete(this.warmed.values().next().value as string)
      this.warmed.add(job.key)
    }
  }

  /** Until every task stopped (or was stopped): how many completed. */
  private async watch (app: string, cfg: EcsConfig, arns: string[], timeout: number): Promise<number> {
    const deadline = Date.now() + timeout
    const left = new Set(arns)
    let completed = 0
    let reported = false
    const settle = (arn: string, outcome: PrewarmOutcome) => {
      left.delete(arn)
      this.add(app, outcome)
      if (outcome === 'completed') completed++
    }
    while (left.size > 0 && !this.closed) {
      await this.pause(cfg.pollInterval * POLL_FACTOR)
      if (this.closed) break
      let tasks: Task[]
      try {
        tasks = await this.describe([...left])
      } catch (err) {
        // Not allowed, or still failing past the timeout: their fate stays unknown.
        const giveUp = (err instanceof BackendError && err.permanent) || Date.now() >= deadline
        this.log.warn({ err, app }, giveUp ? 'prewarm: describing its tasks failed; no longer watching them' : 'prewarm: describing its tasks failed; asking again')
        if (giveUp) for (const arn of [...left]) settle(arn, 'failed')
        continue
      }
      const late = Date.now() >= deadline
      for (const task of tasks) {
        const arn = task.taskArn!
        if (task.lastStatus === 'STOPPED' || task.desiredStatus === 'STOPPED') {
          // On its way (its exit code is not known yet), unless that takes past the timeout too.
          if (task.lastStatus !== 'STOPPED') { if (late) settle(arn, 'timed-out'); continue }
          const exit = task.containers?.find(c => c.name === cfg.container)?.exitCode
          if (exit === 0) { settle(arn, 'completed'); continue }
          settle(arn, 'failed')
          if (!reported) this.log.warn({ app, task: arn, reason: stoppedReason(task, cfg.container) }, 'prewarm task failed (is prewarm.command in the image?)')
          reported = true
        } else if (task.lastStatus === 'RUNNING') {
          // The image is there; a command that keeps running (an ENTRYPOINT ignoring it) must not.
          settle(arn, 'completed')
          void this.stop(arn, 'wakegate: prewarm: image pulled')
        } else if (late) {
          settle(arn, 'timed-out')
          void this.stop(arn, 'wakegate: prewarm: not running within prewarm.timeout')
        }
      }
      // Tasks ECS no longer knows about.
      const seen = new Set(tasks.map(t => t.taskArn))
      for (const arn of [...left]) if (!seen.has(arn)) settle(arn, 'failed')
    }
    return completed
  }

  private async describe (arns: string[]): Promise<Task[]> {
    const parts = await Promise.all(chunks(arns, DESCRIBE_MAX).map(part =>
      this.ecs.send(new DescribeTasksCommand({ cluster: this.cluster, tasks: part })).catch(err => { throw awsError('DescribeTasks', err) })))
    return parts.flatMap(out => out.tasks ?? []).filter(t => t.taskArn)
  }

  private async stop (arn: string, reason: string): Promise<void> {
    try {
      await this.ecs.send(new StopTaskCommand({ cluster: this.cluster, task: arn, reason }))
    } catch (err) {
      this.log.warn({ err: awsError('StopTask', err), task: arn }, 'prewarm: stopping its task failed')
    }
  }

  private add (app: string, outcome: PrewarmOutcome, n = 1): void {
    if (n <= 0) return
    let c = this.counts.get(app)
    if (!c) {
      c = Object.fromEntries(PREWARM_OUTCOMES.map(o => [o, 0])) as Record<PrewarmOutcome, number>
      this.counts.set(app, c)
    }
    c[outcome] += n
  }

  private pause (ms: number): Promise<void> {
    return new Promise(resolve => {
      const t = setTimeout(() => { this.timers.delete(t); resolve() }, ms)
      t.unref()
      this.timers.add(t)
    })
  }

  /** Stops watching; tasks already started end by themselves (their command exits). */
  close (): void {
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }
}
