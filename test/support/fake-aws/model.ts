// The fake's world: clusters with EC2 container instances, task definitions, and tasks that
// are real processes (the example app) listening on real ports. Tasks go PROVISIONING →
// PENDING → RUNNING → STOPPED with configurable delays, as ECS reports them; the image pull
// in PENDING follows images.ts (per-instance cache, shared pulls) when a pull model is given.
// A task whose app container gets a command override runs that command instead of the app.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { ImagePulls, type PullModel } from './images.js'
import { freePortOn, portFreeOn } from './ports.js'
import type { ContainerDef, Delays, FakeTask, Instance, Cluster, RegisterInput, TaskDef } from './types.js'

export { freePortOn } from './ports.js'
export type { ContainerDef, Delays, FakeTask, Instance, Cluster, PortMapping, RegisterInput, TaskDef } from './types.js'

export class AwsFault extends Error {
  constructor (readonly type: string, message: string, readonly status = 400) { super(message) }
}

export const ACCOUNT = '123456789012'

/** Task processes still alive: killed when the test process exits, even if close() never ran. */
const live = new Set<ChildProcess>()
process.once('exit', () => { for (const c of live) c.kill('SIGKILL') })
const hex = (n: number) => randomBytes(n).toString('hex')

export interface ModelOptions {
  region: string
  delays: Delays
  stopGrace: number
  script: string
  /** Distinct 127.x.y.z addresses per instance and per ENI (Linux routes all of 127/8 to lo). */
  loopbackAliases: boolean
  /** Pull times and image caches; absent: every pull takes half of delays.pending, nothing is cached. */
  pull?: PullModel
}

export class Model {
  readonly clusters = new Map<string, Cluster>()
  readonly families = new Map<string, TaskDef[]>()
  readonly tasks = new Map<string, FakeTask>()
  readonly pulls: ImagePulls
  private instanceSeq = 0
  private closed = false
  constructor (readonly opts: ModelOptions) {
    this.pulls = new ImagePulls(opts.pull, () => Math.floor(opts.delays.pending / 2))
  }

  arn (resource: string) { return `arn:aws:ecs:${this.opts.region}:${ACCOUNT}:${resource}` }

  addCluster (name: string, instances: number, capacityProviders: string[]): Cluster {
    const c: Cluster = { name, arn: this.arn(`cluster/${name}`), instances: [], capacityProviders, rr: 0 }
    this.clusters.set(name, c)
    for (let i = 0; i < instances; i++) this.addInstance(c)
    return c
  }

  addInstance (c: Cluster): Instance {
    const n = ++this.instanceSeq
    const inst: Instance = {
      containerInstanceArn: this.arn(`container-instance/${c.name}/${hex(16)}`),
      ec2InstanceId: `i-0${hex(8)}`,
      privateIp: this.opts.loopbackAliases ? `127.0.${n}.1` : '127.0.0.1',
      cluster: c.name,
      terminated: false,
      // The built-in attributes every container instance reports; no custom ones.
      attributes: { 'ecs.os-type': 'linux', 'ecs.cpu-architecture': 'x86_64', 'ecs.instance-type': 'm6i.large', 'ecs.availability-zone': `${this.opts.region}a`, 'ecs.ami-id': 'ami-0fake0000000000000' },
      images: new Set(this.pulls.preloaded()),
      pulling: new Map(),
      pulls: 0
    }
    c.instances.push(inst)
    return inst
  }

  instances (): Instance[] { return [...this.clusters.values()].flatMap(c => c.instances) }

