// Maps an ECS Task to the lifecycle's TaskStatus: phase, endpoint, the reason it stopped
// in plain words, and its start timestamps (the wake's phases).
import type { Container, Task } from '@aws-sdk/client-ecs'
import type { TaskRef, TaskStatus, TaskTiming } from '../backend.js'

type Endpoint = { host: string, port: number }

/** The app container, or the first one when the task definition names it differently. */
export function appContainer (task: Task, name: string): Container | undefined {
  return task.containers?.find(c => c.name === name) ?? task.containers?.[0]
}

/** awsvpc/Fargate: the task's own ENI address (the app listens on its container port there). */
export function eniAddress (task: Task): string | undefined {
  for (const a of task.attachments ?? []) {
    if (a.type !== 'ElasticNetworkInterface') continue
    const ip = a.details?.find(d => d.name === 'privateIPv4Address')?.value
    if (ip) return ip
  }
  for (const c of task.containers ?? []) {
    const ip = c.networkInterfaces?.find(n => n.privateIpv4Address)?.privateIpv4Address
    if (ip) return ip
  }
  return undefined
}

/** bridge/host: the host port bound to the app's container port (host mode binds it 1:1). */
export function hostPort (task: Task, container: string, port: number): number | undefined {
  const c = appContainer(task, container)
  const b = c?.networkBindings?.find(b => b.containerPort === port && (b.protocol ?? 'tcp') === 'tcp' && b.hostPort)
  return b?.hostPort
}

const STOP_CODES: Record<string, string> = {
  TaskFailedToStart: 'the task failed to start',
  EssentialContainerExited: '', // the stoppedReason says it already
  UserInitiated: 'stopped through the API or the console',
  ServiceSchedulerInitiated: 'an ECS service stopped it',
  SpotInterruption: 'the Spot capacity it ran on was reclaimed',
  TerminationNotice: 'the instance it ran on was terminated'
}

const EXIT_CODES: Record<number, string> = {
  137: 'killed with SIGKILL, often out of memory',
  139: 'segmentation fault',
  143: 'terminated with SIGTERM'
}

/** Why a task stopped, from its stoppedReason, stopCode and its containers' exit codes. */
export function stoppedReason (task: Task, container: string): string {
  const parts: string[] = []
  const code = task.stopCode ? STOP_CODES[task.stopCode] ?? task.stopCode : ''
  parts.push(`ECS task stopped: ${task.stoppedReason ?? 'no reason given'}${code ? ` (${code})` : ''}`)
  // The app's container first, then any other container that failed.
  const app = appContainer(task, container)
  const others = (task.containers ?? []).filter(c => c !== app && ((c.exitCode ?? 0) !== 0 || c.reason))
  for (const c of [app, ...others]) {
    if (!c) continue
    if (c.exitCode !== undefined && c.exitCode !== null) {
      const hint = EXIT_CODES[c.exitCode]
      parts.push(`container ${c.name} exited with code ${c.exitCode}${hint ? ` (${hint})` : ''}${c.reason ? `: ${c.reason}` : ''}`)
    } else if (c.reason) {
      parts.push(`container ${c.name}: ${c.reason}`)
    }
  }
  return parts.join('; ')
}

const PENDING = new Set(['PROVISIONING', 'PENDING', 'ACTIVATING'])

/** The task's own start timestamps (ms), for the wake's phases; undefined when it has none. */
export function taskTiming (task: Task): TaskTiming | undefined {
  const out: TaskTiming = {}
  for (const k of ['createdAt', 'pullStartedAt', 'pullStoppedAt', 'startedAt'] as const) {
    const at = task[k]?.getTime()
    if (at !== undefined && !Number.isNaN(at)) out[k] = at
  }
  return out.createdAt === undefined && out.startedAt === undefined && out.pullStartedAt === undefined ? undefined : out
}

/**
 * @param endpoint the resolved host:port when the task runs (undefined while it is still
 *   unknown, e.g. the container instance's address is being looked up)
 */
export function toStatus (ref: TaskRef, task: Task, container: string, endpoint: Endpoint | undefined): TaskStatus {
  const s = statusOf(ref, task, container, endpoint)
  const timing = taskTiming(task)
  if (timing) s.timing = timing
  return s
}

function statusOf (ref: TaskRef, task: Task, container: string, endpoint: Endpoint | undefined): TaskStatus {
  const last = task.lastStatus ?? 'PENDING'
  // Once ECS wants a task stopped (StopTask, an essential container exited) it is going away.
  if (task.desiredStatus === 'STOPPED' || !(PENDING.has(last) || last === 'RUNNING')) {
    return { ref, phase: 'stopped', reason: stoppedReason(task, container) }
  }
  if (last === 'RUNNING') {
    return endpoint ? { ref, phase: 'running', endpoint } : { ref, phase: 'pending', reason: 'task running; looking up its address' }
  }
  if (task.pullStartedAt && !task.pullStoppedAt) return { ref, phase: 'pulling', reason: 'pulling the container image' }
  if (task.pullStoppedAt) return { ref, phase: 'pending', reason: 'image pulled; starting the container' }
  return { ref, phase: 'pending', reason: last === 'PROVISIONING' ? 'provisioning (network interface, capacity)' : 'pending on a container instance' }
}