  /** `name` or a cluster ARN; absent means "default", as in ECS. */
  cluster (ref: unknown): Cluster {
    const name = typeof ref === 'string' && ref ? ref.replace(/^arn:aws:ecs:[^:]+:\d+:cluster\//, '') : 'default'
    const c = this.clusters.get(name)
    if (!c) throw new AwsFault('ClusterNotFoundException', 'Cluster not found.')
    return c
  }

  register (input: RegisterInput): TaskDef {
    const revs = this.families.get(input.family) ?? []
    const revision = revs.length + 1
    const td: TaskDef = {
      ...input,
      networkMode: input.networkMode ?? 'bridge',
      tags: input.tags ?? [],
      revision,
      taskDefinitionArn: this.arn(`task-definition/${input.family}:${revision}`),
      status: 'ACTIVE',
      registeredAt: Date.now() / 1000
    }
    revs.push(td)
    this.families.set(input.family, revs)
    return td
  }

  /** `family` (latest ACTIVE), `family:revision` or the ARN. */
  taskDef (ref: string): TaskDef | undefined {
    const m = /^(?:arn:aws:ecs:[^:]+:\d+:task-definition\/)?([A-Za-z0-9_-]+)(?::(\d+))?$/.exec(ref)
    if (!m) return undefined
    const revs = this.families.get(m[1]) ?? []
    if (m[2]) return revs[Number(m[2]) - 1]
    return [...revs].reverse().find(r => r.status === 'ACTIVE')
  }

  task (cluster: Cluster, ref: string): FakeTask | undefined {
    const id = ref.split('/').pop()
    for (const t of this.tasks.values()) if (t.cluster === cluster && t.taskArn.endsWith(`/${id}`)) return t
    return undefined
  }

  /** Places and starts one task; the caller has validated the request. */
  async launch (p: {
    cluster: Cluster, td: TaskDef, launchType: string, capacityProviderName?: string, startedBy?: string, group?: string,
    tags: FakeTask['tags'], overrides: FakeTask['overrides'], instance?: Instance
  }): Promise<FakeTask> {
    const app = appContainer(p.td)
    const containerPort = app.portMappings?.[0]?.containerPort ?? 0
    const awsvpc = p.td.networkMode === 'awsvpc'
    let ip: string
    let port: number
    if (awsvpc) {
      ip = await this.eniAddress(containerPort)
      port = containerPort
    } else {
      ip = p.instance!.privateIp
      const fixed = app.portMappings?.[0]?.hostPort
      port = fixed || await freePortOn(ip)
    }
    const t: FakeTask = {
      taskArn: this.arn(`task/${p.cluster.name}/${hex(16)}`),
      cluster: p.cluster,
      td: p.td,
      startedBy: p.startedBy,
      group: p.group ?? `family:${p.td.family}`,
      tags: p.tags,
      overrides: p.overrides,
      launchType: p.launchType,
      capacityProviderName: p.capacityProviderName,
      instance: awsvpc && p.launchType === 'FARGATE' ? undefined : p.instance,
      ip,
      port,
      containerPort,
      eni: awsvpc ? { id: `eni-0${hex(8)}`, status: 'PRECREATED' } : undefined,
      lastStatus: awsvpc ? 'PROVISIONING' : 'PENDING',
      desiredStatus: 'RUNNING',
      createdAt: Date.now() / 1000,
      output: [],
      timers: []
    }
    this.tasks.set(t.taskArn, t)
    const { delays } = this.opts
    if (awsvpc) this.after(t, delays.provisioning, () => { t.eni!.status = 'ATTACHED'; this.pending(t) })
    else this.pending(t)
    return t
  }

  /** An ENI address no other process on this machine uses for the container port. */
  private async eniAddress (port: number): Promise<string> {
    if (!this.opts.loopbackAliases) return '127.0.0.1'
    for (let i = 0; i < 50; i++) {
      const ip = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 2}`
      if (!port || await portFreeOn(ip, port)) return ip
    }
    throw new AwsFault('ServerException', 'fake: no free ENI address', 500)
  }

  private after (t: FakeTask, ms: number, fn: () => void): void {
    const timer = setTimeout(() => { t.timers = t.timers.filter(x => x !== timer); fn() }, ms)
    t.timers.push(timer)
  }

  /**
   * PENDING: pull every container's image onto the instance, then start the container:
   * the app process, RUNNING once the rest of the delay is over; or, with a command
   * override, that command, RUNNING once it has started (it stops the task when it exits).
   */
  private pending (t: FakeTask): void {
    if (t.desiredStatus === 'STOPPED') { this.finish(t); return }
    t.lastStatus = 'PENDING'
    t.pullStartedAt = Date.now() / 1000
    const images = [...new Set(t.td.containerDefinitions.map(c => c.image))]
    void Promise.all(images.map(image => this.pulls.pull(t.instance, image))).then(() => {
      if (this.closed) return
      t.pullStoppedAt = Date.now() / 1000
      if (t.desiredStatus === 'STOPPED') { this.finish(t); return }
      const starting = Math.ceil(this.opts.delays.pending / 2)
      const command = commandOf(t)
      if (command) {
        this.after(t, starting, () => {
          if (t.desiredStatus === 'STOPPED') { this.finish(t); return }
          this.spawn(t, command)
        })
        return
      }
      this.spawn(t)
      this.after(t, starting, () => {
        if (t.desiredStatus !== 'RUNNING' || t.lastStatus !== 'PENDING') return
        t.lastStatus = 'RUNNING'
        t.startedAt = Date.now() / 1000
      })
    })
  }

  /** The app process, or `command` (a real program on this machine, e.g. `true`) in its place. */
  private spawn (t: FakeTask, command?: string[]): void {
    const app = appContainer(t.td)
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
    for (const e of app.environment ?? []) env[e.name] = e.value
    for (const o of t.overrides.containerOverrides ?? []) {
      if (o.name !== app.name) continue
      for (const e of o.environment ?? []) env[e.name] = e.value
    }
    env.PORT = String(t.port)
    env.HOST = t.ip
    env.ECS_IMAGE = app.image
    const child = command
      ? spawn(command[0], command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, [this.opts.script], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    t.child = child
    live.add(child)
    // A command's container counts as started once its process is: ECS reports RUNNING.
    if (command) {
      child.once('spawn', () => {
        if (t.desiredStatus !== 'RUNNING' || t.lastStatus !== 'PENDING') return
        t.lastStatus = 'RUNNING'
        t.startedAt = Date.now() / 1000
      })
    }
    const keep = (d: Buffer) => {
      t.output.push(...d.toString('utf8').split('\n').filter(Boolean))
      if (t.output.length > 50) t.output.splice(0, t.output.length - 50)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    t.exited = new Promise(resolve => {
      child.once('exit', (code, signal) => {
        live.delete(child)
        const sig = signal ? ({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 } as Record<string, number>)[signal] ?? 1 : 0
        t.exitCode = t.forcedExit?.exitCode ?? (code ?? 128 + sig)
        if (t.forcedExit?.reason) t.containerReason = t.forcedExit.reason
        if (t.desiredStatus === 'RUNNING') {
          // The process ended by itself: the essential container exited, the task stops.
          t.desiredStatus = 'STOPPED'
          t.stoppedReason = 'Essential container in task exited'
          t.stopCode = 'EssentialContainerExited'
          t.stoppingAt = Date.now() / 1000
        }
        this.finish(t)
        resolve()
      })
      child.once('error', err => {
        live.delete(child)
        // What Docker says when the image lacks the command.
        t.containerReason = command && (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? `CannotStartContainerError: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "${command[0]}": executable file not found in $PATH: unknown`
          : `CannotStartContainerError: ${err.message}`
        t.desiredStatus = 'STOPPED'
        t.stopCode = 'TaskFailedToStart'
        t.stoppedReason = 'Task failed to start'
        this.finish(t)
        resolve()
      })
    })
  }

  /** Desired STOPPED and nothing running any more: STOPPING, then STOPPED after a delay. */
  private finish (t: FakeTask): void {
    if (t.lastStatus === 'STOPPED' || t.lastStatus === 'STOPPING') return
    t.lastStatus = 'STOPPING'
    this.after(t, this.opts.delays.stopping, () => {
      t.lastStatus = 'STOPPED'
      t.stoppedAt = Date.now() / 1000
      if (t.eni) t.eni.status = 'DELETED'
    })
  }

  /** StopTask (or a stop from the console, or the platform): SIGTERM, SIGKILL after the grace. */
  stop (t: FakeTask, reason: string, stopCode: string): void {
    if (t.desiredStatus === 'STOPPED') return
    t.desiredStatus = 'STOPPED'
    t.stoppedReason = reason
    t.stopCode = stopCode
    t.stoppingAt = Date.now() / 1000
    const child = t.child
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const kill = setTimeout(() => child.kill('SIGKILL'), this.opts.stopGrace)
      kill.unref()
      child.once('exit', () => clearTimeout(kill))
    }
    // No process yet: the pending timers see desiredStatus STOPPED and finish the task.
  }

  /** The container dies with this exit code (an OOM kill, a crash), not through StopTask. */
  crash (t: FakeTask, exitCode: number, reason?: string): void {
    t.forcedExit = { exitCode, reason }
    if (t.child && t.child.exitCode === null && t.child.signalCode === null) t.child.kill('SIGKILL')
  }

  /** Every task on the instance stops, as when a Spot instance is reclaimed or terminated. */
  reclaim (inst: Instance): FakeTask[] {
    inst.terminated = true
    const hit = [...this.tasks.values()].filter(t => t.instance === inst && t.desiredStatus === 'RUNNING')
    for (const t of hit) this.stop(t, `Host EC2 (instance ${inst.ec2InstanceId}) terminated.`, 'TerminationNotice')
    return hit
  }

  async close (): Promise<void> {
    this.closed = true
    this.pulls.close()
    const waits: Array<Promise<void>> = []
    for (const t of this.tasks.values()) {
      for (const timer of t.timers) clearTimeout(timer)
      t.timers = []
      const child = t.child
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        if (t.exited) waits.push(t.exited)
      }
    }
    await Promise.all(waits)
  }
}

/** The command override of the task's app container, if it has one. */
function commandOf (t: FakeTask): string[] | undefined {
  const name = appContainer(t.td).name
  const cmd = t.overrides.containerOverrides?.find(o => o.name === name)?.command
  return cmd?.length ? cmd : undefined
}

/** The container the fake runs as a process: the first with a port mapping, else the first. */
export function appContainer (td: TaskDef): ContainerDef {
  return td.containerDefinitions.find(c => c.portMappings?.length) ?? td.containerDefinitions[0]
}

export const newRequestId = () => randomUUID()
